// `settee sync --policy` against real peers (pouchdb-server and a Settee node), for each conflict policy
// of settee/conflict.h: keep, lww:updated_at, merge, merge:lww:updated_at.
//
// A device (sync_support.mjs: a data directory edited offline through a `settee serve` that is stopped
// before `settee sync` runs) and a peer share a common base, are edited apart (the same field on both
// sides, different fields, one side only, a deletion against an edit), then `settee sync` reconnects them.
// On the device and on the peer the test checks every revision tree (open_revs=all with paths, revs_info,
// by snapshot.mjs), the winner, the winning body as the policy says, live conflicts kept for keep (and for
// merge when a field changed on both sides) and none left for lww and merge:lww, and the losing leaves
// deleted. Another round changes nothing (update_seq stays).
//
// Then resolutions race: two devices edit the same documents offline and reconnect at the same time
// through one peer; both resolve the same conflicts with the same policy, and all three must end with the
// same trees without ping-pong: the peer's update_seq stays put while both syncs keep running.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PouchDB, http, sleep, startPouchServer, startSettee, waitFor } from './helpers.mjs';
import { snapshot, withoutStatuses, assertSameDatabase } from './snapshot.mjs';
import { Device, bulkWrite, updateSeq } from './sync_support.mjs';

const POLICIES = ['keep', 'lww:updated_at', 'merge', 'merge:lww:updated_at'];
const T0 = '2026-01-01T00:00:00.000Z';
const T1 = '2026-01-01T01:00:00.000Z';
const T2 = '2026-01-01T02:00:00.000Z';

const peers = {};
const cleanups = [];
before(async () => {
  peers['pouchdb-server'] = await startPouchServer();
  cleanups.push(() => peers['pouchdb-server'].stop());
  peers.settee = await startSettee();
  cleanups.push(() => peers.settee.stop());
});
after(async () => { for (const c of cleanups.reverse()) await c(); });

let dbCounter = 0;
async function peerDb(kind) {
  const url = `${peers[kind].url}/shared-${++dbCounter}`;
  assert.equal((await http('PUT', url)).status, 201);
  return url;
}

// The common base and the edits each side makes while apart. null = delete.
const BASE = {
  fields: { title: 'base', body: 'base', updated_at: T0 },
  'dev-later': { title: 'base', body: 'base', updated_at: T0 },
  'peer-later': { title: 'base', body: 'base', updated_at: T0 },
  'dev-only': { title: 'base', body: 'base', updated_at: T0 },
  'peer-only': { title: 'base', body: 'base', updated_at: T0 },
  'dev-deleted': { title: 'base', body: 'base', updated_at: T0 },
  untouched: { title: 'base', body: 'base', updated_at: T0 },
};
const DEVICE_EDITS = {
  fields: { title: 'device' },
  'dev-later': { title: 'device', updated_at: T2 },
  'peer-later': { title: 'device', updated_at: T1 },
  'dev-only': { title: 'device', updated_at: T1 },
  'dev-deleted': null,
};
const PEER_EDITS = {
  fields: { body: 'peer' },
  'dev-later': { title: 'peer', updated_at: T1 },
  'peer-later': { title: 'peer', updated_at: T2 },
  'peer-only': { body: 'peer', updated_at: T1 },
  'dev-deleted': { body: 'peer' },
};

// Applies `edits` to the documents of `dbUrl` (one PUT or DELETE each); returns id -> new rev.
async function applyEdits(dbUrl, edits) {
  const revs = new Map();
  for (const [id, change] of Object.entries(edits)) {
    const cur = await http('GET', `${dbUrl}/${id}`);
    assert.equal(cur.status, 200, `${id}: ${cur.text}`);
    const res = change === null
      ? await http('DELETE', `${dbUrl}/${id}?rev=${cur.json._rev}`)
      : await http('PUT', `${dbUrl}/${id}`, { ...cur.json, ...change });
    assert.ok(res.status === 200 || res.status === 201, `${id}: ${res.text}`);
    revs.set(id, res.json.rev);
  }
  return revs;
}

// CouchDB's winner between two live leaves of one generation: the greater revision id.
const couchWinner = (a, b) => {
  const [ga, ha] = a.split('-');
  const [gb, hb] = b.split('-');
  if (Number(ga) !== Number(gb)) return Number(ga) > Number(gb) ? a : b;
  return ha > hb ? a : b;
};
const revHash = (rev) => rev.slice(rev.indexOf('-') + 1);

// What the policy must leave for document `id`, given the device's and the peer's edit revisions:
// { conflicted, body, winner (exact rev) | parent (the winner is a child of it) }.
function expected(policy, id, devRev, peerRev) {
  const base = BASE[id];
  const dev = { ...base, ...DEVICE_EDITS[id] };
  const peer = { ...base, ...PEER_EDITS[id] };
  if (!(id in DEVICE_EDITS) && !(id in PEER_EDITS)) return { conflicted: false, body: base };
  if (!(id in PEER_EDITS)) return { conflicted: false, body: dev, winner: devRev };
  if (!(id in DEVICE_EDITS) || DEVICE_EDITS[id] === null) return { conflicted: false, body: peer, winner: peerRev };
  const cw = couchWinner(devRev, peerRev);
  const cwBody = cw === devRev ? dev : peer;
  const later = id === 'dev-later' ? { rev: devRev, body: dev } : { rev: peerRev, body: peer };
  const bothChanged = id !== 'fields';
  switch (policy) {
    case 'keep':
      return { conflicted: true, body: cwBody, winner: cw, loser: cw === devRev ? peerRev : devRev };
    case 'lww:updated_at':
      // `fields`: both leaves carry the base's updated_at, a tie: CouchDB's winner stays.
      return bothChanged ? { conflicted: false, body: later.body, winner: later.rev }
        : { conflicted: false, body: cwBody, winner: cw };
    case 'merge':
      return bothChanged ? { conflicted: true, body: cwBody, winner: cw, loser: cw === devRev ? peerRev : devRev }
        : { conflicted: false, body: { ...base, title: 'device', body: 'peer' }, parent: cw };
    case 'merge:lww:updated_at':
      return bothChanged ? { conflicted: false, body: later.body, descendsFrom: [devRev, peerRev] }
        : { conflicted: false, body: { ...base, title: 'device', body: 'peer' }, parent: cw };
    default:
      throw new Error(policy);
  }
}

// Checks one side's snapshot against what the policy must leave.
function checkSide(side, snap, policy, devRevs, peerRevs) {
  for (const id of Object.keys(BASE)) {
    const e = expected(policy, id, devRevs.get(id), peerRevs.get(id));
    const doc = snap[id];
    const where = `${side}, ${policy}, ${id}: ${JSON.stringify(doc)}`;
    assert.ok(doc, `${where}: missing`);
    assert.equal(doc.deleted, false, `${where}: the winner is live`);
    const winnerLeaf = doc.leaves.find((l) => l.rev === doc.winner);
    assert.deepEqual(winnerLeaf.body, e.body, `${where}: the winning body`);
    if (e.winner) assert.equal(doc.winner, e.winner, `${where}: the winning revision`);
    if (e.parent) {
      assert.equal(winnerLeaf.revisions.ids[1], revHash(e.parent), `${where}: the resolution extends CouchDB's winner`);
    }
    if (e.descendsFrom) {
      assert.ok(e.descendsFrom.some((r) => winnerLeaf.revisions.ids.includes(revHash(r))),
        `${where}: the winner descends from one of the edits`);
    }
    if (e.conflicted) {
      assert.deepEqual(doc.conflicts, [e.loser], `${where}: the conflict is kept`);
      assert.equal(doc.leaves.filter((l) => !l.deleted).length, 2, `${where}: two live leaves`);
    } else {
      assert.deepEqual(doc.conflicts, [], `${where}: no live conflict`);
      assert.equal(doc.leaves.filter((l) => !l.deleted).length, 1, `${where}: one live leaf, the losers deleted`);
    }
    // Every edit made on either side is in the tree (as a leaf or an ancestor of one).
    for (const rev of [devRevs.get(id), peerRevs.get(id)].filter(Boolean)) {
      assert.ok(doc.leaves.some((l) => l.revisions.ids.includes(revHash(rev)) &&
        Number(rev.split('-')[0]) <= l.revisions.start), `${where}: the edit ${rev} is in the tree`);
    }
  }
}

async function baseOnPeer(kind) {
  const peer = await peerDb(kind);
  await bulkWrite(peer, Object.entries(BASE).map(([_id, body]) => ({ _id, ...body })));
  return peer;
}

// A device holding the peer's base: a first `settee sync` pulls it, then stops.
async function deviceWithBase(name, peer, policy, base = BASE) {
  const device = new Device(name);
  await device.create();
  device.startSync(peer, ['--policy', policy]);
  await device.waitCaughtUp(peer, { what: 'the first sync' });
  await device.stopSync(peer);
  const snap = await device.snapshot();
  assert.deepEqual(Object.keys(snap).sort(), Object.keys(base).sort(), 'the device has the base');
  return device;
}

for (const kind of ['pouchdb-server', 'settee']) {
  for (const policy of POLICIES) {
    test(`--policy ${policy} with a ${kind} peer: offline edits on both sides end as the policy says, on both sides`,
      { timeout: 180000 }, async () => {
        const peer = await baseOnPeer(kind);
        const device = await deviceWithBase(`dev-${policy.replace(/:/g, '_')}`, peer, policy);
        try {
          const devRevs = await device.edit((url) => applyEdits(url, DEVICE_EDITS));
          const peerRevs = await applyEdits(peer, PEER_EDITS);

          const since = Date.now();
          device.startSync(peer, ['--policy', policy]);
          const remote = new PouchDB(peer, { skip_setup: true });
          // The peer reaches the policy's outcome (resolutions pushed), and the device says it caught up.
          let peerSnap;
          await waitFor(async () => {
            peerSnap = await snapshot(remote);
            try { checkSide('peer', peerSnap, policy, devRevs, peerRevs); return true; } catch { return false; }
          }, 60000, `the peer to reach the ${policy} outcome`).catch((e) => {
            checkSide('peer', peerSnap, policy, devRevs, peerRevs); // the precise difference
            throw e;
          });
          const st = await device.waitCaughtUp(peer, { sinceMs: since, what: 'the reconnected sync' });
          const wantConflicted = Object.keys(BASE)
            .filter((id) => expected(policy, id, devRevs.get(id), peerRevs.get(id)).conflicted).length;
          if (!st.standin) assert.equal(st.conflicted, wantConflicted, `settee status counts the conflicts left: ${JSON.stringify(st.raw)}`);
          await device.stopSync(peer);

          const deviceSnap = await device.snapshot();
          checkSide('device', deviceSnap, policy, devRevs, peerRevs);
          peerSnap = await snapshot(remote);
          checkSide('peer', peerSnap, policy, devRevs, peerRevs);
          assertSameDatabase(withoutStatuses(deviceSnap), withoutStatuses(peerSnap), 'device and peer');

          // Another round: nothing left to do, nothing written on either side.
          const seqBefore = await updateSeq(peer);
          device.startSync(peer, ['--policy', policy]);
          const again = Date.now();
          await device.waitCaughtUp(peer, { sinceMs: again, what: 'another round' });
          await sleep(1500);
          await device.stopSync(peer);
          assert.equal(await updateSeq(peer), seqBefore, 'another round writes nothing to the peer');
          assertSameDatabase(withoutStatuses(await device.snapshot()), withoutStatuses(deviceSnap),
            'another round changes nothing on the device');
        } finally {
          await device.cleanup();
        }
      });
  }
}

// Two devices edit the same documents offline (the same field with different times, and different
// fields), then reconnect at once through one peer: each pulls the other's edit and resolves the same
// conflict with the same policy, racing; revision ids come from content, so both write the same
// revisions and nothing more happens.
const RACE_BASE = {
  title: { title: 'base', body: 'base', updated_at: T0 },
  fields: { title: 'base', body: 'base', updated_at: T0 },
};
const RACE_EDITS = [
  { title: { title: 'one', updated_at: T1 }, fields: { title: 'one' } },
  { title: { title: 'two', updated_at: T2 }, fields: { body: 'two' } },
];

for (const kind of ['pouchdb-server', 'settee']) {
  for (const policy of ['lww:updated_at', 'merge', 'merge:lww:updated_at']) {
    test(`--policy ${policy}, two devices racing through a ${kind} peer: one tree everywhere, no ping-pong`,
      { timeout: 180000 }, async () => {
        const peer = await peerDb(kind);
        await bulkWrite(peer, Object.entries(RACE_BASE).map(([_id, body]) => ({ _id, ...body })));
        const devices = [];
        try {
          for (const i of [1, 2]) devices.push(await deviceWithBase(`race${i}`, peer, policy, RACE_BASE));
          for (const [i, d] of devices.entries()) await d.edit((url) => applyEdits(url, RACE_EDITS[i]));

          const since = Date.now();
          for (const d of devices) d.startSync(peer, ['--policy', policy]);
          const remote = new PouchDB(peer, { skip_setup: true });
          const resolvedFields = policy !== 'lww:updated_at';
          await waitFor(async () => {
            const s = await snapshot(remote);
            const titleDone = policy === 'merge' ? s.title?.conflicts?.length === 1 : s.title?.conflicts?.length === 0;
            return titleDone && s.fields?.conflicts?.length === 0;
          }, 60000, 'the peer to hold the resolutions');
          for (const d of devices) await d.waitCaughtUp(peer, { sinceMs: since, what: `${d.name} to catch up` });

          // No ping-pong: with both syncs still running, nothing more is written to the peer.
          const seq = await updateSeq(peer);
          await sleep(3000);
          assert.equal(await updateSeq(peer), seq, 'the peer stays still while both devices keep syncing');
          for (const d of devices) await d.stopSync(peer);

          const peerSnap = await snapshot(remote);
          for (const d of devices) {
            assertSameDatabase(withoutStatuses(await d.snapshot()), withoutStatuses(peerSnap), `${d.name} and the peer`);
          }
          const winnerOf = (id) => peerSnap[id].leaves.find((l) => l.rev === peerSnap[id].winner);
          if (policy === 'merge') {
            // `title` changed on both sides: merge keeps that conflict for the user.
            assert.equal(peerSnap.title.leaves.filter((l) => !l.deleted).length, 2);
          } else {
            assert.deepEqual(winnerOf('title').body, { title: 'two', body: 'base', updated_at: T2 }, 'the later write wins');
            assert.deepEqual(peerSnap.title.conflicts, []);
          }
          if (resolvedFields) {
            assert.deepEqual(winnerOf('fields').body, { title: 'one', body: 'two', updated_at: T0 }, 'merged fields');
          }
          assert.deepEqual(peerSnap.fields.conflicts, []);
          // One resolution: two edits of generation 2, at most one resolving revision above them on each branch.
          for (const id of Object.keys(RACE_BASE)) {
            for (const leaf of peerSnap[id].leaves) {
              assert.ok(leaf.revisions.start <= 3, `${id}: no revision past generation 3 (${leaf.rev})`);
            }
            assert.ok(peerSnap[id].leaves.length <= 2, `${id}: two branches at most: ${JSON.stringify(peerSnap[id].leaves)}`);
          }
        } finally {
          for (const d of devices) await d.cleanup();
        }
      });
  }
}
