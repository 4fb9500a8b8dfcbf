// 1. PouchDB pushes a local database (updates, deletions, conflicts made on both sides, attachments, design
// and _local docs) into a Settee node, then a fresh PouchDB pulls it out, and the Settee-side branches
// are pulled back into the source: all three must then hold the same revision trees, winners,
// conflicts and attachment digests, and the _local doc must have stayed home.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  PouchDB, startSettee, tracedRemote, failures, localDb, md5Digest, http, withTimeout, assertNoUnexpectedFailures,
  endpointSummary,
} from './helpers.mjs';
import { populate, branch, check, SMALL_TEXT } from './fixtures.mjs';
import { snapshot, withoutStatuses, assertSameDatabase } from './snapshot.mjs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

test('PouchDB -> Settee -> fresh PouchDB keeps trees, winners, conflicts and attachments', { timeout: 180000 }, async () => {
  const settee = await startSettee();
  cleanups.push(() => settee.stop());
  const source = localDb('source');
  const out = localDb('out');
  cleanups.push(source.cleanup, out.cleanup);
  const { db: remote, log } = tracedRemote(`${settee.url}/roundtrip`);

  const { big } = await populate(source);
  // Conflicts made on both sides: the same doc gets a different second revision here and on Settee,
  // and Settee gets a conflicted doc of its own.
  check(await source.bulkDocs([branch('shared', ['s', 'u'], { side: 'pouch' })], { new_edits: false }));
  check(await remote.bulkDocs([
    branch('shared', ['s', 't'], { side: 'settee' }),
    branch('remote-conflict', ['r', 'r1'], { side: 'r1' }),
    branch('remote-conflict', ['r', 'r2'], { side: 'r2' }, { _deleted: true }),
  ], { new_edits: false }));

  const push = await withTimeout(PouchDB.replicate(source, remote), 120000, 'push into Settee')
    .catch((e) => assert.fail(`push failed: ${e.message}\n${failures(log)}`));
  assert.equal(push.ok, true, failures(log));
  assert.equal(push.doc_write_failures, 0, failures(log));

  const pull = await withTimeout(PouchDB.replicate(remote, out), 120000, 'pull out of Settee')
    .catch((e) => assert.fail(`pull failed: ${e.message}\n${failures(log)}`));
  assert.equal(pull.ok, true, failures(log));
  assert.equal(pull.doc_write_failures, 0, failures(log));
  const back = await withTimeout(PouchDB.replicate(remote, source), 120000, 'pull back into the source');
  assert.equal(back.ok, true, failures(log));
  assertNoUnexpectedFailures(log);
  const calls = endpointSummary(log);
  for (const ep of ['POST /_revs_diff 200', 'POST /_bulk_docs 201', 'POST /_bulk_get 200', 'GET /_changes 200']) {
    assert.ok(calls[ep] > 0, `PouchDB used ${ep}: ${JSON.stringify(calls)}`);
  }

  const sSource = await snapshot(source);
  const sSettee = await snapshot(remote);
  const sOut = await snapshot(out);

  // The fixture's shape, so the comparison below cannot pass on three empty databases.
  assert.equal(Object.keys(sSource).length, 39);
  assert.deepEqual(sSettee.conflicted.leaves.map((l) => l.deleted), [false, true]);
  assert.deepEqual(sSettee.conflicted.conflicts, []);
  assert.ok(sSettee.conflicted.winner.startsWith('2-'));
  assert.equal(sSettee.conflicted2.conflicts.length, 1);
  assert.equal(sSettee.shared.conflicts.length, 1, 'the branches made on each side meet on Settee');
  assert.equal(sSettee['all-deleted'].deleted, true);
  assert.equal(sSettee.d10.deleted, true);
  assert.ok(sSettee.d15.winner.startsWith('3-'), 'a doc re-created after deletion extends its tombstone');
  assert.equal(sSettee['att-big'].leaves[0].attachments['blob.bin'].digest, md5Digest(big));
  assert.equal(sSettee['att-small'].leaves[0].attachments['hello.txt'].digest, md5Digest(Buffer.from(SMALL_TEXT)));

  assertSameDatabase(sSettee, sOut, 'Settee vs the PouchDB that pulled from it');
  assertSameDatabase(withoutStatuses(sSettee), withoutStatuses(sSource), 'Settee vs the source PouchDB');

  // Attachment bytes, not only digests, came through both hops.
  const blob = await out.getAttachment('att-big', 'blob.bin');
  assert.ok(Buffer.compare(Buffer.from(blob), big) === 0, 'the 3 MB attachment arrived byte for byte');
  const raw = await http('GET', `${settee.url}/roundtrip/att-small/hello.txt`);
  assert.equal(raw.status, 200);
  assert.equal(raw.text, SMALL_TEXT);

  if (process.env.COMPAT_SERVER !== 'pouchdb-server') {
    const dc = await http('GET', `${settee.url}/roundtrip/conflicted?deleted_conflicts=true&conflicts=true`);
    assert.equal(dc.status, 200, dc.text);
    assert.deepEqual(dc.json._deleted_conflicts, [sSettee.conflicted.leaves[1].rev]);
    assert.equal(dc.json._conflicts, undefined);
  }

  // _local docs stay where they were written.
  assert.equal((await source.get('_local/secret')).note, 'must not travel');
  assert.equal((await http('GET', `${settee.url}/roundtrip/_local/secret`)).status, 404);
  await assert.rejects(out.get('_local/secret'), (e) => e.status === 404);
  // The design doc travelled and is served by its path.
  const ddoc = await http('GET', `${settee.url}/roundtrip/_design/app`);
  assert.equal(ddoc.status, 200, ddoc.text);
  assert.equal(ddoc.json.views.byType.map, 'function (doc) { emit(doc.type); }');
});
