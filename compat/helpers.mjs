// Shared harness for the compatibility tests and the pull benchmark.
//
// startSettee() runs `settee serve` (SETTEE_BINARY, else ../build/settee) on a free 127.0.0.1 port with
// a temporary data directory; startPouchServer() runs pouchdb-server from node_modules the same way.
// Both return { url, pid, stop() }: stop() sends SIGTERM to that PID, waits, then SIGKILL, and removes
// the temporary directory. Every child is also killed by PID when this process exits, so a failing or
// aborted test never leaves a server behind. Every wait here is bounded.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));

export const PouchDB = require('pouchdb');
PouchDB.plugin(require('pouchdb-adapter-memory'));

const children = new Map(); // pid -> its temp dir, for the exit-time sweep
process.on('exit', () => {
  for (const [pid, dir] of children) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  }
});
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => process.exit(130));
}

export function tempDir(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), `settee-compat-${prefix}-`));
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Rejects with `what` when `promise` takes longer than `ms`.
export async function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// Polls `check` (async, truthy = done) every 100 ms until `ms` have passed.
export async function waitFor(check, ms, what) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await check();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await sleep(100);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what} (last: ${last?.message ?? JSON.stringify(last)})`);
}

// One HTTP request with a bounded time; JSON bodies are sent and parsed as JSON.
export async function http(method, url, body, { timeoutMs = 30000, headers = {} } = {}) {
  const init = { method, headers: { Accept: 'application/json', ...headers }, signal: AbortSignal.timeout(timeoutMs) };
  if (body !== undefined) {
    init.body = typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body);
    if (!init.headers['Content-Type']) init.headers['Content-Type'] = 'application/json';
  }
  const res = await fetch(url, init);
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, text, json };
}

class Server {
  constructor(name, child, url, dir) {
    this.name = name;
    this.child = child;
    this.pid = child.pid;
    this.url = url;
    this.dir = dir;
    this.stderr = '';
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
      // A binary that cannot be started (missing, not executable) emits 'error' and no 'exit'.
      child.once('error', (e) => { this.stderr += `spawn failed: ${e.message}`; resolve({ error: e }); });
    });
    child.stderr?.on('data', (d) => { if (this.stderr.length < 65536) this.stderr += d; });
    if (this.pid !== undefined) children.set(this.pid, dir);
  }

  // Peak resident set size of the server process in kB (VmHWM), or null where /proc has none.
  peakRssKb() {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${this.pid}/status`, 'utf8'));
      return m ? Number(m[1]) : null;
    } catch {
      return null;
    }
  }

  async stop() {
    if (children.has(this.pid)) {
      try { process.kill(this.pid, 'SIGTERM'); } catch { /* gone */ }
      // A pending timer would keep the test process alive after its last test: each is cleared.
      const within = (ms) => {
        let timer;
        const timeout = new Promise((resolve) => { timer = setTimeout(() => resolve(null), ms); });
        return Promise.race([this.exited, timeout]).finally(() => clearTimeout(timer));
      };
      const done = await within(5000);
      if (!done) {
        console.error(`# ${this.name} (pid ${this.pid}) did not stop within 5 s of SIGTERM; sending SIGKILL`);
        try { process.kill(this.pid, 'SIGKILL'); } catch { /* gone */ }
        await within(5000);
      }
      children.delete(this.pid);
    }
    if (this.dir) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

async function waitUntilUp(server, probeUrl, ms) {
  const deadline = Date.now() + ms;
  let exited = false;
  server.exited.then(() => { exited = true; });
  while (Date.now() < deadline) {
    if (exited) break;
    try {
      const res = await fetch(probeUrl, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.ok) return;
    } catch { /* not listening yet */ }
    await sleep(50);
  }
  await server.stop();
  throw new Error(`${server.name} did not come up at ${probeUrl}${exited ? ' (it exited)' : ''}: ${server.stderr}`);
}

export function setteeBinary() {
  return process.env.SETTEE_BINARY || path.resolve(here, '../build/settee');
}

// Starts `settee ARGS` (e.g. ['replicate', src, dst, '--continuous']) as a child killed by PID on exit.
// Returns { child, pid, output() (stdout+stderr so far), done: Promise<{code, signal, out, ms}>,
// stop() (SIGTERM, then SIGKILL after 3 s) }.
export function spawnSettee(args, { env = process.env, cwd } = {}) {
  const started = Date.now();
  const child = spawn(setteeBinary(), args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  if (child.pid !== undefined) children.set(child.pid, null);
  const done = new Promise((resolve) => {
    child.once('error', (e) => resolve({ code: null, signal: null, out: `spawn failed: ${e.message}`, ms: 0 }));
    child.once('exit', (code, signal) => {
      children.delete(child.pid);
      resolve({ code, signal, out, ms: Date.now() - started });
    });
  });
  const stop = async () => {
    try { process.kill(child.pid, 'SIGTERM'); } catch { /* gone */ }
    const timer = setTimeout(() => { try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ } }, 3000);
    const result = await done;
    clearTimeout(timer);
    return result;
  };
  return { child, pid: child.pid, output: () => out, done, stop };
}

// Runs `settee ARGS` to completion; killed by PID after `timeoutMs` (then `signal` is 'SIGKILL').
export async function runSettee(args, { timeoutMs = 60000, env, cwd } = {}) {
  const proc = spawnSettee(args, { env, cwd });
  const timer = setTimeout(() => { try { process.kill(proc.pid, 'SIGKILL'); } catch { /* gone */ } }, timeoutMs);
  const result = await proc.done;
  clearTimeout(timer);
  return result;
}

// Starts `settee serve` with a fresh data directory. `logLevel` other than 'none' keeps stderr for debugging.
// With COMPAT_SERVER=pouchdb-server the tests run against pouchdb-server instead: a check of the tests
// themselves (what passes there is what PouchDB's own server does).
export async function startSettee({ logLevel = 'none' } = {}) {
  if (process.env.COMPAT_SERVER === 'pouchdb-server') return startPouchServer();
  const bin = setteeBinary();
  if (!fs.existsSync(bin)) throw new Error(`settee binary not found at ${bin} (set SETTEE_BINARY)`);
  const dir = tempDir('settee');
  const port = await freePort();
  const child = spawn(bin, ['serve', '--bind', '127.0.0.1', '--port', String(port), '--data', path.join(dir, 'data'),
    '--log-level', logLevel], { stdio: ['ignore', 'ignore', 'pipe'] });
  const server = new Server('settee', child, `http://127.0.0.1:${port}`, dir);
  await waitUntilUp(server, `${server.url}/_up`, 15000);
  return server;
}

// Starts pouchdb-server; `inMemory` (default) uses its memory adapter, otherwise LevelDB in a temp dir.
export async function startPouchServer({ inMemory = true } = {}) {
  const dir = tempDir('pouchdb-server');
  const port = await freePort();
  const bin = require.resolve('pouchdb-server/bin/pouchdb-server');
  const args = [bin, '--host', '127.0.0.1', '--port', String(port), '--no-stdout-logs',
    '--config', path.join(dir, 'config.json'), '--dir', dir];
  if (inMemory) args.push('--in-memory');
  const child = spawn(process.execPath, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const server = new Server('pouchdb-server', child, `http://127.0.0.1:${port}`, dir);
  await waitUntilUp(server, `${server.url}/`, 30000);
  return server;
}

// A remote PouchDB whose every HTTP exchange is recorded in `log` ({method, url, status, body?}),
// so a failing assertion can show what was asked of the server and what it answered.
export function tracedRemote(url, { keepBodies = true } = {}) {
  const log = [];
  const db = new PouchDB(url, {
    fetch: async (u, opts) => {
      const entry = { method: opts?.method || 'GET', url: String(u).replace(/^http:\/\/[^/]+/, '') };
      if (keepBodies && typeof opts?.body === 'string') entry.request = opts.body.slice(0, 400);
      log.push(entry);
      const res = await PouchDB.fetch(u, opts);
      entry.status = res.status;
      if (res.status >= 400 && keepBodies) {
        try { entry.response = (await res.clone().text()).slice(0, 400); } catch { /* streaming */ }
      }
      return res;
    },
  });
  return { db, log };
}

// The requests in a trace that failed, for assertion messages.
export function failures(log) {
  return log.filter((e) => e.status === undefined || e.status >= 400)
    .map((e) => `${e.method} ${e.url} -> ${e.status ?? 'no answer'} ${e.response ?? ''}` +
      (e.request ? `\n    request body: ${e.request}` : ''))
    .join('\n');
}

// Failed exchanges a replicator does not expect to succeed: the first GET of a database that is then
// created, the first read of a checkpoint, and the PUT of a database that already exists.
function expectedFailure(e) {
  const path = e.url.split('?')[0];
  if (e.method === 'GET' && e.status === 404 && (/^\/[^/]+\/?$/.test(path) || path.includes('/_local/'))) return true;
  return e.method === 'PUT' && e.status === 412 && /^\/[^/]+\/?$/.test(path);
}

// Asserts that every other exchange in the trace (from index `from` on) succeeded: PouchDB hides many
// server errors behind fallbacks (per-document GETs when _bulk_get fails, retries), so a replication
// can end "ok" after the server answered wrongly.
export function assertNoUnexpectedFailures(log, from = 0) {
  const bad = log.slice(from).filter((e) => !expectedFailure(e) && !(e.status >= 200 && e.status < 300));
  if (bad.length) throw new Error(`the server answered ${bad.length} request(s) with an error:\n${failures(bad)}`);
}

// Request counts by method and endpoint, e.g. {"POST _bulk_get 200": 3}; COMPAT_TRACE=1 prints them.
export function endpointSummary(log, from = 0) {
  const out = {};
  for (const e of log.slice(from)) {
    const path = e.url.split('?')[0].replace(/^\/[^/]+/, '');
    const ep = path.startsWith('/_') ? path.split('/').slice(0, 2).join('/') : path === '' || path === '/' ? '/' : '/{doc}';
    const key = `${e.method} ${ep} ${e.status}`;
    out[key] = (out[key] || 0) + 1;
  }
  if (process.env.COMPAT_TRACE) console.error(JSON.stringify(out));
  return out;
}

// A fresh local PouchDB on LevelDB in its own temp dir (or memory), removed by cleanup().
export function localDb(name, { adapter = 'leveldb' } = {}) {
  if (adapter === 'memory') {
    const db = new PouchDB(`${name}-${crypto.randomUUID()}`, { adapter: 'memory' });
    db.cleanup = () => db.destroy().catch(() => {});
    return db;
  }
  const dir = tempDir('pouch');
  const db = new PouchDB(path.join(dir, name));
  db.cleanup = async () => {
    await db.destroy().catch(() => {});
    fs.rmSync(dir, { recursive: true, force: true });
  };
  return db;
}

export function md5Digest(buf) {
  return 'md5-' + crypto.createHash('md5').update(buf).digest('base64');
}

// Deterministic pseudo-random bytes (xorshift), so a failing run can be reproduced.
export function pseudoRandomBytes(n, seed = 12345) {
  const out = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}
