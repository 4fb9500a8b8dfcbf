// `settee replicate` killed with SIGKILL part-way through, then run again: the second run must resume from
// the checkpoint the first one left (not start over), finish with exit status 0, and leave the target
// identical to the source. Two targets: another Settee node over HTTP, and a local database (--data DIR),
// where the killed process owned the SQLite file — whatever it had committed must read back intact.
//
// A replication of 20,000 small documents between two local nodes takes well under a second, less than
// the replicator's checkpoint interval (tuning::kCheckpointInterval, 5 s). So the first run reads the
// source through fault_proxy.mjs with faults off and every response delayed (throttleMs): it then lasts
// long enough to record a checkpoint, which the test sees as a stderr line `... checkpoint SEQ` with
// SEQ > 0, and kills it right then. The proxy's request log also gives the replication id (from
// `GET /src/_local/<id>`) and the `since` of the second run's first `_changes` request.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startSettee, http, setteeBinary, freePort, tempDir, sleep, waitFor } from './helpers.mjs';
import { startFaultProxy } from './fault_proxy.mjs';

const TOTAL = 20000; // documents (deleted ones included)
const UPDATED = 2000;
const DELETED = 1000;
const THROTTLE_MS = 60; // per response from the source: ~80 batches x 2 requests, ~10 s in all
const RUN_ARGS = ['--workers', '1', '--batch-size', '250'];

const cleanups = [];
const children = new Set();
let source;

process.on('exit', () => { for (const pid of children) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } } });
after(async () => { for (const c of cleanups.reverse()) await c(); });

before(async () => {
  source = await startSettee();
  cleanups.push(() => source.stop());
  assert.equal((await http('PUT', `${source.url}/src`)).status, 201);
  const revs = new Map();
  for (let at = 0; at < TOTAL; at += 1000) {
    const docs = [];
    for (let i = at; i < at + 1000; i++) docs.push({ _id: `k${String(i).padStart(5, '0')}`, n: i, word: `w${i % 97}` });
    const res = await http('POST', `${source.url}/src/_bulk_docs`, { docs });
    assert.equal(res.status, 201, res.text);
    for (const r of res.json) revs.set(r.id, r.rev);
  }
  // Updates and deletions spread over the id space move those documents to the end of the feed.
  const more = [];
  for (let i = 0; i < UPDATED; i++) {
    const id = `k${String(i * 7).padStart(5, '0')}`;
    more.push({ _id: id, _rev: revs.get(id), n: i * 7, updated: true });
  }
  for (let i = 0; i < DELETED; i++) {
    const id = `k${String(i * 7 + 3).padStart(5, '0')}`;
    more.push({ _id: id, _rev: revs.get(id), _deleted: true });
  }
  const res = await http('POST', `${source.url}/src/_bulk_docs`, { docs: more });
  assert.equal(res.status, 201, res.text);
  assert.deepEqual(res.json.filter((r) => r.error), []);
  const info = (await http('GET', `${source.url}/src`)).json;
  assert.equal(info.doc_count, TOTAL - DELETED);
  assert.equal(info.doc_del_count, DELETED);
});

// Starts `settee replicate`; `lines` collects its stderr lines as they come.
function startReplicate(args) {
  const child = spawn(setteeBinary(), ['replicate', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  children.add(child.pid);
  const run = { child, lines: [], stderr: '' };
  let partial = '';
  child.stderr.on('data', (d) => {
    if (run.stderr.length < 65536) run.stderr += d;
    partial += d;
    const parts = partial.split('\n');
    partial = parts.pop();
    run.lines.push(...parts);
  });
  run.exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => { children.delete(child.pid); resolve({ code, signal }); });
    child.once('error', (e) => { children.delete(child.pid); resolve({ code: null, error: e.message }); });
  });
  return run;
}

async function finish(run, ms) {
  let timer;
  const result = await Promise.race([run.exited, new Promise((r) => { timer = setTimeout(() => r(null), ms); })]);
  clearTimeout(timer);
  if (result) return result;
  process.kill(run.child.pid, 'SIGKILL');
  await run.exited;
  return { code: null, timedOut: true };
}

// The checkpoint lines `<state>: N written, ... checkpoint SEQ` of a run.
function checkpoints(run) {
  return run.lines.map((l) => /(\d+) written.*checkpoint (\S+)\s*$/.exec(l)).filter(Boolean)
    .map((m) => ({ written: Number(m[1]), seq: m[2] }));
}

// Every document a database reports (winners with bodies) and every change row (all leaves, deletions).
async function contents(dbUrl) {
  const info = await http('GET', dbUrl);
  assert.equal(info.status, 200, info.text);
  const all = await http('GET', `${dbUrl}/_all_docs?include_docs=true`, undefined, { timeoutMs: 60000 });
  assert.equal(all.status, 200, all.text);
  const docs = new Map(all.json.rows.map((r) => [r.id, r.doc]));
  const ch = await http('GET', `${dbUrl}/_changes?style=all_docs`, undefined, { timeoutMs: 60000 });
  assert.equal(ch.status, 200, ch.text);
  const changes = new Map(ch.json.results.map((r) => [r.id, { revs: r.changes.map((c) => c.rev).sort(), deleted: Boolean(r.deleted) }]));
  return { info: info.json, docs, changes };
}

function assertSame(actual, expected, what) {
  assert.equal(actual.info.doc_count, expected.info.doc_count, `${what}: doc_count`);
  assert.equal(actual.info.doc_del_count, expected.info.doc_del_count, `${what}: doc_del_count`);
  assert.equal(actual.docs.size, expected.docs.size, `${what}: _all_docs rows`);
  for (const [id, doc] of expected.docs) assert.deepEqual(actual.docs.get(id), doc, `${what}: document ${id}`);
  assert.equal(actual.changes.size, expected.changes.size, `${what}: _changes rows`);
  for (const [id, c] of expected.changes) assert.deepEqual(actual.changes.get(id), c, `${what}: change row of ${id}`);
}

// Every document the target reports after the kill is one the source has, with the same revision and body.
function assertIntactSubset(actual, expected, what) {
  assert.equal(actual.docs.size, actual.info.doc_count, `${what}: _all_docs rows and doc_count agree`);
  for (const [id, doc] of actual.docs) assert.deepEqual(doc, expected.docs.get(id), `${what}: document ${id}`);
  for (const [id, c] of actual.changes) assert.deepEqual(c, expected.changes.get(id), `${what}: change row of ${id}`);
}

// Runs the first, throttled replication until it records a checkpoint, then kills it with SIGKILL.
async function replicateAndKill(proxy, args) {
  proxy.setThrottle(THROTTLE_MS);
  const run = startReplicate(args);
  let killedAt;
  try {
    const deadline = Date.now() + 30000;
    while (!killedAt) {
      killedAt = checkpoints(run).find((c) => c.seq !== '0' && c.written > 0);
      if (killedAt) break;
      const ended = await Promise.race([run.exited, sleep(20).then(() => null)]);
      assert.equal(ended, null, `settee replicate ended before a checkpoint: ${JSON.stringify(ended)}\n${run.stderr}`);
      assert.ok(Date.now() < deadline, `no checkpoint line from the first run within 30 s:\n${run.stderr}`);
    }
  } finally {
    try { process.kill(run.child.pid, 'SIGKILL'); } catch { /* gone */ }
  }
  const end = await finish(run, 10000);
  assert.equal(end.signal, 'SIGKILL', `the first run was still going when killed: ${JSON.stringify(end)}\n${run.stderr}`);
  proxy.setThrottle(0);
  return { killedAt, run };
}

// What the second run's checkpoint says about it, and what the proxy saw of it.
async function assertResumed({ t, proxy, requestsBefore, killedAt, second, checkpointUrl, partial }) {
  const seqNumber = Number(killedAt.seq);
  assert.ok(seqNumber > 0, `the first run checkpointed a numeric seq: ${killedAt.seq}`);
  const firstChanges = proxy.requests.slice(requestsBefore).find((r) => r.path?.includes('/_changes'));
  assert.ok(firstChanges, 'the second run read the source through the proxy');
  const since = Number(new URL(firstChanges.path, 'http://x').searchParams.get('since'));
  assert.ok(since >= seqNumber, `the second run started at the checkpoint (since=${since}, checkpoint ${seqNumber})`);

  const cp = await http('GET', checkpointUrl);
  assert.equal(cp.status, 200, `the checkpoint ${checkpointUrl} exists: ${cp.text}`);
  const [latest, previous] = cp.json.history;
  assert.ok(previous, `the checkpoint keeps both sessions: ${cp.text}`);
  assert.equal(Number(latest.start_last_seq), since, `the second session started where the first left off: ${cp.text}`);
  assert.ok(latest.missing_checked < 0.8 * TOTAL, `the second run checked ${latest.missing_checked} of ${TOTAL} revisions`);
  const last = checkpoints(second).at(-1);
  assert.ok(last && last.written < 0.8 * TOTAL, `the second run wrote ${last?.written} documents`);
  assert.equal(cp.json.source_last_seq, (await http('GET', `${source.url}/src`)).json.update_seq);
  t.diagnostic(`killed after checkpoint ${killedAt.seq} (${killedAt.written} written; target then held ${partial.changes.size} docs); ` +
    `second run: since=${since}, checked ${latest.missing_checked}, wrote ${last.written} of ${TOTAL}`);
}

// The checkpoint the killed run left on the target: at or past the last one it reported.
async function assertCheckpointLeft(checkpointUrl, killedAt) {
  const cp = await http('GET', checkpointUrl);
  assert.equal(cp.status, 200, `the killed run left its checkpoint ${checkpointUrl}: ${cp.text}`);
  assert.ok(Number(cp.json.source_last_seq) >= Number(killedAt.seq), `checkpoint ${cp.text} vs reported ${killedAt.seq}`);
}

// The replication id, from the checkpoint reads the proxy saw.
function replicationId(proxy) {
  const read = proxy.requests.find((r) => r.method === 'GET' && /\/_local\/[0-9a-f]+$/.test(r.path ?? ''));
  assert.ok(read, 'the replicator read its checkpoint on the source');
  return read.path.split('/_local/')[1];
}

test('a killed replication into another Settee node resumes from its checkpoint', { timeout: 90000 }, async (t) => {
  const target = await startSettee();
  cleanups.push(() => target.stop());
  const proxy = await startFaultProxy(source.url, { enabled: false });
  cleanups.push(() => proxy.close());
  const args = [`${proxy.url}/src`, `${target.url}/dst`, '--create-target', ...RUN_ARGS];
  const expected = await contents(`${source.url}/src`);

  const { killedAt } = await replicateAndKill(proxy, args);
  const partial = await contents(`${target.url}/dst`);
  assert.ok(partial.changes.size > 0 && partial.changes.size < TOTAL,
    `the first run wrote some documents but not all: ${partial.changes.size}`);
  assertIntactSubset(partial, expected, 'target after the kill');
  const id = replicationId(proxy);
  await assertCheckpointLeft(`${target.url}/dst/_local/${id}`, killedAt);

  const requestsBefore = proxy.requests.length;
  const second = startReplicate(args);
  const end = await finish(second, 45000);
  assert.equal(end.code, 0, `second run: ${JSON.stringify(end)}\n${second.stderr}`);
  assertSame(await contents(`${target.url}/dst`), expected, 'target after the second run');
  await assertResumed({ t, proxy, requestsBefore, killedAt, second, partial, checkpointUrl: `${target.url}/dst/_local/${id}` });
});

// `settee serve` on an existing data directory, stopped by PID.
async function serveDir(dir) {
  const port = await freePort();
  const child = spawn(setteeBinary(), ['serve', '--bind', '127.0.0.1', '--port', String(port), '--data', dir, '--log-level', 'none'],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  children.add(child.pid);
  let stderr = '';
  child.stderr.on('data', (d) => { if (stderr.length < 65536) stderr += d; });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (!children.has(child.pid)) return;
    process.kill(child.pid, 'SIGTERM');
    let timer;
    const killLater = new Promise((r) => { timer = setTimeout(() => r(null), 5000); });
    if (!(await Promise.race([exited, killLater]))) process.kill(child.pid, 'SIGKILL');
    clearTimeout(timer);
    await exited;
    children.delete(child.pid);
  };
  try {
    await waitFor(async () => (await fetch(`${url}/_up`, { signal: AbortSignal.timeout(1000) })).ok, 15000, `settee serve --data ${dir}`);
  } catch (e) {
    await stop();
    throw new Error(`${e.message}: ${stderr}`);
  }
  return { url, stop };
}

test('a killed replication into a local database (--data) leaves it intact and resumes', { timeout: 90000 }, async (t) => {
  const dir = tempDir('kill-local');
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  const data = path.join(dir, 'data');
  const proxy = await startFaultProxy(source.url, { enabled: false });
  cleanups.push(() => proxy.close());
  const args = [`${proxy.url}/src`, 'dst', '--data', data, '--create-target', ...RUN_ARGS];
  const expected = await contents(`${source.url}/src`);

  const { killedAt } = await replicateAndKill(proxy, args);
  // The killed process owned the SQLite file: a fresh server must open it and read back only whole,
  // correct documents.
  let node = await serveDir(data);
  let partial;
  try {
    partial = await contents(`${node.url}/dst`);
    assert.ok(partial.changes.size > 0 && partial.changes.size < TOTAL,
      `the first run wrote some documents but not all: ${partial.changes.size}`);
    assertIntactSubset(partial, expected, 'local target after the kill');
    await assertCheckpointLeft(`${node.url}/dst/_local/${replicationId(proxy)}`, killedAt);
  } finally {
    await node.stop();
  }
  const id = replicationId(proxy);

  // Full-speed runs killed a little after they start running, most likely while a batch is
  // being written (they record no checkpoint of their own: the interval has not passed).
  const landed = [];
  for (const delay of [50, 120, 200]) {
    const run = startReplicate(args);
    await waitFor(async () => run.lines.some((l) => l.startsWith('running:')) ||
      (await Promise.race([run.exited, sleep(5).then(() => false)])), 15000, 'the run to start');
    await sleep(delay);
    try { process.kill(run.child.pid, 'SIGKILL'); } catch { /* gone */ }
    const ended = await finish(run, 10000);
    node = await serveDir(data);
    try {
      const now = await contents(`${node.url}/dst`);
      assertIntactSubset(now, expected, `local target after a kill at ${delay} ms`);
      landed.push(`${delay} ms: ${ended.signal ?? `exit ${ended.code}`}, ${now.changes.size} docs`);
    } finally {
      await node.stop();
    }
  }
  t.diagnostic(`extra kills: ${landed.join('; ')}`);

  const requestsBefore = proxy.requests.length;
  const second = startReplicate(args);
  const end = await finish(second, 45000);
  assert.equal(end.code, 0, `second run: ${JSON.stringify(end)}\n${second.stderr}`);
  node = await serveDir(data);
  try {
    assertSame(await contents(`${node.url}/dst`), expected, 'local target after the second run');
    await assertResumed({ t, proxy, requestsBefore, killedAt, second, partial, checkpointUrl: `${node.url}/dst/_local/${id}` });
  } finally {
    await node.stop();
  }
});
