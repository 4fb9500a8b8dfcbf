// 2. PouchDB.sync with a Settee node: one-shot in both directions (with a conflict made by concurrent
// edits on each side), then live: a write on either side arrives on the other within a bounded time,
// and cancelling ends the replication cleanly.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  PouchDB, startSettee, tracedRemote, failures, localDb, http, withTimeout, waitFor, assertNoUnexpectedFailures,
  endpointSummary,
} from './helpers.mjs';
import { check } from './fixtures.mjs';
import { snapshot, withoutStatuses, assertSameDatabase } from './snapshot.mjs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

async function setup(name) {
  const settee = await startSettee();
  cleanups.push(() => settee.stop());
  const local = localDb(name);
  cleanups.push(local.cleanup);
  const { db: remote, log } = tracedRemote(`${settee.url}/${name}`);
  return { settee, local, remote, log };
}

test('one-shot sync both ways merges both sides and their conflict', { timeout: 120000 }, async () => {
  const { local, remote, log } = await setup('sync');
  check(await local.bulkDocs(Array.from({ length: 10 }, (_, i) => ({ _id: `local-${i}`, n: i }))));
  check(await remote.bulkDocs(Array.from({ length: 10 }, (_, i) => ({ _id: `remote-${i}`, n: i }))));
  await local.put({ _id: 'both', v: 0 });
  await remote.put({ _id: 'gone', v: 0 });

  const first = await withTimeout(PouchDB.sync(local, remote), 60000, 'first sync')
    .catch((e) => assert.fail(`sync failed: ${e.message}\n${failures(log)}`));
  assert.equal(first.push.ok, true, failures(log));
  assert.equal(first.pull.ok, true, failures(log));
  assert.equal(first.push.docs_written, 11);
  assert.equal(first.pull.docs_written, 11);

  // Concurrent edits of the same revision on each side, and a deletion on one.
  const l = await local.get('both');
  const r = await remote.get('both');
  assert.equal(l._rev, r._rev);
  await local.put({ ...l, v: 'local' });
  await remote.put({ ...r, v: 'remote' });
  await local.remove(await local.get('gone'));

  const second = await withTimeout(PouchDB.sync(local, remote), 60000, 'second sync');
  assert.equal(second.push.ok && second.pull.ok, true, failures(log));
  assertNoUnexpectedFailures(log);
  endpointSummary(log);

  const sLocal = await snapshot(local);
  const sRemote = await snapshot(remote);
  assertSameDatabase(withoutStatuses(sRemote), withoutStatuses(sLocal), 'after sync');
  assert.equal(Object.keys(sRemote).length, 22);
  assert.equal(sRemote.both.leaves.length, 2, 'the concurrent edits are two branches');
  assert.equal(sRemote.both.conflicts.length, 1);
  assert.equal(sRemote.gone.deleted, true);
});

test('live sync carries writes both ways within seconds and cancels cleanly', { timeout: 120000 }, async () => {
  const { settee, local, remote, log } = await setup('live');
  await local.put({ _id: 'seed' });
  const sync = PouchDB.sync(local, remote, { live: true, retry: false });
  const errors = [];
  sync.on('error', (e) => errors.push(e));
  const completed = new Promise((resolve) => sync.on('complete', resolve));
  const probe = new PouchDB(`${settee.url}/live`); // untraced: its 404s while polling are ours, not PouchDB's
  try {
    await waitFor(() => probe.get('seed').then(() => true, () => false), 20000, 'seed to reach Settee');

    await local.put({ _id: 'from-local', v: 1 });
    await waitFor(() => probe.get('from-local').then((d) => d.v === 1, () => false), 20000,
      'a local write to reach Settee');

    // Written straight over HTTP, so it reaches PouchDB only through the live pull (a waiting _changes).
    const put = await http('PUT', `${settee.url}/live/from-settee`, { v: 2 });
    assert.equal(put.status, 201, put.text);
    await waitFor(() => local.get('from-settee').then((d) => d.v === 2, () => false), 20000,
      'a Settee write to reach PouchDB');

    const doc = await local.get('from-settee');
    await local.put({ ...doc, v: 3 });
    await waitFor(async () => (await http('GET', `${settee.url}/live/from-settee`)).json?.v === 3, 20000,
      'an update of a pulled doc to go back');
    const del = await http('DELETE', `${settee.url}/live/from-local?rev=${(await probe.get('from-local'))._rev}`);
    assert.equal(del.status, 200, del.text);
    await waitFor(() => local.get('from-local').then(() => false, (e) => e.status === 404), 20000,
      'a deletion on Settee to reach PouchDB');
    assert.deepEqual(errors, [], failures(log));
  } finally {
    sync.cancel();
  }
  await withTimeout(completed, 15000, 'live sync to complete after cancel()');
  assert.deepEqual(errors, [], failures(log));
  // Cancelling aborts the waiting long-poll, so its entry may have no status; everything else succeeded.
  assertNoUnexpectedFailures(log.filter((e) => e.status !== undefined));
  const longpolls = log.filter((e) => e.url.includes('/_changes') && e.url.includes('feed=longpoll'));
  assert.ok(longpolls.length > 0, 'the live pull waited on feed=longpoll');
  endpointSummary(log);
  assertSameDatabase(withoutStatuses(await snapshot(remote)), withoutStatuses(await snapshot(local)), 'after live sync');
});
