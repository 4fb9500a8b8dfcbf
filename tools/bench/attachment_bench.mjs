#!/usr/bin/env node
// Attachment replication benchmark: how fast, and in how much memory, does Settee's replicator copy
// large attachments (documents whose attachments total >= 1 MB are streamed through a spool file, never
// held whole), next to PouchDB pulling the same documents from the same node?
//
// It loads a Settee node A (`settee serve`) with --docs documents each holding one attachment of --mb MiB
// of random bytes (PUT /src/att-…/blob, raw), plus 100 small plain documents (bench_docs.mjs). Then, per
// run, each on a fresh target, in an order that rotates from run to run:
//   (a) PouchDB (leveldb) pulling A/src into a fresh local db, in a child node process (this script with
//       --pouch-child) so that its peak RSS is measured like the others;
//   (b) `settee replicate A/src B/dst-R --create-target`: into a second Settee node B over loopback HTTP;
//   (c) `settee replicate A/src dst-R --data DIR --create-target`: into a local database;
//   (d) `settee replicate dst-R B/push-R --data DIR --create-target`: pushes the local database of the
//       latest (c) to node B (the rotation keeps a (c) before the first (d)).
// Each runs under `/usr/bin/time -v` in its own process group: its time is the child's wall time, process
// start included, and its peak RSS is time's "Maximum resident set size". The serving nodes' peak RSS is
// VmHWM from /proc/PID/status, reset before each case (clear_refs 5) so that it is that case's peak; where
// the kernel refuses the reset the figure is the peak since start (said so in the output).
// Every result is checked: exit 0; a settee replicate must report completed, D+100 written, 0 failed;
// PouchDB must report ok and D+100 docs written; then the target must hold D+100 documents and each
// attachment's stub digest and length must equal the source's, and the bytes read back from the target
// must hash (MD5) to that digest. Local databases are read through a short-lived `settee serve`.
// MB/s counts attachment bytes (D x M MiB) over wall seconds. The load average is printed at start and end
// (the machine may be shared: read medians). Every child and temp dir is removed on exit, also on Ctrl-C.
// The nodes' max_http_request_size (CouchDB's [chttpd] key; Settee's default 64 MiB) is raised through a
// config file to M + 16 MiB when that is larger, room for one attachment and its multipart framing.
// It is a benchmark, not a test: tools/test.sh does not run it. Needs `npm ci` in compat/ and /usr/bin/time.
//
//   node tools/bench/attachment_bench.mjs [--docs 4] [--mb 64] [--runs 3]
//   (SETTEE_BINARY selects the settee binary, default build/settee; tools/bench/attachment_bench.sh wraps it)
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PouchDB, http, tempDir, freePort, setteeBinary, sleep, md5Digest } from '../../compat/helpers.mjs';
import { loadDocs, docCount } from './bench_docs.mjs';
import { parseOptions, median, fmt, runTimedBench, timedRun } from './bench_util.mjs';

const MiB = 1024 * 1024;
const SMALL_DOCS = 100;
const DEFAULT_MAX_REQUEST = 64 * MiB; // Settee's max_http_request_size when not configured
const ATT_NAME = 'blob';
const thisFile = fileURLToPath(import.meta.url);

function parseArgs(argv) {
  const opts = { docs: 4, mb: 64, runs: 3 };
  return parseOptions(argv, opts, 'attachment_bench.mjs [--docs D] [--mb M] [--runs R]', (a, take) => {
    if (a === '--docs') opts.docs = take.int();
    else if (a === '--mb') opts.mb = take.int();
    else if (a === '--runs') opts.runs = take.int();
    else return false;
    return true;
  });
}

// ---- cleanup: everything started or made here is undone on exit (helpers.mjs turns SIGINT/SIGTERM into exit)

const groups = new Set(); // process groups of detached timed children
const pids = new Set(); // servers started here
const dirs = new Set(); // temp dirs made here
process.on('exit', () => {
  for (const g of groups) {
    try { process.kill(-g, 'SIGKILL'); } catch { /* gone */ }
  }
  for (const p of pids) {
    try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
  }
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function ownTempDir(prefix) {
  const d = tempDir(prefix);
  dirs.add(d);
  return d;
}

// ---- settee serve with a config file

function statusKb(pid, field) {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

// Resets the peak RSS (VmHWM) of `pid` to its current RSS; false where the kernel does not allow it.
function resetPeakRss(pid) {
  try {
    fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

async function stopProcess(child, exited) {
  try { process.kill(child.pid, 'SIGTERM'); } catch { /* gone */ }
  if (!(await Promise.race([exited.then(() => true), sleep(10000)]))) {
    try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ }
    await Promise.race([exited, sleep(5000)]);
  }
  pids.delete(child.pid);
}

// `settee serve` on a free port with data in `dataDir` (a fresh temp dir when absent) and, when
// `maxRequestBytes` is given, a config file setting [chttpd] max_http_request_size.
async function startNode(name, { dataDir, maxRequestBytes } = {}) {
  const dir = ownTempDir(`att-${name.replace(/\W/g, '')}`);
  const data = dataDir ?? path.join(dir, 'data');
  const port = await freePort();
  const args = ['serve', '--bind', '127.0.0.1', '--port', String(port), '--data', data, '--log-level', 'none'];
  if (maxRequestBytes) {
    const ini = path.join(dir, 'local.ini');
    fs.writeFileSync(ini, `[chttpd]\nmax_http_request_size = ${maxRequestBytes}\n`);
    args.push('--config', ini);
  }
  const child = spawn(setteeBinary(), args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-8192); });
  const exited = new Promise((r) => {
    child.once('exit', () => r());
    child.once('error', (e) => { stderr += `spawn failed: ${e.message}`; r(); });
  });
  if (child.pid !== undefined) pids.add(child.pid);
  const url = `http://127.0.0.1:${port}`;
  const node = {
    name, pid: child.pid, url,
    peakRssKb: () => statusKb(child.pid, 'VmHWM'),
    rssKb: () => statusKb(child.pid, 'VmRSS'),
    stop: async () => {
      await stopProcess(child, exited);
      fs.rmSync(dir, { recursive: true, force: true });
      dirs.delete(dir);
    },
  };
  let gone = false;
  exited.then(() => { gone = true; });
  const deadline = Date.now() + 30000;
  while (Date.now() < deadline && !gone) {
    try {
      const res = await fetch(`${url}/_up`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.ok) return node;
    } catch { /* not listening yet */ }
    await sleep(50);
  }
  await node.stop();
  throw new Error(`settee serve (${name}) did not come up at ${url}${gone ? ' (it exited)' : ''}: ${stderr}`);
}

// ---- loading and checking

// The attachment documents' ids.
const attId = (i) => `att-${String(i).padStart(4, '0')}`;

// Creates `srcUrl` with SMALL_DOCS plain documents and `docs` documents each holding one attachment of
// `mb` MiB of random bytes. Returns what every target must match: { count, atts: [{ id, digest, length }] }.
async function loadSource(srcUrl, docs, mb) {
  const smallSec = await loadDocs(srcUrl, SMALL_DOCS, SMALL_DOCS);
  const atts = [];
  const t0 = performance.now();
  for (let i = 0; i < docs; i++) {
    const bytes = crypto.randomBytes(mb * MiB);
    const digest = md5Digest(bytes);
    const url = `${srcUrl}/${attId(i)}/${ATT_NAME}`;
    const res = await http('PUT', url, bytes, { timeoutMs: 600000, headers: { 'Content-Type': 'application/octet-stream' } });
    if (res.status !== 201) throw new Error(`PUT ${url}: ${res.status} ${res.text.slice(0, 300)}`);
    atts.push({ id: attId(i), digest, length: bytes.length });
  }
  const attSec = (performance.now() - t0) / 1000;
  const expected = { count: docs + SMALL_DOCS, atts };
  // The source itself must hold what was sent, else every comparison below would be against a wrong digest.
  await verifyHttpDb(srcUrl, expected, 'source A/src');
  return { expected, smallSec, attSec };
}

// MD5 (CouchDB digest form) of the bytes of a streamed HTTP response body, never held whole.
async function streamedDigest(url) {
  const res = await fetch(url, { signal: AbortSignal.timeout(600000) });
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${(await res.text()).slice(0, 300)}`);
  const hash = crypto.createHash('md5');
  let length = 0;
  for await (const chunk of res.body) {
    hash.update(chunk);
    length += chunk.length;
  }
  return { digest: `md5-${hash.digest('base64')}`, length };
}

function checkStub(where, id, stub, want) {
  if (!stub) throw new Error(`${where}: ${id} has no attachment ${ATT_NAME}`);
  if (stub.digest !== want.digest || stub.length !== want.length) {
    throw new Error(`${where}: ${id}/${ATT_NAME} has digest ${stub.digest} length ${stub.length}, ` +
      `the source ${want.digest} length ${want.length}`);
  }
}

function checkBytes(where, id, got, want) {
  if (got.digest !== want.digest || got.length !== want.length) {
    throw new Error(`${where}: the bytes of ${id}/${ATT_NAME} hash to ${got.digest} (${got.length} bytes), ` +
      `expected ${want.digest} (${want.length} bytes)`);
  }
}

// Checks a database served over HTTP: doc_count, each attachment's stub, and the bytes it serves.
async function verifyHttpDb(dbUrl, expected, where) {
  const count = await docCount(dbUrl);
  if (count !== expected.count) throw new Error(`${where}: doc_count ${count}, expected ${expected.count}`);
  for (const want of expected.atts) {
    const doc = await http('GET', `${dbUrl}/${want.id}`, undefined, { timeoutMs: 120000 });
    if (doc.status !== 200) throw new Error(`${where}: GET ${want.id}: ${doc.status} ${doc.text.slice(0, 300)}`);
    checkStub(where, want.id, doc.json?._attachments?.[ATT_NAME], want);
    checkBytes(where, want.id, await streamedDigest(`${dbUrl}/${want.id}/${ATT_NAME}`), want);
  }
}

// Checks local database `db` under `dataDir` through a short-lived `settee serve` on it.
async function verifyLocalDb(dataDir, db, expected, where) {
  const node = await startNode(`check-${db}`, { dataDir });
  try {
    await verifyHttpDb(`${node.url}/${db}`, expected, where);
  } finally {
    await node.stop();
  }
}

// Checks the PouchDB leveldb database at `dbPath` (the child has exited and closed it).
async function verifyPouchDb(dbPath, expected, where) {
  const db = new PouchDB(dbPath);
  try {
    const info = await db.info();
    if (info.doc_count !== expected.count) throw new Error(`${where}: doc_count ${info.doc_count}, expected ${expected.count}`);
    for (const want of expected.atts) {
      const doc = await db.get(want.id);
      checkStub(where, want.id, doc._attachments?.[ATT_NAME], want);
      const bytes = await db.getAttachment(want.id, ATT_NAME);
      checkBytes(where, want.id, { digest: md5Digest(bytes), length: bytes.length }, want);
    }
  } finally {
    await db.close();
  }
}

// ---- the cases

function timeoutFor(expected) {
  const bytes = expected.atts.reduce((s, a) => s + a.length, 0);
  return Math.max(600000, bytes / 1000); // at least 1 MB/s, else it counts as a hang
}

// `settee replicate ARGS` under time; checks its last line says completed, all written, none failed.
async function setteeReplicate(args, expected) {
  const r = await timedRun(setteeBinary(), ['replicate', ...args], timeoutFor(expected), groups);
  const done = [...r.stderr.matchAll(/(\w+): (\d+) written, (\d+) failed/g)].pop();
  if (!done || done[1] !== 'completed' || Number(done[2]) !== expected.count || Number(done[3]) !== 0) {
    throw new Error(`settee replicate ${args.join(' ')}: last line says ${done ? done[0] : '(none)'}; ` +
      `expected completed: ${expected.count} written, 0 failed\nstderr:\n${r.stderr}`);
  }
  return r;
}

async function pouchPull(srcUrl, dbPath, expected) {
  const r = await timedRun(process.execPath, [thisFile, '--pouch-child', srcUrl, dbPath], timeoutFor(expected), groups);
  let out;
  try { out = JSON.parse(r.stdout.trim().split('\n').pop()); } catch { out = null; }
  if (!out || !out.ok || out.docs_written !== expected.count) {
    throw new Error(`PouchDB pull from ${srcUrl}: ${r.stdout.trim() || '(no result)'}; expected ok and ` +
      `${expected.count} docs written\nstderr:\n${r.stderr}`);
  }
  r.inner = out.seconds;
  return r;
}

// Child mode: PouchDB.replicate(SRC, new leveldb PouchDB at PATH); prints one JSON line and exits.
async function pouchChild(srcUrl, dbPath) {
  const db = new PouchDB(dbPath);
  const t0 = performance.now();
  const res = await PouchDB.replicate(srcUrl, db);
  const seconds = (performance.now() - t0) / 1000;
  await db.close();
  process.stdout.write(`${JSON.stringify({ ok: res.ok, docs_written: res.docs_written, seconds })}\n`);
}

// ---- report

const mbOf = (kb) => (kb == null ? '-' : (kb / 1024).toFixed(1));

async function bench(opts) {
  const { docs, mb, runs } = opts;
  const maxRequestBytes = mb * MiB + 16 * MiB > DEFAULT_MAX_REQUEST ? mb * MiB + 16 * MiB : undefined;
  const nodeA = await startNode('node A', { maxRequestBytes });
  const nodeB = await startNode('node B', { maxRequestBytes });
  const root = ownTempDir('att-bench');
  const attMB = (docs * mb * MiB) / 1e6; // MB/s below are decimal MB of attachment bytes per second
  console.log(`\n== ${docs} docs x one ${mb} MiB attachment (${attMB.toFixed(1)} MB) + ${SMALL_DOCS} small docs, ${runs} runs; ` +
    `max_http_request_size ${maxRequestBytes ? `${maxRequestBytes} (config)` : 'default 64 MiB'}`);
  const srcA = `${nodeA.url}/src`;
  const { expected, smallSec, attSec } = await loadSource(srcA, docs, mb);
  console.log(`  load node A: ${SMALL_DOCS} small docs ${smallSec.toFixed(1)} s; attachments (PUT raw) ${attSec.toFixed(1)} s, ` +
    `${fmt(attMB / attSec)} MB/s; checked; node A VmHWM ${mbOf(nodeA.peakRssKb())} MB`);

  let latestLocal = null; // { dir, db } of the latest (c), the source of (d)
  const localPull = async (r, dir) => {
    const res = await setteeReplicate([srcA, `dst-${r}`, '--data', dir, '--create-target'], expected);
    res.check = () => verifyLocalDb(dir, `dst-${r}`, expected, `(c) local dst-${r}`);
    res.after = () => {
      if (latestLocal && latestLocal.dir !== dir) fs.rmSync(latestLocal.dir, { recursive: true, force: true });
      latestLocal = { dir, db: `dst-${r}` };
    };
    return res;
  };
  const cases = [
    {
      key: 'a', label: '(a) PouchDB leveldb <- node A', servers: [nodeA],
      run: async (r) => {
        const dir = path.join(root, `a-${r}`);
        fs.mkdirSync(dir);
        const res = await pouchPull(srcA, path.join(dir, 'db'), expected);
        res.check = () => verifyPouchDb(path.join(dir, 'db'), expected, `(a) PouchDB db of run ${r}`);
        res.after = () => fs.rmSync(dir, { recursive: true, force: true });
        return res;
      },
    },
    {
      key: 'b', label: '(b) settee: node A -> node B', servers: [nodeA, nodeB],
      run: async (r) => {
        const dst = `${nodeB.url}/dst-${r}`;
        const res = await setteeReplicate([srcA, dst, '--create-target'], expected);
        res.check = () => verifyHttpDb(dst, expected, `(b) node B dst-${r}`);
        res.after = () => http('DELETE', dst);
        return res;
      },
    },
    { key: 'c', label: '(c) settee: node A -> local db', servers: [nodeA], run: (r) => localPull(r, path.join(root, `c-${r}`)) },
    {
      key: 'd', label: '(d) settee: local db -> node B', servers: [nodeB],
      run: async (r) => {
        if (!latestLocal) { // not with this rotation (a (c) comes first in run 1); kept for safety, untimed
          const seed = await localPull(0, path.join(root, 'c-0'));
          await seed.check();
          seed.after();
        }
        const dst = `${nodeB.url}/push-${r}`;
        const res = await setteeReplicate([latestLocal.db, dst, '--data', latestLocal.dir, '--create-target'], expected);
        res.note = `from ${latestLocal.db}`;
        res.check = () => verifyHttpDb(dst, expected, `(d) node B push-${r}`);
        res.after = () => http('DELETE', dst);
        return res;
      },
    },
  ];
  for (const c of cases) c.results = [];
  let hwmReset = true;
  for (let r = 1; r <= runs; r++) {
    const order = cases.map((_, i) => cases[(i + r - 1) % cases.length]); // rotate so none always goes first
    for (const c of order) {
      for (const s of c.servers) hwmReset = resetPeakRss(s.pid) && hwmReset;
      const base = new Map(c.servers.map((s) => [s, s.rssKb()]));
      const res = await c.run(r);
      res.hwm = new Map(c.servers.map((s) => [s, s.peakRssKb()])); // before the check's reads
      res.rate = attMB / res.seconds;
      await res.check();
      await res.after();
      c.results.push(res);
      const hwm = [...res.hwm].map(([s, kb]) => `${s.name} ${mbOf(kb)} MB (RSS before ${mbOf(base.get(s))})`).join(', ');
      console.log(`  run ${r} ${c.label.padEnd(32)} ${fmt(res.rate).padStart(6)} MB/s ${res.seconds.toFixed(2).padStart(7)} s` +
        `  peak RSS ${mbOf(res.rssKb).padStart(6)} MB  cpu ${res.cpu.toFixed(1)} s  server VmHWM: ${hwm}` +
        `${res.inner != null ? `  (replicate() itself ${res.inner.toFixed(2)} s)` : ''}${res.note ? `  ${res.note}` : ''}  checked`);
    }
  }

  const byKey = Object.fromEntries(cases.map((c) => [c.key, c]));
  const maxOf = (xs) => (xs.some((x) => x == null) ? null : Math.max(...xs));
  for (const c of cases) {
    c.rate = median(c.results.map((x) => x.rate));
    c.seconds = median(c.results.map((x) => x.seconds));
    c.rss = median(c.results.map((x) => x.rssKb));
    c.hwmA = c.servers.includes(nodeA) ? median(c.results.map((x) => x.hwm.get(nodeA))) : null;
    c.hwmB = c.servers.includes(nodeB) ? median(c.results.map((x) => x.hwm.get(nodeB))) : null;
    c.maxRss = maxOf(c.results.map((x) => x.rssKb));
  }
  console.log(`\nmedians over ${runs} run(s); server VmHWM ${hwmReset ? 'reset before each case (that case\'s peak)' :
    'NOT resettable here: peak since the server started'}`);
  console.log(`${'case'.padEnd(34)}${'MB/s'.padStart(8)}${'each run'.padStart(20)}${'wall s'.padStart(8)}` +
    `${'peak RSS MB'.padStart(13)}${'(max)'.padStart(8)}${'node A HWM'.padStart(12)}${'node B HWM'.padStart(12)}`);
  for (const c of cases) {
    console.log(`${c.label.padEnd(34)}${fmt(c.rate).padStart(8)}${c.results.map((x) => fmt(x.rate)).join('/').padStart(20)}` +
      `${c.seconds.toFixed(2).padStart(8)}${mbOf(c.rss).padStart(13)}${mbOf(c.maxRss).padStart(8)}` +
      `${(c.hwmA == null ? '-' : mbOf(c.hwmA)).padStart(12)}${(c.hwmB == null ? '-' : mbOf(c.hwmB)).padStart(12)}`);
  }
  const a = byKey.a;
  for (const k of ['b', 'c', 'd']) {
    const c = byKey[k];
    console.log(`ratio ${c.label.slice(0, 3)}/(a) settee/PouchDB: speed ${(c.rate / a.rate).toFixed(2)}x, ` +
      `replicating-process peak RSS ${(c.rss / a.rss).toFixed(3)}x (${mbOf(c.rss)} vs ${mbOf(a.rss)} MB)` +
      `${c.hwmA != null ? `, node A VmHWM ${(c.hwmA / a.hwmA).toFixed(2)}x` : ''}`);
  }
  console.log(`servers VmHWM since start: node A ${mbOf(nodeA.peakRssKb())} MB, node B ${mbOf(nodeB.peakRssKb())} MB`);
  await nodeA.stop();
  await nodeB.stop();
  fs.rmSync(root, { recursive: true, force: true });
  dirs.delete(root);
}

async function main() {
  const argv = process.argv.slice(2);
  if (argv[0] === '--pouch-child') {
    if (argv.length !== 3) throw new Error('usage: attachment_bench.mjs --pouch-child SOURCE_URL DB_PATH');
    await pouchChild(argv[1], argv[2]);
    return;
  }
  const opts = parseArgs(argv);
  await runTimedBench('attachment_bench', () => bench(opts));
}

main().then(() => process.exit(0), (e) => {
  console.error(`attachment_bench: ${e.stack || e.message}`);
  process.exit(1);
});
