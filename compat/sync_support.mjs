// The pieces the `settee sync` tests share: a device (a local data directory an app would own), the
// `settee sync` process that keeps one of its databases in sync with a peer, `settee status --json`, and
// nodes served from a data directory that outlives them.
//
// A data directory belongs to one process at a time, as an app's would: the device's database is edited
// "offline" through a `settee serve` on its data directory that is stopped before `settee sync` starts
// again (Device.edit), and read the same way (Device.snapshot). While `settee sync` runs, its live status
// line (state, pending, failed, conflicted, last sync) tells how far it got (Device.live); `settee status
// --json` is asked when it has stopped (Device.status), for the document lists and the peer's reasons.
//
// Every process is started through helpers.mjs (spawnSettee), so it is killed by PID if the test dies.
//
// SYNC_STANDIN=replicate runs `settee replicate DB PEER --sync --continuous` in place of `settee sync`
// (today's behaviour: the keep policy, no status): a check of the tests themselves, as COMPAT_SERVER is.
// Its status() knows nothing (standin: true) and waitCaughtUp() waits a few seconds instead.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { PouchDB, freePort, http, runSettee, sleep, spawnSettee, tempDir, waitFor } from './helpers.mjs';
import { snapshot } from './snapshot.mjs';

const STANDIN = process.env.SYNC_STANDIN === 'replicate';
const STOP_MS = 15000; // SIGTERM to exit

// `settee serve` on `dataDir` (kept when it stops). `config` is the text of an ini file (admins, limits).
export async function serveDir(dataDir, { config } = {}) {
  const port = await freePort();
  const args = ['serve', '--bind', '127.0.0.1', '--port', String(port), '--data', dataDir, '--log-level', 'none'];
  if (config) {
    const file = path.join(path.dirname(dataDir), `config-${port}.ini`);
    fs.writeFileSync(file, config);
    args.push('--config', file);
  }
  const proc = spawnSettee(args);
  const url = `http://127.0.0.1:${port}`;
  let exited = false;
  proc.done.then(() => { exited = true; });
  const deadline = Date.now() + 15000;
  for (;;) {
    try {
      const res = await fetch(`${url}/_up`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.ok) break;
    } catch { /* not listening yet */ }
    if (exited || Date.now() > deadline) {
      await proc.stop();
      throw new Error(`settee serve on ${dataDir} did not come up: ${proc.output()}`);
    }
    await sleep(50);
  }
  return {
    url, pid: proc.pid,
    stop: async () => {
      const r = await proc.stop();
      assert.ok(r.code === 0 || r.signal === 'SIGTERM', `settee serve ended badly: ${JSON.stringify(r)}`);
    },
  };
}

// A node with a data directory of its own and an admin (`admin:secret`), removed by stop().
export async function startNodeWithAdmin(name, extraConfig = '') {
  const dir = tempDir(name);
  const node = await serveDir(path.join(dir, 'data'), { config: `[admins]\nadmin = secret\n${extraConfig}` });
  const u = new URL(node.url);
  return {
    ...node,
    adminUrl: `http://admin:secret@${u.host}`,
    auth: { Authorization: `Basic ${Buffer.from('admin:secret').toString('base64')}` },
    stop: async () => { await node.stop(); fs.rmSync(dir, { recursive: true, force: true }); },
  };
}

// The normalised answer of `settee status --json`: counts, the listed documents and the last sync time.
// The field names are read leniently in this one place (counts at the top or under "counts"; documents
// as lists of ids or of {id, error, reason}), so the tests state facts, not a layout.
export function readStatus(json) {
  const counts = json.counts ?? json;
  const num = (k) => {
    const v = counts[k];
    if (typeof v === 'number') return v;
    if (Array.isArray(v)) return v.length;
    if (v && typeof v.count === 'number') return v.count;
    return undefined;
  };
  const list = (k) => {
    const docs = json.documents?.[k] ?? json[`${k}_docs`] ?? json[`${k}Docs`] ??
      (Array.isArray(json[k]) ? json[k] : undefined) ?? json[k]?.docs ?? json[k]?.documents ?? [];
    return docs.map((d) => (typeof d === 'string' ? { id: d } : d));
  };
  return {
    pending: num('pending'),
    failed: num('failed'),
    conflicted: num('conflicted'),
    lastSync: json.last_sync ?? json.lastSync ?? json.last_sync_time ?? json.counts?.last_sync ?? null,
    pendingDocs: list('pending'),
    failedDocs: list('failed'),
    conflictedDocs: list('conflicted'),
    raw: json,
  };
}

// Whether a status' last sync time is set (any non-empty form: micros, an ISO string).
export function hasSynced(st) {
  return st.lastSync !== null && st.lastSync !== undefined && st.lastSync !== 0 && st.lastSync !== '';
}

// A device: a data directory holding one database (`db`) that an app keeps in sync with peers.
export class Device {
  constructor(name, db = 'app') {
    this.name = name;
    this.root = tempDir(name);
    this.data = path.join(this.root, 'data');
    this.db = db;
    this.syncs = new Map(); // peer URL -> its `settee sync` process
  }

  // Runs `fn(dbUrl)` against the device's database served by a `settee serve` that stops afterwards.
  async edit(fn) {
    const node = await serveDir(this.data);
    try {
      return await fn(`${node.url}/${this.db}`, node.url);
    } finally {
      await node.stop();
    }
  }

  async create() {
    await this.edit(async (url) => assert.equal((await http('PUT', url)).status, 201));
  }

  async snapshot() {
    return this.edit((url) => snapshot(new PouchDB(url, { skip_setup: true })));
  }

  // Starts `settee sync --data DIR DB PEER ...args` (one per peer at a time).
  startSync(peerUrl, args = []) {
    assert.ok(!this.syncs.has(peerUrl), `${this.name} already syncs with ${peerUrl}`);
    const proc = STANDIN
      ? spawnSettee(['replicate', this.db, peerUrl, '--sync', '--continuous', '--data', this.data])
      : spawnSettee(['sync', '--data', this.data, this.db, peerUrl, ...args]);
    this.syncs.set(peerUrl, proc);
    return proc;
  }

  // SIGTERM; the command must end cleanly (exit 0) within STOP_MS.
  async stopSync(peerUrl) {
    const proc = this.syncs.get(peerUrl);
    assert.ok(proc, `${this.name} does not sync with ${peerUrl}`);
    this.syncs.delete(peerUrl);
    try { process.kill(proc.pid, 'SIGTERM'); } catch { /* gone */ }
    const timer = setTimeout(() => { try { process.kill(proc.pid, 'SIGKILL'); } catch { /* gone */ } }, STOP_MS);
    const r = await proc.done;
    clearTimeout(timer);
    assert.ok(r.code === 0 || (r.code === null && r.signal === 'SIGTERM'),
      `settee sync did not end cleanly on SIGTERM: ${JSON.stringify({ code: r.code, signal: r.signal })}\n${r.out.slice(-2000)}`);
    return r;
  }

  // kill -9 of the sync process: no chance to flush or checkpoint anything.
  async killSync(peerUrl) {
    const proc = this.syncs.get(peerUrl);
    this.syncs.delete(peerUrl);
    process.kill(proc.pid, 'SIGKILL');
    return proc.done;
  }

  syncOutput(peerUrl) {
    return this.syncs.get(peerUrl)?.output() ?? '';
  }

  // The last live status line of the running `settee sync` with `peerUrl`, as
  // {state, pending, failed, conflicted, lastSync (ISO or null)}, or null before the first.
  live(peerUrl) {
    const lines = this.syncOutput(peerUrl).split('\n');
    for (let i = lines.length - 1; i >= 0; i--) {
      const m = /(\w+) pending=(\d+) failed=(\d+) conflicted=(\d+) docs\/s=\S+ last_sync=(\S+)/.exec(lines[i]);
      if (m) {
        return { state: m[1], pending: Number(m[2]), failed: Number(m[3]), conflicted: Number(m[4]),
          lastSync: m[5] === 'never' ? null : m[5], line: lines[i] };
      }
    }
    return null;
  }

  // `settee status --data DIR DB --peer PEER --json`, normalised by readStatus.
  async status(peerUrl) {
    if (STANDIN) return { pending: 0, failed: 0, conflicted: null, lastSync: Date.now() * 1000, standin: true,
      pendingDocs: [], failedDocs: [], conflictedDocs: [], raw: {} };
    const r = await runSettee(['status', '--data', this.data, this.db, '--peer', peerKey(peerUrl), '--json'],
      { timeoutMs: 20000 });
    assert.equal(r.code, 0, `settee status failed: ${r.out}`);
    let json;
    try {
      json = JSON.parse(r.out.slice(r.out.indexOf('{')));
    } catch (e) {
      assert.fail(`settee status --json printed no JSON: ${r.out}`);
    }
    return readStatus(json);
  }

  // Waits until the running sync with `peerUrl` says (its live status line) it is idle, nothing is
  // pending, and a sync completed since `sinceMs`. Returns that status.
  async waitCaughtUp(peerUrl, { sinceMs = 0, ms = 60000, what = 'sync to catch up' } = {}) {
    let last;
    if (STANDIN) {
      await sleep(4000);
      return this.status(peerUrl);
    }
    try {
      return await waitFor(async () => {
        last = this.live(peerUrl);
        if (!last || last.state !== 'idle' || last.pending !== 0 || !hasSynced(last)) return false;
        // `settee status` gives the time to the second: a sync that ended in the second `sinceMs` falls in.
        return lastSyncMs(last) >= sinceMs - 1000 ? last : false;
      }, ms, what);
    } catch (e) {
      e.message += `\nsync output: ${this.syncOutput(peerUrl).slice(-2000)}`;
      throw e;
    }
  }

  async cleanup() {
    for (const peer of [...this.syncs.keys()]) await this.syncs.get(peer).stop();
    this.syncs.clear();
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}

// The last sync time in milliseconds since the epoch, whatever form status gave it in.
export function lastSyncMs(st) {
  const v = st.lastSync;
  if (typeof v === 'number') return v > 1e14 ? v / 1000 : v; // microseconds, as SyncCounts keeps it
  if (typeof v === 'string') return Date.parse(v) || 0;
  if (v && typeof v === 'object') return lastSyncMs({ lastSync: v.micros ?? v.time ?? v.iso ?? 0 });
  return 0;
}

// The peer's key: the URL without credentials (settee/sync.h syncPeerKey).
export function peerKey(url) {
  const u = new URL(url);
  return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`;
}

// Every change of a database in order, as {seq, id, rev} (seq numbers as the server gives them).
export async function changesOrder(dbUrl, headers = {}) {
  const res = await http('GET', `${dbUrl}/_changes?style=all_docs`, undefined, { headers });
  assert.equal(res.status, 200, res.text);
  return res.json.results.map((r) => ({ seq: r.seq, id: r.id, rev: r.changes[0].rev }));
}

// update_seq of a database as a comparable string.
export async function updateSeq(dbUrl, headers = {}) {
  const res = await http('GET', dbUrl, undefined, { headers });
  assert.equal(res.status, 200, res.text);
  return String(res.json.update_seq);
}

// The winning revisions of every document of `dbUrl` (deleted ones included), id -> rev.
export async function winners(dbUrl, headers = {}) {
  const res = await http('GET', `${dbUrl}/_changes?style=main_only`, undefined, { headers });
  assert.equal(res.status, 200, res.text);
  return new Map(res.json.results.map((r) => [r.id, r.changes[0].rev]));
}

// Writes docs through _bulk_docs and returns id -> rev; every write must succeed.
export async function bulkWrite(dbUrl, docs, { headers = {}, newEdits = true } = {}) {
  const res = await http('POST', `${dbUrl}/_bulk_docs`, { docs, new_edits: newEdits }, { headers });
  assert.equal(res.status, 201, res.text);
  const bad = res.json.filter((r) => r.error);
  assert.deepEqual(bad, [], 'every write succeeds');
  return new Map(res.json.map((r) => [r.id, r.rev]));
}
