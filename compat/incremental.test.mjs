// 5. A second replication after a few edits is incremental: PouchDB finds its checkpoint in _local on
// both sides and reads only the new changes, pushing into Settee and pulling from it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  PouchDB, startSettee, tracedRemote, failures, localDb, http, withTimeout, assertNoUnexpectedFailures,
} from './helpers.mjs';
import { check } from './fixtures.mjs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

// The _local checkpoint PouchDB wrote on the server during the requests logged from index `from` on.
function checkpointPath(log, from) {
  const puts = log.slice(from).filter((e) => e.method === 'PUT' && /\/_local\//.test(e.url));
  assert.ok(puts.length > 0, `no checkpoint PUT to _local in ${JSON.stringify(log.slice(from).map((e) => `${e.method} ${e.url}`))}`);
  assert.deepEqual(puts.filter((e) => e.status !== 201), [], 'every checkpoint write succeeded');
  return puts.at(-1).url.split('?')[0];
}

async function edit(db) {
  for (const id of ['doc-01', 'doc-02', 'doc-03']) {
    const d = await db.get(id);
    await db.put({ ...d, edited: true });
  }
  await db.remove(await db.get('doc-04'));
  check(await db.bulkDocs([{ _id: 'new-1' }, { _id: 'new-2' }]));
}

test('pushing into Settee again reads only the new changes', { timeout: 90000 }, async () => {
  const settee = await startSettee();
  cleanups.push(() => settee.stop());
  const local = localDb('push');
  cleanups.push(local.cleanup);
  const { db: remote, log } = tracedRemote(`${settee.url}/incr-push`);
  check(await local.bulkDocs(Array.from({ length: 40 }, (_, i) => ({ _id: `doc-${String(i).padStart(2, '0')}`, n: i }))));

  const first = await withTimeout(PouchDB.replicate(local, remote), 60000, 'first push')
    .catch((e) => assert.fail(`${e.message}\n${failures(log)}`));
  assert.equal(first.docs_read, 40, failures(log));
  assert.equal(first.docs_written, 40);
  const path = checkpointPath(log, 0);
  const onSettee = await http('GET', `${settee.url}${path}`);
  assert.equal(onSettee.status, 200, onSettee.text);
  assert.equal(onSettee.json.last_seq, first.last_seq, 'the checkpoint on Settee holds the last seq');
  assert.match(onSettee.json._rev, /^0-\d+$/, '_local revs are 0-N');
  const id = decodeURIComponent(path.split('/_local/')[1]);
  assert.equal((await local.get(`_local/${id}`)).last_seq, first.last_seq, 'the checkpoint is on the source too');

  await edit(local);
  const from = log.length;
  const second = await withTimeout(PouchDB.replicate(local, remote), 60000, 'second push');
  assert.equal(second.ok, true, failures(log));
  assert.equal(second.docs_read, 6, 'only the 6 changed documents were read');
  assert.equal(second.docs_written, 6);
  assert.equal(checkpointPath(log, from), path, 'the same replication id, so the same checkpoint doc');
  assertNoUnexpectedFailures(log);
  const after2 = await http('GET', `${settee.url}${path}`);
  assert.equal(after2.json.last_seq, second.last_seq);
  assert.equal((await remote.get('doc-01')).edited, true);
  await assert.rejects(remote.get('doc-04'), (e) => e.status === 404);
});

test('pulling from Settee again reads only the new changes', { timeout: 90000 }, async () => {
  const settee = await startSettee();
  cleanups.push(() => settee.stop());
  const local = localDb('pull');
  cleanups.push(local.cleanup);
  const { db: remote, log } = tracedRemote(`${settee.url}/incr-pull`);
  check(await remote.bulkDocs(Array.from({ length: 250 }, (_, i) => ({ _id: `doc-${String(i).padStart(2, '0')}`, n: i }))));

  const first = await withTimeout(PouchDB.replicate(remote, local), 60000, 'first pull')
    .catch((e) => assert.fail(`${e.message}\n${failures(log)}`));
  assert.equal(first.docs_read, 250, failures(log));
  assert.equal(first.docs_written, 250);
  const path = checkpointPath(log, 0);
  const onSettee = await http('GET', `${settee.url}${path}`);
  assert.equal(onSettee.status, 200, onSettee.text);
  assert.deepEqual(onSettee.json.last_seq, first.last_seq, 'the checkpoint on Settee (the source) holds the last seq');
  const id = decodeURIComponent(path.split('/_local/')[1]);
  assert.deepEqual((await local.get(`_local/${id}`)).last_seq, first.last_seq);

  await edit(remote);
  const from = log.length;
  const second = await withTimeout(PouchDB.replicate(remote, local), 60000, 'second pull');
  assert.equal(second.ok, true, failures(log));
  assert.equal(second.docs_read, 6, 'only the 6 changed documents were read');
  assert.equal(second.docs_written, 6);
  const changes = log.slice(from).filter((e) => e.url.includes('/_changes'));
  assert.ok(changes.length > 0);
  assertNoUnexpectedFailures(log);
  const since = new URL(changes[0].url, 'http://x').searchParams.get('since');
  assert.equal(since, JSON.stringify(first.last_seq).replace(/^"|"$/g, ''), 'the second pull starts at the checkpoint');
  assert.equal((await local.get('doc-01')).edited, true);
  await assert.rejects(local.get('doc-04'), (e) => e.status === 404);
});
