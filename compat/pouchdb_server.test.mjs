// 4. Two HTTP endpoints: PouchDB replicates pouchdb-server -> Settee and Settee -> (another database on)
// pouchdb-server. All three must then hold the same documents, trees, conflicts and attachments.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  PouchDB, startSettee, startPouchServer, tracedRemote, failures, withTimeout, md5Digest, assertNoUnexpectedFailures,
  endpointSummary,
} from './helpers.mjs';
import { populate, branch, check } from './fixtures.mjs';
import { snapshot, withoutStatuses, assertSameDatabase } from './snapshot.mjs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

test('pouchdb-server -> Settee -> pouchdb-server keeps everything', { timeout: 180000 }, async () => {
  const [settee, pserver] = await Promise.all([startSettee(), startPouchServer()]);
  cleanups.push(() => settee.stop(), () => pserver.stop());

  const origin = new PouchDB(`${pserver.url}/origin`);
  const { big } = await populate(origin, { bigBytes: 512 * 1024 });
  check(await origin.bulkDocs([branch('shared', ['s', 'u'], { side: 'pouchdb-server' })], { new_edits: false }));
  const { db: middle, log } = tracedRemote(`${settee.url}/middle`);
  check(await middle.bulkDocs([branch('shared', ['s', 't'], { side: 'settee' })], { new_edits: false }));

  // Given as URLs, as a user would: PouchDB makes both ends HTTP databases.
  const inbound = await withTimeout(PouchDB.replicate(`${pserver.url}/origin`, middle), 120000, 'pouchdb-server -> Settee')
    .catch((e) => assert.fail(`${e.message}\n${failures(log)}`));
  assert.equal(inbound.ok, true, failures(log));
  assert.equal(inbound.doc_write_failures, 0, failures(log));
  const outbound = await withTimeout(PouchDB.replicate(middle, `${pserver.url}/copy`), 120000, 'Settee -> pouchdb-server')
    .catch((e) => assert.fail(`${e.message}\n${failures(log)}`));
  assert.equal(outbound.ok, true, failures(log));
  assert.equal(outbound.doc_write_failures, 0, failures(log));

  assertNoUnexpectedFailures(log);
  endpointSummary(log);

  const copy = new PouchDB(`${pserver.url}/copy`);
  const sOrigin = await snapshot(origin);
  const sMiddle = await snapshot(middle);
  const sCopy = await snapshot(copy);
  assert.equal(Object.keys(sMiddle).length, 38);
  assert.equal(sMiddle.shared.leaves.length, 2);
  assert.equal(sMiddle['att-big'].leaves[0].attachments['blob.bin'].digest, md5Digest(big));
  assertSameDatabase(sCopy, sMiddle, 'the pouchdb-server copy vs Settee');
  // The origin lacks only Settee's own branch of "shared".
  delete sMiddle.shared;
  delete sOrigin.shared;
  assertSameDatabase(withoutStatuses(sMiddle), withoutStatuses(sOrigin), 'Settee vs the pouchdb-server origin');
  const blob = await copy.getAttachment('att-big', 'blob.bin');
  assert.equal(Buffer.compare(Buffer.from(blob), big), 0);
});
