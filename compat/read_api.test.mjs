// The read API PouchDB's attachment round trips stand on, with real PouchDB against a live Settee node:
// allDocs and changes with include_docs + attachments (base64 and binary), allDocs by keys, and
// replication of documents with attachments from the node into a local (memory) PouchDB and back.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  PouchDB, startSettee, tracedRemote, failures, localDb, md5Digest, pseudoRandomBytes, http, withTimeout,
  assertNoUnexpectedFailures,
} from './helpers.mjs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

const TEXT = Buffer.from('hello, attachments');
const BINARY = pseudoRandomBytes(96 * 1024, 7);

async function node() {
  const settee = await startSettee();
  cleanups.push(() => settee.stop());
  return settee;
}

// Three documents with attachments (one text, one binary of 96 KB, one design doc) and one without.
async function populate(db) {
  const docs = [
    { _id: 'a', n: 1, _attachments: { 'hello.txt': { content_type: 'text/plain', data: TEXT.toString('base64') } } },
    { _id: 'b', n: 2, _attachments: { 'blob.bin': { content_type: 'application/octet-stream', data: BINARY.toString('base64') } } },
    { _id: 'c', n: 3 },
    { _id: '_design/app', _attachments: { 'lib.js': { content_type: 'application/javascript', data: Buffer.from('var x;').toString('base64') } } },
  ];
  for (const r of await db.bulkDocs(docs)) assert.ok(r.ok, JSON.stringify(r));
}

test('allDocs({include_docs, attachments}) carries every body, as base64 and as binary', { timeout: 60000 }, async () => {
  const settee = await node();
  const { db: remote, log } = tracedRemote(`${settee.url}/alldocs`);
  await remote.info();
  await populate(remote);

  const b64 = await remote.allDocs({ include_docs: true, attachments: true });
  assert.deepEqual(b64.rows.map((r) => r.id), ['_design/app', 'a', 'b', 'c']);
  const byId = Object.fromEntries(b64.rows.map((r) => [r.id, r.doc]));
  assert.equal(byId.a._attachments['hello.txt'].data, TEXT.toString('base64'));
  assert.equal(byId.b._attachments['blob.bin'].data, BINARY.toString('base64'));
  assert.equal(byId.c._attachments, undefined);

  const bin = await remote.allDocs({ include_docs: true, attachments: true, binary: true });
  const binById = Object.fromEntries(bin.rows.map((r) => [r.id, r.doc]));
  assert.ok(Buffer.isBuffer(binById.b._attachments['blob.bin'].data), 'binary: true gives Buffers');
  assert.ok(binById.b._attachments['blob.bin'].data.equals(BINARY));
  assert.ok(binById.a._attachments['hello.txt'].data.equals(TEXT));
  assert.equal(binById.b._attachments['blob.bin'].digest, md5Digest(BINARY));

  const keyed = await remote.allDocs({ keys: ['b', 'nope', 'a'], include_docs: true, attachments: true, binary: true });
  assert.deepEqual(keyed.rows.map((r) => r.key), ['b', 'nope', 'a']);
  assert.equal(keyed.rows[1].error, 'not_found');
  assert.ok(keyed.rows[0].doc._attachments['blob.bin'].data.equals(BINARY));

  // Without attachments: stubs, as before.
  const stubs = await remote.allDocs({ include_docs: true });
  assert.equal(stubs.rows.find((r) => r.id === 'b').doc._attachments['blob.bin'].stub, true);

  // Design documents only, by range and by keys.
  const design = await http('GET', `${settee.url}/alldocs/_design_docs?include_docs=true&attachments=true`);
  assert.equal(design.status, 200);
  assert.equal(design.json.rows[0].doc._attachments['lib.js'].data, Buffer.from('var x;').toString('base64'));
  const designKeys = await http('POST', `${settee.url}/alldocs/_design_docs`, { keys: ['_design/app'] });
  assert.deepEqual(designKeys.json.rows.map((r) => r.id), ['_design/app']);
  assertNoUnexpectedFailures(log);
});

test('changes({include_docs, attachments}) carries every body, normal and live', { timeout: 60000 }, async () => {
  const settee = await node();
  const { db: remote, log } = tracedRemote(`${settee.url}/changes`);
  await remote.info();
  await populate(remote);

  const normal = await remote.changes({ include_docs: true, attachments: true });
  const docs = Object.fromEntries(normal.results.map((r) => [r.id, r.doc]));
  assert.equal(docs.b._attachments['blob.bin'].data, BINARY.toString('base64'));
  assert.equal(docs.a._attachments['hello.txt'].data, TEXT.toString('base64'));

  const binary = await remote.changes({ include_docs: true, attachments: true, binary: true });
  const bin = binary.results.find((r) => r.id === 'b').doc._attachments['blob.bin'].data;
  assert.ok(Buffer.isBuffer(bin) && bin.equals(BINARY));

  // A live feed (longpoll underneath) sees a new document's attachment body.
  const seen = new Promise((resolve, reject) => {
    const feed = remote.changes({ live: true, since: 'now', include_docs: true, attachments: true })
      .on('change', (c) => { if (c.id === 'late') { feed.cancel(); resolve(c.doc); } })
      .on('error', reject);
  });
  await remote.put({ _id: 'late', _attachments: { 'x.txt': { content_type: 'text/plain', data: TEXT.toString('base64') } } });
  const late = await withTimeout(seen, 20000, 'the live change of "late"');
  assert.equal(late._attachments['x.txt'].data, TEXT.toString('base64'));
  assertNoUnexpectedFailures(log);
});

test('documents with attachments replicate from the node into a memory PouchDB and back', { timeout: 120000 }, async () => {
  const settee = await node();
  const { db: remote, log } = tracedRemote(`${settee.url}/source`);
  await remote.info();
  await populate(remote);
  const local = localDb('readapi', { adapter: 'memory' });
  cleanups.push(local.cleanup);

  const pull = await withTimeout(PouchDB.replicate(remote, local), 60000, 'pull into PouchDB')
    .catch((e) => assert.fail(`pull failed: ${e.message}\n${failures(log)}`));
  assert.equal(pull.doc_write_failures, 0, failures(log));
  assert.ok((await local.getAttachment('b', 'blob.bin')).equals(BINARY));
  assert.ok((await local.getAttachment('a', 'hello.txt')).equals(TEXT));
  assert.ok((await local.getAttachment('_design/app', 'lib.js')).equals(Buffer.from('var x;')));

  // Edited on the PouchDB side: a new attachment on one document, a changed one on another.
  const more = pseudoRandomBytes(40 * 1024, 99);
  const a = await local.get('a');
  await local.putAttachment('a', 'more.bin', a._rev, more.toString('base64'), 'application/octet-stream');
  const b = await local.get('b');
  await local.putAttachment('b', 'blob.bin', b._rev, TEXT.toString('base64'), 'text/plain');

  const push = await withTimeout(PouchDB.replicate(local, remote), 60000, 'push back into Settee')
    .catch((e) => assert.fail(`push failed: ${e.message}\n${failures(log)}`));
  assert.equal(push.doc_write_failures, 0, failures(log));
  const got = await http('GET', `${settee.url}/source/a/more.bin`);
  assert.equal(got.status, 200);
  const back = await remote.allDocs({ include_docs: true, attachments: true, binary: true, keys: ['a', 'b'] });
  assert.ok(back.rows[0].doc._attachments['more.bin'].data.equals(more));
  assert.ok(back.rows[0].doc._attachments['hello.txt'].data.equals(TEXT));
  assert.ok(back.rows[1].doc._attachments['blob.bin'].data.equals(TEXT));
  assert.equal(back.rows[0].doc._attachments['more.bin'].digest, md5Digest(more));
  // Both sides now hold the same winners.
  const mine = await local.allDocs();
  const theirs = await remote.allDocs();
  assert.deepEqual(theirs.rows.map((r) => [r.id, r.value.rev]), mine.rows.map((r) => [r.id, r.value.rev]));
  assertNoUnexpectedFailures(log);
});

test('_all_docs/queries and /_dbs_info answer as CouchDB does', { timeout: 60000 }, async () => {
  const settee = await node();
  const { db: remote } = tracedRemote(`${settee.url}/multi`);
  await remote.info();
  await populate(remote);
  const q = await http('POST', `${settee.url}/multi/_all_docs/queries`,
    { queries: [{ keys: ['a', 'zz'] }, { limit: 2, skip: 1 }, { include_docs: true, attachments: true, key: 'a' }] });
  assert.equal(q.status, 200);
  assert.equal(q.json.results.length, 3);
  assert.equal(q.json.results[0].offset, null);
  assert.deepEqual(q.json.results[0].rows.map((r) => r.error ?? r.id), ['a', 'not_found']);
  assert.deepEqual(q.json.results[1].rows.map((r) => r.id), ['a', 'b']);
  assert.equal(q.json.results[1].offset, 1);
  assert.equal(q.json.results[2].rows[0].doc._attachments['hello.txt'].data, TEXT.toString('base64'));
  const info = await http('POST', `${settee.url}/_dbs_info`, { keys: ['multi', 'nope'] });
  assert.equal(info.status, 200);
  assert.equal(info.json[0].info.doc_count, 4);
  assert.deepEqual(info.json[1], { key: 'nope', error: 'not_found' });
});
