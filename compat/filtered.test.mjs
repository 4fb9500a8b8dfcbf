// 3. Filtered pulls from a Settee source: doc_ids (POST _changes?filter=_doc_ids) and a Mango selector
// (POST _changes?filter=_selector). The target must receive exactly the chosen documents.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  PouchDB, startSettee, tracedRemote, failures, localDb, withTimeout, assertNoUnexpectedFailures, endpointSummary,
} from './helpers.mjs';
import { check } from './fixtures.mjs';
import { snapshot } from './snapshot.mjs';

const cleanups = [];
let remote;
let log;
after(async () => { for (const c of cleanups.reverse()) await c(); });

before(async () => {
  const settee = await startSettee();
  cleanups.push(() => settee.stop());
  ({ db: remote, log } = tracedRemote(`${settee.url}/filtered`));
  const docs = [];
  for (let i = 0; i < 40; i++) {
    docs.push({ _id: `item-${String(i).padStart(2, '0')}`, type: i % 3 === 0 ? 'fruit' : 'veg', n: i, tags: i % 4 ? ['a'] : ['a', 'b'] });
  }
  check(await remote.bulkDocs(docs));
  // Edited and deleted documents among them, so the feed is not just first generations.
  const edited = await remote.get('item-03');
  await remote.put({ ...edited, n: 1003 });
  const veg = await remote.get('item-04');
  await remote.put({ ...veg, type: 'fruit' }); // becomes a fruit in its second revision
  await remote.remove(await remote.get('item-05'));
});

test('doc_ids pulls exactly the named documents', { timeout: 60000 }, async () => {
  const local = localDb('ids');
  cleanups.push(local.cleanup);
  const from = log.length;
  const wanted = ['item-01', 'item-03', 'item-05', 'item-30', 'no-such-doc'];
  const res = await withTimeout(PouchDB.replicate(remote, local, { doc_ids: wanted }), 45000, 'doc_ids pull')
    .catch((e) => assert.fail(`${e.message}\n${failures(log)}`));
  assert.equal(res.ok, true, failures(log));
  const changesCalls = log.slice(from).filter((e) => e.url.includes('/_changes'));
  assert.ok(changesCalls.some((e) => e.method === 'POST' && e.url.includes('filter=_doc_ids')),
    `PouchDB asked ${JSON.stringify(changesCalls)}`);
  assertNoUnexpectedFailures(log, from);
  endpointSummary(log, from);

  const snap = await snapshot(local);
  assert.deepEqual(Object.keys(snap), ['item-01', 'item-03', 'item-05', 'item-30']);
  assert.equal(snap['item-05'].deleted, true, 'a deleted doc named in doc_ids arrives as a tombstone');
  assert.equal((await local.get('item-03')).n, 1003);
  const full = await snapshot(remote);
  for (const id of Object.keys(snap)) assert.deepEqual(snap[id].leaves, full[id].leaves, id);
});

// express-pouchdb (inside pouchdb-server 4.2) answers POST _changes?filter=_selector with 404.
const noSelector = process.env.COMPAT_SERVER === 'pouchdb-server' && 'pouchdb-server 4.2 has no _selector filter';

test('a selector pulls exactly the matching documents', { timeout: 60000, skip: noSelector }, async () => {
  const local = localDb('selector');
  cleanups.push(local.cleanup);
  const from = log.length;
  const selector = { type: 'fruit', n: { $gte: 3 } };
  const res = await withTimeout(PouchDB.replicate(remote, local, { selector }), 45000, 'selector pull')
    .catch((e) => assert.fail(`${e.message}\n${failures(log)}`));
  assert.equal(res.ok, true, failures(log));
  const changesCalls = log.slice(from).filter((e) => e.url.includes('/_changes'));
  assert.ok(changesCalls.some((e) => e.method === 'POST' && e.url.includes('filter=_selector')),
    `PouchDB asked ${JSON.stringify(changesCalls)}`);

  assertNoUnexpectedFailures(log, from);
  endpointSummary(log, from);

  const got = (await local.allDocs({ include_docs: true })).rows.map((r) => r.doc);
  const expected = (await remote.allDocs({ include_docs: true })).rows.map((r) => r.doc)
    .filter((d) => d.type === 'fruit' && d.n >= 3);
  assert.ok(expected.length >= 10, 'the fixture has matching docs');
  assert.deepEqual(got.map((d) => d._id), expected.map((d) => d._id));
  assert.ok(got.some((d) => d._id === 'item-04'), 'a doc that matches only in its latest revision is included');
  assert.deepEqual(got, expected, 'bodies and revs are the source\'s');
  assert.equal(res.docs_written, expected.length, 'nothing outside the selector was written');
});
