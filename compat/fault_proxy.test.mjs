// `settee replicate` over a bad network: a fault proxy (fault_proxy.mjs) sits in front of the source
// node, then in front of the target node, and resets connections, cuts requests and responses short and
// delays data. The replication must still finish with exit status 0 and leave the target identical to
// the source by snapshot.mjs (every leaf with its path, winners, conflicts, attachment digests; revs_info
// statuses aside). The proxy's counters prove faults were injected, so a run cannot pass vacuously. A
// first test checks the proxy itself: faithful with faults off, the same decisions for the same seed.
//
// Each run picks a random seed and prints it on failure; FAULT_SEED=N replays that seed's fault mix.
//
// The three tests at the end lose exactly one answer to a checkpoint write or to creating the target:
// those requests are retried like every other (they were not, once).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import net from 'node:net';
import { PouchDB, startSettee, http, setteeBinary, pseudoRandomBytes, md5Digest } from './helpers.mjs';
import { startFaultProxy } from './fault_proxy.mjs';
import { branch } from './fixtures.mjs';
import { snapshot, withoutStatuses, assertSameDatabase } from './snapshot.mjs';

const RATES = { dropRate: 0.06, truncateRate: 0.06, requestCutRate: 0.03, delayRate: 0.1, maxDelayMs: 80 };
const baseSeed = process.env.FAULT_SEED ? Number(process.env.FAULT_SEED) : Math.floor(Math.random() * 2 ** 31);

const cleanups = [];
let source, target, sourceSnap;
const BIG = 200 * 1024;

before(async () => {
  source = await startSettee();
  cleanups.push(() => source.stop());
  target = await startSettee();
  cleanups.push(() => target.stop());
  await populate(`${source.url}/src`);
  sourceSnap = await snapshot(new PouchDB(`${source.url}/src`, { skip_setup: true }));
});
after(async () => { for (const c of cleanups.reverse()) await c(); });

async function bulk(url, docs, newEdits = true) {
  const res = await http('POST', `${url}/_bulk_docs`, { docs, new_edits: newEdits });
  assert.equal(res.status, 201, res.text);
  const bad = res.json.filter((r) => r.error);
  assert.deepEqual(bad, [], 'every write of the fixture succeeds');
  return res.json;
}

const att = (bytes, type = 'application/octet-stream') => ({ content_type: type, data: Buffer.from(bytes).toString('base64') });

// ~2,550 documents: plain ones (updated once or twice, deleted, re-created after deletion), conflicts made
// with new_edits=false (live and deleted branches, one with an attachment), ~200 KB binary attachments,
// small text attachments kept as stubs across an update, design docs (one updated, one deleted), and a
// _local doc that must stay home.
async function populate(db) {
  assert.equal((await http('PUT', db)).status, 201);
  const N = 2400;
  const revs = new Map();
  for (let at = 0; at < N; at += 600) {
    const docs = [];
    for (let i = at; i < at + 600; i++) {
      docs.push({ _id: `doc-${String(i).padStart(4, '0')}`, n: i, group: i % 7, text: `document ${i} ✓ é`, tags: ['a', String(i % 3)] });
    }
    for (const r of await bulk(db, docs)) revs.set(r.id, r.rev);
  }
  for (const round of [0, 1]) {
    const docs = [];
    for (let i = 0; i < (round ? 200 : 500); i++) {
      const id = `doc-${String(i).padStart(4, '0')}`;
      docs.push({ _id: id, _rev: revs.get(id), n: i, group: i % 7, edited: round + 1 });
    }
    for (const r of await bulk(db, docs)) revs.set(r.id, r.rev);
  }
  const deleted = [];
  for (let i = 2200; i < N; i++) {
    const id = `doc-${String(i).padStart(4, '0')}`;
    deleted.push({ _id: id, _rev: revs.get(id), _deleted: true });
  }
  await bulk(db, deleted);
  // Written again without a _rev: the new revision extends the tombstone.
  await bulk(db, Array.from({ length: 10 }, (_, k) => ({ _id: `doc-${2200 + k * 3}`, reborn: true })));

  const branches = [];
  for (let i = 0; i < 120; i++) {
    const id = `conf-${String(i).padStart(3, '0')}`;
    branches.push(branch(id, [`${id}a`, `${id}b`], { side: 'b', i }));
    branches.push(branch(id, [`${id}a`, `${id}c`, `${id}d`], { side: 'd', i }, i % 4 === 0 ? { _deleted: true } : {}));
    if (i % 5 === 0) branches.push(branch(id, [`${id}a`, `${id}e`], { side: 'e' }, i % 10 === 0 ? { _deleted: true } : {}));
  }
  branches.push(branch('conf-att', ['ca', 'cb'], { side: 'b' }, { _attachments: { 'b.txt': att('branch b', 'text/plain') } }));
  branches.push(branch('conf-att', ['ca', 'cc'], { side: 'c' }, { _attachments: { 'c.bin': att(pseudoRandomBytes(BIG, 5)) } }));
  await bulk(db, branches, false);

  const withAtts = [];
  for (let i = 0; i < 4; i++) withAtts.push({ _id: `big-${i}`, i, _attachments: { 'blob.bin': att(pseudoRandomBytes(BIG + i * 1000, 100 + i)) } });
  for (let i = 0; i < 30; i++) withAtts.push({ _id: `small-${i}`, i, _attachments: { 'note.txt': att(`note ${i}\n`, 'text/plain') } });
  const attRevs = new Map((await bulk(db, withAtts)).map((r) => [r.id, r.rev]));
  // An update that keeps the first attachment as a stub and adds a second.
  const updates = [];
  for (let i = 0; i < 10; i++) {
    updates.push({
      _id: `small-${i}`, _rev: attRevs.get(`small-${i}`), i, edited: true,
      _attachments: { 'note.txt': { stub: true }, 'more.txt': att(`more ${i}`, 'text/plain') },
    });
  }
  await bulk(db, updates);

  const ddocs = await bulk(db, ['a', 'b', 'c'].map((n) => ({ _id: `_design/${n}`, language: 'javascript', views: { [n]: { map: 'function (doc) { emit(doc.n); }' } } })));
  await bulk(db, [
    { _id: '_design/a', _rev: ddocs[0].rev, language: 'javascript', views: { a2: { map: 'function (doc) { emit(doc.group); }' } } },
    { _id: '_design/b', _rev: ddocs[1].rev, _deleted: true },
  ]);
  assert.equal((await http('PUT', `${db}/_local/stays`, { note: 'must not travel' })).status, 201);
}

// Runs `settee replicate` with a bounded time; kills it (by PID) when the time runs out.
async function replicate(args, ms) {
  const child = spawn(setteeBinary(), ['replicate', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { if (stderr.length < 65536) stderr += d; });
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', (e) => resolve({ code: null, error: e.message }));
  });
  const started = Date.now();
  let timer;
  const result = await Promise.race([exited, new Promise((r) => { timer = setTimeout(() => r(null), ms); })]);
  clearTimeout(timer);
  if (!result) {
    try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ }
    await exited;
    return { code: null, timedOut: true, stderr, ms: Date.now() - started };
  }
  return { ...result, stderr, ms: Date.now() - started };
}

const replicateArgs = ['--create-target', '--retries', '30', '--timeout', '10000', '--batch-size', '100'];

async function checkConverged(t, proxy, run, dbUrl, what) {
  const context = () => `${what}: settee replicate ${JSON.stringify(run)}\n${proxy.describe()}`;
  assert.equal(run.code, 0, `replication did not succeed (FAULT_SEED=${proxy.seed}). ${context()}`);
  assert.match(run.stderr, /completed: \d+ written, 0 failed/, context());
  assert.ok(proxy.faults > 0, `the proxy injected no fault, so this run proves nothing. ${context()}`);
  const snap = await snapshot(new PouchDB(dbUrl, { skip_setup: true }));
  // The replica never received its ancestors' bodies, so revs_info statuses differ; all else must match.
  assertSameDatabase(withoutStatuses(snap), withoutStatuses(sourceSnap), `target after ${what} (FAULT_SEED=${proxy.seed})`);
  t.diagnostic(`${what}: exit 0 after ${run.ms} ms; ${proxy.describe().split('\n')[0]}`);
  const local = await http('GET', `${dbUrl}/_local/stays`);
  assert.equal(local.status, 404, '_local docs do not replicate');
}

// One GET on a fresh connection (Connection: close), read to the end: what arrived and how it ended.
function rawGet(port, path) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    const chunks = [];
    let error = null;
    const timer = setTimeout(() => sock.destroy(new Error('timeout')), 10000);
    sock.on('connect', () => sock.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`));
    sock.on('data', (d) => chunks.push(d));
    sock.on('error', (e) => { error = e.code ?? e.message; });
    sock.on('close', () => {
      clearTimeout(timer);
      const all = Buffer.concat(chunks);
      const at = all.indexOf('\r\n\r\n');
      const body = at < 0 ? Buffer.alloc(0) : all.subarray(at + 4);
      resolve({ bytes: all.length, status: all.subarray(0, 12).toString('latin1'), body: crypto.createHash('md5').update(body).digest('hex'), error });
    });
  });
}

test('the proxy forwards faithfully with faults off and repeats its decisions for a seed', { timeout: 60000 }, async () => {
  const port = Number(new URL(source.url).port);
  const paths = ['/src/doc-0001', '/src/big-0/blob.bin', '/src/_changes?limit=50', '/src/conf-003?open_revs=all'];
  const direct = [];
  for (const p of paths) direct.push(await rawGet(port, p));
  assert.ok(direct.every((r) => r.status === 'HTTP/1.1 200' && !r.error), JSON.stringify(direct));

  const off = await startFaultProxy(source.url, { seed: 7, enabled: false });
  cleanups.push(() => off.close());
  for (let i = 0; i < paths.length * 3; i++) {
    const r = await rawGet(off.port, paths[i % paths.length]);
    const d = direct[i % paths.length];
    assert.deepEqual([r.status, r.bytes, r.body, r.error], [d.status, d.bytes, d.body, d.error], `faults off: ${paths[i % paths.length]}`);
  }
  assert.equal(off.faults, 0);

  // Two proxies with the same seed, the same requests one connection at a time: the same faults.
  // (Where a cut lands is a fraction of the response's length, which may differ from run to run.)
  const outcomes = async (seed) => {
    const proxy = await startFaultProxy(source.url, { seed, dropRate: 0.25, truncateRate: 0.25, requestCutRate: 0.1, delayRate: 0.2, maxDelayMs: 5 });
    cleanups.push(() => proxy.close());
    const out = [];
    for (let i = 0; i < 40; i++) {
      const r = await rawGet(proxy.port, paths[i % paths.length]);
      out.push(r.body === direct[i % paths.length].body ? 'whole' : r.bytes === 0 ? 'nothing' : 'part');
    }
    return { out, proxy };
  };
  const a = await outcomes(1234);
  const b = await outcomes(1234);
  const c = await outcomes(4321);
  assert.deepEqual(b.out, a.out, 'the same seed makes the same decisions');
  assert.notDeepEqual(c.out, a.out, 'another seed makes other decisions');
  assert.deepEqual({ ...b.proxy.stats, delays: 0 }, { ...a.proxy.stats, delays: 0 });
  for (const kind of ['drops', 'dropsBeforeResponse', 'truncations', 'requestCuts']) {
    assert.ok(a.proxy.stats[kind] > 0, `no ${kind} in 40 exchanges: ${a.proxy.describe()}`);
  }
  assert.equal(a.out.filter((o) => o !== 'whole').length, a.proxy.faults, 'every fault cost the client its answer');
});

test('the fixture has the intended shape', () => {
  const ids = Object.keys(sourceSnap);
  assert.ok(ids.length > 2500, `${ids.length} documents`);
  assert.equal(sourceSnap['doc-2201'].deleted, true);
  assert.equal(sourceSnap['doc-2200'].deleted, false);
  assert.equal(sourceSnap['conf-001'].conflicts.length, 1);
  assert.equal(sourceSnap['conf-000'].leaves.filter((l) => l.deleted).length, 2);
  assert.equal(sourceSnap['big-3'].leaves[0].attachments['blob.bin'].digest, md5Digest(pseudoRandomBytes(BIG + 3000, 103)));
  assert.deepEqual(Object.keys(sourceSnap['small-0'].leaves[0].attachments), ['more.txt', 'note.txt']);
  assert.equal(sourceSnap['_design/b'].deleted, true);
  assert.ok(!('_local/stays' in sourceSnap));
});

test('replication converges through a faulty link in front of the source', { timeout: 90000 }, async (t) => {
  const proxy = await startFaultProxy(source.url, { seed: baseSeed, ...RATES });
  cleanups.push(() => proxy.close());
  const run = await replicate([`${proxy.url}/src`, `${target.url}/via-source-proxy`, ...replicateArgs], 45000);
  await checkConverged(t, proxy, run, `${target.url}/via-source-proxy`, 'faults in front of the source');
});

test('replication converges through a faulty link in front of the target', { timeout: 90000 }, async (t) => {
  const proxy = await startFaultProxy(target.url, { seed: baseSeed + 1, ...RATES });
  cleanups.push(() => proxy.close());
  const run = await replicate([`${source.url}/src`, `${proxy.url}/via-target-proxy`, ...replicateArgs], 45000);
  await checkConverged(t, proxy, run, `${target.url}/via-target-proxy`, 'faults in front of the target');
});

// One checkpoint write whose answer is cut short (the server did write it). A retry must see the
// checkpoint's new revision (409, re-read, write again) and the replication must complete.

async function oneLostAnswer(which, match, dbName) {
  const proxy = await startFaultProxy(which === 'source' ? source.url : target.url,
    { seed: 1, dropRate: 0, truncateRate: 1, requestCutRate: 0, delayRate: 0, match, maxFaults: 1 });
  cleanups.push(() => proxy.close());
  const from = which === 'source' ? `${proxy.url}/src` : `${source.url}/src`;
  const to = which === 'source' ? `${target.url}/${dbName}` : `${proxy.url}/${dbName}`;
  const run = await replicate([from, to, '--create-target', '--doc-ids', 'doc-0001,conf-001,big-0'], 30000);
  assert.equal(proxy.faults, 1, proxy.describe());
  assert.equal(run.code, 0, `${JSON.stringify(run)}\n${proxy.describe()}`);
}

test('a checkpoint write on the source whose answer is lost is retried', { timeout: 60000 }, async () => {
  await oneLostAnswer('source', /^PUT \S*\/_local\//, 'lost-checkpoint-source');
});

test('a checkpoint write on the target whose answer is lost is retried', { timeout: 60000 }, async () => {
  await oneLostAnswer('target', /^PUT \S*\/_local\//, 'lost-checkpoint-target');
});

test('creating the target survives a lost answer', { timeout: 60000 }, async () => {
  await oneLostAnswer('target', /^PUT \/lost-create$/, 'lost-create');
});
