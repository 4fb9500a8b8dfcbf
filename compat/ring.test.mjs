// A three-way replication ring with PouchDB as the third party: a Settee node A, pouchdb-server B and a
// local LevelDB PouchDB C, replicated A -> B with `settee replicate`, B -> C and C -> A with PouchDB's
// replicator. After concurrent edits of the same documents on all three (three-way conflicts, a deletion
// against edits, deletions everywhere, the same new id made on each side, attachments added on two sides
// of one document), the ring is run until a round writes nothing (bounded), and all three must hold the
// same snapshot: every leaf with its path and body, winners, _conflicts, attachment digests, and on Settee
// the matching _deleted_conflicts. The second test runs the ring live (`settee replicate --continuous`
// as a child process, stopped by PID; PouchDB live replications) and makes concurrent edits while it runs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  PouchDB, startSettee, startPouchServer, localDb, tracedRemote, failures, assertNoUnexpectedFailures, http,
  withTimeout, waitFor, spawnSettee, md5Digest, pseudoRandomBytes,
} from './helpers.mjs';
import { check } from './fixtures.mjs';
import { snapshot, withoutStatuses, assertSameDatabase } from './snapshot.mjs';


let A; // settee serve
let B; // pouchdb-server
const cleanups = [];
before(async () => {
  [A, B] = await Promise.all([startSettee(), startPouchServer()]);
});
after(async () => {
  for (const c of cleanups.reverse()) await c();
  await A?.stop();
  await B?.stop();
});

const setteeReplicate = (args) => spawnSettee(['replicate', ...args]);

function ring(name) {
  const aUrl = `${A.url}/${name}`;
  const bUrl = `${B.url}/${name}`;
  const { db: a, log: aLog } = tracedRemote(aUrl);
  const b = new PouchDB(bUrl);
  const c = localDb(name);
  cleanups.push(c.cleanup);
  return { aUrl, bUrl, a, aLog, b, c, sides: { A: a, B: b, C: c } };
}

async function snapshots(r) {
  return {
    A: withoutStatuses(await snapshot(r.a)),
    B: withoutStatuses(await snapshot(r.b)),
    C: withoutStatuses(await snapshot(r.c)),
  };
}

// True when the three snapshots are deep-equal (for polling; assertConverged says where they differ).
function same(s) {
  try {
    assertSameDatabase(s.B, s.A, 'B vs A');
    assertSameDatabase(s.C, s.A, 'C vs A');
    return true;
  } catch {
    return false;
  }
}

function assertConverged(s, when) {
  assertSameDatabase(s.B, s.A, `${when}: pouchdb-server B vs Settee A`);
  assertSameDatabase(s.C, s.A, `${when}: PouchDB C vs Settee A`);
}

// One trip round the ring; returns the documents each hop wrote.
async function ringRound(r) {
  const ab = setteeReplicate([r.aUrl, r.bUrl, '--create-target']);
  const res = await withTimeout(ab.done, 30000, 'settee replicate A -> B');
  assert.equal(res.code, 0, `settee replicate A -> B failed:\n${res.out}`);
  const m = [...res.out.matchAll(/completed: (\d+) written, (\d+) failed/g)].pop();
  assert.ok(m, `no completion line from settee replicate:\n${res.out}`);
  assert.equal(m[2], '0', `A -> B had write failures:\n${res.out}`);
  const bc = await withTimeout(PouchDB.replicate(r.b, r.c), 30000, 'PouchDB B -> C');
  assert.equal(bc.ok, true);
  assert.equal(bc.doc_write_failures, 0, JSON.stringify(bc.errors));
  const ca = await withTimeout(PouchDB.replicate(r.c, r.a), 30000, 'PouchDB C -> A')
    .catch((e) => assert.fail(`C -> A failed: ${e.message}\n${failures(r.aLog)}`));
  assert.equal(ca.ok, true, failures(r.aLog));
  assert.equal(ca.doc_write_failures, 0, JSON.stringify(ca.errors));
  return { ab: Number(m[1]), bc: bc.docs_written, ca: ca.docs_written };
}

// Runs rounds until one writes nothing; fails after `max` rounds.
async function untilQuiescent(r, max = 5) {
  const rounds = [];
  for (let i = 0; i < max; i++) {
    const w = await ringRound(r);
    rounds.push(w);
    if (w.ab + w.bc + w.ca === 0) {
      if (process.env.COMPAT_TRACE) console.error(`ring rounds (docs written per hop): ${JSON.stringify(rounds)}`);
      return rounds;
    }
  }
  assert.fail(`the ring was still writing after ${max} rounds: ${JSON.stringify(rounds)}`);
}

const attachment = (bytes, type = 'application/octet-stream') => ({ content_type: type, data: bytes.toString('base64') });

// Live winners' deleted losing leaves, from a snapshot, sorted.
const deletedConflicts = (e) => e.leaves.filter((l) => l.deleted && l.rev !== e.winner).map((l) => l.rev).sort();

// Settee's own answer for ?deleted_conflicts=true must list the deleted losing leaves the snapshot has.
async function assertSetteeDeletedConflicts(r, snap) {
  for (const [id, e] of Object.entries(snap)) {
    if (e.deleted) continue;
    const res = await http('GET', `${r.aUrl}/${encodeURIComponent(id)}?deleted_conflicts=true`);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual((res.json._deleted_conflicts || []).slice().sort(), deletedConflicts(e), `_deleted_conflicts of ${id}`);
  }
}

test('ring A -> B -> C -> A after concurrent edits (and then conflict resolutions) on all three converges to one database', { timeout: 90000 }, async () => {
  const r = ring('ring');
  const { a, b, c } = r;
  const base = Array.from({ length: 10 }, (_, i) => ({ _id: `s${i}`, v: 'base' }));
  await http('PUT', r.aUrl);
  check(await a.bulkDocs([...base, { _id: 'att-doc', v: 'base', _attachments: { 'base.txt': attachment(Buffer.from('base\n'), 'text/plain') } }]));
  const seeded = await untilQuiescent(r);
  let s = await snapshots(r);
  assertConverged(s, 'after seeding');
  assert.equal(Object.keys(s.A).length, 11);
  assert.ok(seeded.length <= 3, `seeding took ${seeded.length} rounds`);

  // Concurrent edits: no replication runs until all three sides have written.
  const blob = pseudoRandomBytes(256 * 1024, 2024);
  const edit = async (db, id, patch) => db.put({ ...(await db.get(id)), ...patch });
  const del = async (db, id) => db.remove(await db.get(id));
  for (const [side, db] of Object.entries(r.sides)) {
    for (let i = 0; i < 5; i++) await edit(db, `s${i}`, { v: side });            // three-way conflicts
    check(await db.bulkDocs(Array.from({ length: 5 }, (_, i) => ({ _id: `${side}-new-${i}`, from: side }))));
    await db.put({ _id: 'same-new', from: side });                               // three first revisions
    await del(db, 's8');                                                         // deleted everywhere
  }
  await del(a, 's5'); await edit(b, 's5', { v: 'B' }); await edit(c, 's5', { v: 'C' }); // deletion vs edits
  await edit(a, 's6', { v: 'A1' }); await edit(a, 's6', { v: 'A2' }); await edit(b, 's6', { v: 'B' }); // longer branch wins
  await del(b, 's7'); await del(c, 's7');                                        // deleted on two sides
  await edit(a, 'att-doc', { _attachments: { ...(await a.get('att-doc'))._attachments, 'a.bin': attachment(blob) } });
  await edit(b, 'att-doc', { v: 'B' });
  await c.putAttachment('att-doc', 'c.txt', (await c.get('att-doc'))._rev, Buffer.from('from C\n'), 'text/plain');
  await c.put({ _id: 'C-att', _attachments: { 'c.bin': attachment(blob.subarray(0, 5000)) } });

  const rounds = await untilQuiescent(r);
  assert.ok(rounds.length <= 3, `convergence took ${rounds.length} rounds: ${JSON.stringify(rounds)}`);
  assert.ok(rounds[0].ab > 0 && rounds[0].bc > 0 && rounds[0].ca > 0, `every hop carried edits: ${JSON.stringify(rounds)}`);
  assert.ok(rounds[1].ab > 0, `C's edits reached B through A in the second round: ${JSON.stringify(rounds)}`);
  assertNoUnexpectedFailures(r.aLog);
  s = await snapshots(r);
  assertConverged(s, 'after the ring');

  // The shape the edits must have produced, so the comparison cannot pass on something trivial.
  const S = s.A;
  assert.equal(Object.keys(S).length, 11 + 15 + 2);
  for (let i = 0; i < 5; i++) {
    assert.equal(S[`s${i}`].leaves.length, 3, `s${i} has a leaf per side`);
    assert.equal(S[`s${i}`].conflicts.length, 2);
    assert.deepEqual(S[`s${i}`].leaves.map((l) => l.body.v).sort(), ['A', 'B', 'C']);
  }
  assert.equal(S.s5.deleted, false);
  assert.equal(S.s5.conflicts.length, 1);
  assert.equal(deletedConflicts(S.s5).length, 1, 's5 keeps the deletion as a deleted conflict');
  assert.ok(S.s6.winner.startsWith('3-'), 'the longer branch wins');
  assert.equal(S.s6.leaves.find((l) => l.rev === S.s6.winner).body.v, 'A2');
  assert.equal(S.s6.conflicts.length, 1);
  // PouchDB's revision ids are deterministic, so the same deletion made on B and C may be one leaf.
  for (const id of ['s7', 's8']) {
    assert.equal(S[id].deleted, true, `${id} is deleted`);
    assert.ok(S[id].leaves.length >= 1 && S[id].leaves.every((l) => l.deleted && l.revisions.start === 2), `${id}: only deletions of the base are leaves`);
  }
  assert.equal(S['same-new'].leaves.length, 3);
  assert.ok(S['same-new'].leaves.every((l) => l.rev.startsWith('1-')));
  const att = S['att-doc'];
  assert.equal(att.leaves.length, 3);
  const withBlob = att.leaves.find((l) => l.attachments['a.bin']);
  assert.equal(withBlob.attachments['a.bin'].digest, md5Digest(blob));
  assert.ok(att.leaves.find((l) => l.attachments['c.txt'])?.attachments['base.txt'], 'the stub kept base.txt');
  assert.equal(S['C-att'].leaves[0].attachments['c.bin'].digest, md5Digest(blob.subarray(0, 5000)));
  // The bytes, not only the digest, went all the way round (A -> B -> C).
  const bytes = await c.getAttachment('att-doc', 'a.bin', { rev: withBlob.rev });
  assert.ok(Buffer.from(bytes).equals(blob), 'a.bin reached C byte for byte');
  if (process.env.COMPAT_SERVER !== 'pouchdb-server') await assertSetteeDeletedConflicts(r, S);

  // Resolving conflicts while others edit: B deletes the losing leaves of s0 while C edits its winner;
  // A resolves s1 (losers deleted, winner updated) in one _bulk_docs.
  const s0 = await b.get('s0', { conflicts: true });
  for (const rev of s0._conflicts) await b.remove('s0', rev);
  await edit(c, 's0', { v: 'C again' });
  const s1 = await a.get('s1', { conflicts: true });
  check(await a.bulkDocs([{ ...s1, v: 'resolved on A', _conflicts: undefined },
    ...s1._conflicts.map((rev) => ({ _id: 's1', _rev: rev, _deleted: true }))]));
  const again = await untilQuiescent(r);
  assert.ok(again.length <= 3, `convergence took ${again.length} rounds: ${JSON.stringify(again)}`);
  s = await snapshots(r);
  assertConverged(s, 'after resolving conflicts');
  for (const [id, v] of [['s0', 'C again'], ['s1', 'resolved on A']]) {
    const e = s.A[id];
    assert.deepEqual(e.conflicts, [], `${id} has no live conflict left`);
    assert.equal(e.leaves.find((l) => l.rev === e.winner).body.v, v);
    assert.equal(deletedConflicts(e).length, 2, `${id} keeps the resolved branches as deleted leaves`);
  }
  if (process.env.COMPAT_SERVER !== 'pouchdb-server') await assertSetteeDeletedConflicts(r, s.A);
});

test('a live ring (settee replicate --continuous + PouchDB live) converges after concurrent edits', { timeout: 90000 }, async () => {
  const r = ring('live');
  const { a, b, c } = r;
  await http('PUT', r.aUrl);
  await http('PUT', r.bUrl);
  check(await a.bulkDocs(Array.from({ length: 8 }, (_, i) => ({ _id: `s${i}`, v: 'base' }))));

  const ab = setteeReplicate([r.aUrl, r.bUrl, '--continuous']);
  const live = [PouchDB.replicate(b, c, { live: true, retry: false }), PouchDB.replicate(c, a, { live: true, retry: false })];
  const errors = [];
  const completed = live.map((rep) => new Promise((resolve) => rep.on('complete', resolve)));
  for (const rep of live) rep.on('error', (e) => errors.push(e));
  let exited = null;
  ab.done.then((res) => { exited = res; });
  const healthy = () => {
    assert.equal(exited, null, `settee replicate --continuous exited: ${JSON.stringify(exited)}`);
    assert.deepEqual(errors, [], failures(r.aLog));
  };
  try {
    await waitFor(async () => { healthy(); return (await c.allDocs()).rows.length === 8; }, 30000, 'the seed to reach C');

    // Concurrent edits on all sides while the ring runs. `force` makes each edit a child of the revision
    // read (new_edits=false), so the branches exist whatever the replications did in the meantime.
    const blob = pseudoRandomBytes(100 * 1024, 77);
    await Promise.all(Object.entries(r.sides).map(async ([side, db]) => {
      const docs = await Promise.all([0, 1, 2, 3].map((i) => db.get(`s${i}`)));
      for (const d of docs) await db.put({ ...d, v: side }, { force: true });
      check(await db.bulkDocs(Array.from({ length: 5 }, (_, i) => ({ _id: `${side}-live-${i}`, from: side }))));
    }));
    const s4 = await b.get('s4');
    await Promise.all([
      a.put({ _id: 's4', _rev: s4._rev, _deleted: true }, { force: true }),
      b.put({ ...s4, v: 'B' }, { force: true }),
      c.put({ _id: 'C-att', _attachments: { 'c.bin': attachment(blob) } }),
      a.remove(await a.get('s5')),
    ]);

    let s;
    await waitFor(async () => {
      healthy();
      s = await snapshots(r);
      return same(s) && Object.keys(s.A).length === 8 + 15 + 1 && s.A.s4.leaves.length === 2 && s.A['C-att'] &&
        s.A.s5.deleted && [0, 1, 2, 3].every((i) => s.A[`s${i}`].leaves.length === 3);
    }, 45000, 'the live ring to converge').catch(async (e) => {
      healthy();
      assertConverged(await snapshots(r), 'live ring, not converged in time'); // says where they differ
      throw e;
    });
    healthy();
    assertConverged(s, 'live ring');
    assert.deepEqual(s.A.s0.leaves.map((l) => l.body.v).sort(), ['A', 'B', 'C']);
    assert.equal(s.A.s4.deleted, false);
    assert.equal(deletedConflicts(s.A.s4).length, 1);
    assert.equal(s.A['C-att'].leaves[0].attachments['c.bin'].digest, md5Digest(blob));
    if (process.env.COMPAT_SERVER !== 'pouchdb-server') await assertSetteeDeletedConflicts(r, s.A);
  } finally {
    for (const rep of live) rep.cancel();
    if (exited === null) await withTimeout(ab.stop(), 10000, 'settee replicate to stop');
  }
  await withTimeout(Promise.all(completed), 15000, 'the live PouchDB replications to complete after cancel()');
  assertNoUnexpectedFailures(r.aLog.filter((e) => e.status !== undefined));
});
