// Settee's own replicator (`settee replicate`) against pouchdb-server and against a second Settee node:
// pull, push and sync, one-shot and continuous, with the common fixture (updates, deletions, a re-created tombstone, _design and _local docs,
// attachments including one of 3 MB, live and deleted conflicts) plus branches made on both sides.
// Afterwards every document's leaves with their paths, winner, conflicts and attachment digests match.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { PouchDB, startSettee, startPouchServer, runSettee, spawnSettee, http, waitFor, pseudoRandomBytes, md5Digest } from './helpers.mjs';
import { populate, branch, check } from './fixtures.mjs';
import { snapshot, withoutStatuses, assertSameDatabase } from './snapshot.mjs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

async function replicate(...args) {
  const r = await runSettee(['replicate', ...args], { timeoutMs: 90000 });
  assert.equal(r.code, 0, `settee replicate ${args.join(' ')}:\n${r.out}`);
  assert.match(r.out, /completed: \d+ written, 0 failed/, r.out);
  return r;
}

// The peer Settee replicates with: pouchdb-server, or another Settee node.
const PEERS = [['pouchdb-server', () => startPouchServer()], ['a second Settee node', () => startSettee()]];

for (const [peerName, startPeer] of PEERS) {
test(`settee replicate with ${peerName}: pull, push and sync keep every tree`, { timeout: 240000 }, async () => {
  const [settee, peer] = await Promise.all([startSettee(), startPeer()]);
  cleanups.push(() => settee.stop(), () => peer.stop());
  const origin = new PouchDB(`${peer.url}/origin`);
  const { big } = await populate(origin);
  check(await origin.bulkDocs([branch('shared', ['s', 'u'], { side: 'pouchdb-server' })], { new_edits: false }));
  assert.equal((await http('PUT', `${settee.url}/middle`)).status, 201);
  const middle = new PouchDB(`${settee.url}/middle`);
  check(await middle.bulkDocs([branch('shared', ['s', 't'], { side: 'settee' })], { new_edits: false }));
  await middle.put({ _id: 'settee-only', v: 1 });

  await replicate(`${peer.url}/origin`, `${settee.url}/middle`);  // pull into Settee
  await replicate(`${settee.url}/middle`, `${peer.url}/copy`, '--create-target');  // push out of it
  const copy = new PouchDB(`${peer.url}/copy`);
  const sMiddle = await snapshot(middle);
  assert.equal(sMiddle.shared.leaves.length, 2, 'both sides\' branches of "shared"');
  assert.equal(sMiddle['att-big'].leaves[0].attachments['blob.bin'].digest, md5Digest(big));
  assert.equal(sMiddle['_local/secret'], undefined);
  assertSameDatabase(withoutStatuses(await snapshot(copy)), withoutStatuses(sMiddle), 'pouchdb-server copy vs Settee');
  const blob = await copy.getAttachment('att-big', 'blob.bin');
  assert.equal(Buffer.compare(Buffer.from(blob), big), 0, 'the 3 MB attachment arrives byte for byte');

  // Sync: the origin learns Settee's branch and document; nothing is left to move afterwards.
  await replicate(`${peer.url}/origin`, `${settee.url}/middle`, '--sync');
  assertSameDatabase(withoutStatuses(await snapshot(origin)), withoutStatuses(await snapshot(middle)), 'origin vs Settee after sync');
  const again = await replicate(`${peer.url}/origin`, `${settee.url}/middle`, '--sync');
  assert.doesNotMatch(again.out, /completed: [1-9]\d* written/, `a second sync moves nothing: ${again.out}`);
});

test(`settee replicate --continuous --sync with ${peerName} converges after edits on both sides`, { timeout: 120000 }, async () => {
  const [settee, peer] = await Promise.all([startSettee(), startPeer()]);
  cleanups.push(() => settee.stop(), () => peer.stop());
  const p = new PouchDB(`${peer.url}/live`);
  await http('PUT', `${peer.url}/live`);  // created here, as PouchDB would on first use
  const live = spawnSettee(['replicate', `${peer.url}/live`, `${settee.url}/live`, '--sync', '--continuous', '--create-target']);
  cleanups.push(() => live.stop());
  await waitFor(async () => (await http('GET', `${settee.url}/live`)).status === 200, 20000, 'the target created');
  const s = new PouchDB(`${settee.url}/live`);

  const att = pseudoRandomBytes(300 * 1024, 7);
  await Promise.all([
    p.bulkDocs(Array.from({ length: 40 }, (_, i) => ({ _id: `p${i}`, from: 'pouchdb-server', i }))),
    s.bulkDocs(Array.from({ length: 40 }, (_, i) => ({ _id: `s${i}`, from: 'settee', i }))),
    p.put({ _id: 'photo', _attachments: { 'a.bin': { content_type: 'application/octet-stream', data: att.toString('base64') } } }),
    // The same document written on both sides at once: two branches that must both survive.
    p.bulkDocs([branch('both', ['x', 'p'], { side: 'p' })], { new_edits: false }),
    s.bulkDocs([branch('both', ['x', 's'], { side: 's' })], { new_edits: false }),
  ]);
  await waitFor(async () => (await s.get('p39').catch(() => null)) && (await p.get('s39').catch(() => null)), 30000, 'first edits across');
  await p.remove(await p.get('p0'));
  const s1 = await s.get('s1');
  await s.put({ ...s1, edited: true });

  let last;
  await waitFor(async () => {
    const [a, b] = await Promise.all([snapshot(p), snapshot(s)]);
    last = [a, b];
    return JSON.stringify(withoutStatuses(a)) === JSON.stringify(withoutStatuses(b));
  }, 45000, `both sides identical (settee replicate said: ${live.output().slice(-500)})`);
  const [sp] = last;
  assert.equal(sp.both.leaves.length, 2, 'both branches of "both" kept');
  assert.equal(sp.photo.leaves[0].attachments['a.bin'].digest, md5Digest(att));
  assert.equal(sp.p0.deleted, true);
  assert.equal(sp.s1.leaves[0].body.edited, true);
  assert.equal(live.child.exitCode, null, 'the continuous replication is still running');
});
}
