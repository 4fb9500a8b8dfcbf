#!/usr/bin/env node
// Replication benchmark (issue 4): how fast, and in how much memory, does Settee's replicator pull a
// database, next to PouchDB pulling the same documents from the same node?
//
// One run of this script loads N deterministic documents of ~1 KB into a Settee node A (`settee serve`,
// POST _bulk_docs in batches) and copies them into pouchdb-server with `settee replicate` (so both sources
// hold the same documents with the same revisions). Then, per run, each on a fresh target:
//   (a) PouchDB (node, leveldb adapter, fresh local db): PouchDB.replicate(A/src, local), in this process;
//   (b) `settee replicate A/src B/dst-… --create-target`: into a second Settee node B over loopback HTTP;
//   (c) `settee replicate A/src dst-… --data DIR --create-target`: into a local database;
//   (d) `settee replicate PS/src dst-… --data DIR --create-target`: from pouchdb-server into a local database.
// (b)-(d) run as child processes under `/usr/bin/time -v` (peak RSS = its "Maximum resident set size");
// their time is the child's wall time, process start included. Every result is checked: PouchDB must
// report docs_written = N, each settee replicate must exit 0 and report N written, and the target must
// then hold N documents (node B: GET /dst; local: a short-lived `settee serve` on DIR answers GET /dst).
// It prints docs/s of each run (with the CPU seconds of the puller and of the servers involved, steadier
// than docs/s on a busy machine), the median over --runs, the ratios (b)/(a), (c)/(a), (b)/(d), the peak RSS
// of each settee replicate and of the servers (VmHWM), and the load average at start and end (the machine
// may be shared: read medians). The order of (a)-(d) rotates from run to run.
//
// --million adds a memory run: a fresh node loaded with --big-n documents (default 1,000,000; load time
// printed) pulled by `settee replicate` into a local database and into another node, with the peak RSS
// of each (the aim is < 100 MB whatever the size). --no-compare skips (a)-(d) (e.g. with --million).
// It is a benchmark, not a test: tools/test.sh does not run it. Needs `npm ci` in compat/ and /usr/bin/time.
//
//   node tools/bench/replication_bench.mjs [--n 100000] [--runs 3] [--load-batch 1000]
//        [--pouchdb-server-storage leveldb|memory] [--million] [--big-n 1000000] [--big-load-batch 2000]
//        [--no-compare]
//   (SETTEE_BINARY selects the settee binary, default build/settee; tools/bench/replication_bench.sh wraps it)
import fs from 'node:fs';
import path from 'node:path';
import {
  PouchDB, startSettee, startPouchServer, localDb, http, tempDir,
} from '../../compat/helpers.mjs';
import { loadDocs, docCount } from './bench_docs.mjs';
import { parseOptions, median, fmt, runTimedBench } from './bench_util.mjs';
import * as settee from './settee_runs.mjs';

const AIM_RATIO_POUCH = 5; // Settee >= 5x PouchDB from the same source
const AIM_NODE_RATE = 30000; // Settee -> Settee docs/s
const AIM_RSS_MB = 100; // peak RSS of settee replicate

function parseArgs(argv) {
  const opts = {
    n: 100000, runs: 3, batch: 1000, psStorage: 'leveldb', million: false, bigN: 1000000, bigBatch: 2000, compare: true,
  };
  const usage = 'replication_bench.mjs [--n N] [--runs R] [--load-batch B] ' +
    '[--pouchdb-server-storage leveldb|memory] [--million] [--big-n N] [--big-load-batch B] [--no-compare]';
  parseOptions(argv, opts, usage, (a, take) => {
    if (a === '--n') opts.n = take.int();
    else if (a === '--runs') opts.runs = take.int();
    else if (a === '--load-batch') opts.batch = take.int();
    else if (a === '--pouchdb-server-storage') opts.psStorage = take.value();
    else if (a === '--million') opts.million = true;
    else if (a === '--big-n') { opts.bigN = take.int(); opts.million = true; }
    else if (a === '--big-load-batch') opts.bigBatch = take.int();
    else if (a === '--no-compare') opts.compare = false;
    else return false;
    return true;
  });
  if (!['memory', 'leveldb'].includes(opts.psStorage)) throw new Error('--pouchdb-server-storage is memory or leveldb');
  if (!opts.compare && !opts.million) throw new Error('--no-compare without --million leaves nothing to do');
  return opts;
}

const load = loadDocs;

// Process groups of the `/usr/bin/time settee replicate` children still running, killed on exit.
const running = new Set();
process.on('exit', () => {
  for (const pid of running) {
    try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ }
  }
});

const timedSettee = (args, timeoutMs) => settee.timedSettee(args, timeoutMs, running);
const setteePull = (source, target, n, where) => settee.setteePull(source, target, n, running, where);

async function pouchPull(url, n) {
  const local = localDb('bench', { adapter: 'leveldb' });
  try {
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const res = await PouchDB.replicate(url, local);
    const seconds = (performance.now() - t0) / 1000;
    const cpu1 = process.cpuUsage(cpu0);
    if (!res.ok || res.docs_written !== n) {
      throw new Error(`PouchDB pull from ${url}: ok=${res.ok} docs_written=${res.docs_written}, expected ${n}`);
    }
    const info = await local.info();
    if (info.doc_count !== n) throw new Error(`PouchDB pull from ${url}: local doc_count ${info.doc_count}, expected ${n}`);
    return { rate: n / seconds, seconds, rssKb: null, cpu: (cpu1.user + cpu1.system) / 1e6 };
  } finally {
    await local.cleanup();
  }
}

// CPU seconds (user + system) a process has used so far, from /proc/PID/stat (USER_HZ = 100 on Linux).
function cpuSeconds(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // f[0] is field 3 (state)
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return NaN;
  }
}

const mb = (kb) => (kb == null ? '-' : (kb / 1024).toFixed(1));
const verdict = (ok) => (ok ? 'met' : 'NOT met');

async function compare(opts) {
  const n = opts.n;
  const nodeA = await startSettee();
  const nodeB = await startSettee();
  const pserver = await startPouchServer({ inMemory: opts.psStorage === 'memory' });
  const localRoot = tempDir('bench-local');
  try {
    const srcA = `${nodeA.url}/src`;
    const srcPS = `${pserver.url}/src`;
    console.log(`\n== compare: N=${n} docs of ~1 KB, ${opts.runs} runs; pouchdb-server storage ${opts.psStorage}`);
    const loadSec = await load(srcA, n, opts.batch);
    console.log(`  load settee node A (_bulk_docs, batches of ${opts.batch}): ${loadSec.toFixed(1)} s, ${fmt(n / loadSec)} docs/s`);
    const rssAAfterLoad = nodeA.peakRssKb();
    const psLoad = await timedSettee(['replicate', srcA, srcPS, '--create-target'], Math.max(1800000, n * 20));
    const psCount = await docCount(srcPS);
    if (psLoad.written !== n || psCount !== n) {
      throw new Error(`loading pouchdb-server: ${psLoad.written} written, doc_count ${psCount}, expected ${n}\n${psLoad.stderr}`);
    }
    console.log(`  load pouchdb-server (settee replicate A -> pouchdb-server): ${psLoad.seconds.toFixed(1)} s, ` +
      `${fmt(n / psLoad.seconds)} docs/s, settee replicate peak RSS ${mb(psLoad.rssKb)} MB`);

    const cases = [
      { key: 'a', label: '(a) PouchDB leveldb <- node A', servers: [nodeA], run: () => pouchPull(srcA, n) },
      { key: 'b', label: '(b) settee: node A -> node B', servers: [nodeA, nodeB], run: (r) => setteePull(srcA, `${nodeB.url}/dst-${r}`, n, { targetUrl: `${nodeB.url}/dst-${r}` }) },
      { key: 'c', label: '(c) settee: node A -> local db', servers: [nodeA], run: (r) => setteePull(srcA, `dst-${r}`, n, { dataDir: path.join(localRoot, `c-${r}`) }) },
      { key: 'd', label: '(d) settee: pouchdb-server -> local', servers: [pserver], run: (r) => setteePull(srcPS, `dst-${r}`, n, { dataDir: path.join(localRoot, `d-${r}`) }) },
    ];
    for (const c of cases) c.results = [];
    const names = new Map([[nodeA, 'node A'], [nodeB, 'node B'], [pserver, 'pouchdb-server']]);
    for (let r = 0; r < opts.runs; r++) {
      const order = cases.map((_, i) => cases[(i + r) % cases.length]); // rotate so none always goes first
      for (const c of order) {
        const cpu0 = c.servers.map((s) => cpuSeconds(s.pid));
        const res = await c.run(r + 1);
        // Includes the target count check after the pull, a small part next to the pull itself.
        const serverDelta = c.servers.map((s, i) => cpuSeconds(s.pid) - cpu0[i]);
        const serverCpu = c.servers.map((s, i) => `${names.get(s)} ${serverDelta[i].toFixed(1)}`);
        res.totalCpu = res.cpu + serverDelta.reduce((x, y) => x + y, 0);
        c.results.push(res);
        console.log(`  run ${r + 1} ${c.label.padEnd(38)} ${fmt(res.rate).padStart(7)} docs/s  ${res.seconds.toFixed(1).padStart(6)} s` +
          `  ${res.rssKb != null ? `peak RSS ${mb(res.rssKb).padStart(5)} MB` : `${''.padStart(18)}`}` +
          `  cpu s: ${c.key === 'a' ? 'PouchDB' : 'replicate'} ${res.cpu.toFixed(1)}, ${serverCpu.join(', ')}`);
        // Each local target is read once (counted) and then not needed: free the disk.
        fs.rmSync(path.join(localRoot, `${c.key}-${r + 1}`), { recursive: true, force: true });
      }
      await http('DELETE', `${nodeB.url}/dst-${r + 1}`);
    }

    const byKey = Object.fromEntries(cases.map((c) => [c.key, c]));
    for (const c of cases) {
      c.median = median(c.results.map((x) => x.rate));
      const rss = c.results.map((x) => x.rssKb).filter((x) => x != null);
      c.maxRssKb = rss.length ? Math.max(...rss) : null;
    }
    console.log('');
    console.log(`${'case'.padEnd(40)}${`median docs/s`.padStart(14)}${'each run'.padStart(24)}${'max peak RSS MB'.padStart(17)}` +
      `${'median cpu s, all procs'.padStart(25)}`);
    for (const c of cases) {
      console.log(`${c.label.padEnd(40)}${fmt(c.median).padStart(14)}${c.results.map((x) => fmt(x.rate)).join('/').padStart(24)}` +
        `${(c.maxRssKb == null ? '(in bench proc)' : mb(c.maxRssKb)).padStart(17)}` +
        `${median(c.results.map((x) => x.totalCpu)).toFixed(1).padStart(25)}`);
    }
    const ratio = (x, y) => byKey[x].median / byKey[y].median;
    console.log(`ratio (b)/(a) settee->settee vs PouchDB:    ${ratio('b', 'a').toFixed(2)}  (aim >= ${AIM_RATIO_POUCH}: ${verdict(ratio('b', 'a') >= AIM_RATIO_POUCH)})`);
    console.log(`ratio (c)/(a) settee->local vs PouchDB:     ${ratio('c', 'a').toFixed(2)}  (aim >= ${AIM_RATIO_POUCH}: ${verdict(ratio('c', 'a') >= AIM_RATIO_POUCH)})`);
    console.log(`ratio (b)/(d) settee source vs pouchdb-server source: ${ratio('b', 'd').toFixed(2)}`);
    console.log(`settee -> settee (b) median ${fmt(byKey.b.median)} docs/s  (aim >= ${AIM_NODE_RATE}: ${verdict(byKey.b.median >= AIM_NODE_RATE)})`);
    const maxRepl = Math.max(byKey.b.maxRssKb, byKey.c.maxRssKb, byKey.d.maxRssKb);
    console.log(`settee replicate max peak RSS ${mb(maxRepl)} MB  (aim < ${AIM_RSS_MB}: ${verdict(maxRepl / 1024 < AIM_RSS_MB)})`);
    console.log(`servers peak RSS (VmHWM): settee node A ${mb(nodeA.peakRssKb())} MB (${mb(rssAAfterLoad)} after load), ` +
      `settee node B ${mb(nodeB.peakRssKb())} MB, pouchdb-server ${mb(pserver.peakRssKb())} MB; ` +
      `this bench process (PouchDB in (a)) maxRSS ${mb(process.resourceUsage().maxRSS)} MB`);
  } finally {
    await nodeA.stop();
    await nodeB.stop();
    await pserver.stop();
    fs.rmSync(localRoot, { recursive: true, force: true });
  }
}

async function million(opts) {
  const n = opts.bigN;
  const nodeA = await startSettee();
  const nodeB = await startSettee();
  const localRoot = tempDir('bench-big');
  try {
    console.log(`\n== memory: N=${n} docs of ~1 KB`);
    const loadSec = await load(`${nodeA.url}/big`, n, opts.bigBatch);
    console.log(`  load settee node A (_bulk_docs, batches of ${opts.bigBatch}): ${loadSec.toFixed(1)} s, ${fmt(n / loadSec)} docs/s; ` +
      `node A VmHWM ${mb(nodeA.peakRssKb())} MB`);
    const local = await setteePull(`${nodeA.url}/big`, 'big', n, { dataDir: path.join(localRoot, 'local') });
    fs.rmSync(path.join(localRoot, 'local'), { recursive: true, force: true });
    console.log(`  settee replicate node A -> local db: ${fmt(local.rate)} docs/s, ${local.seconds.toFixed(1)} s, cpu ${local.cpu.toFixed(1)} s, ` +
      `peak RSS ${mb(local.rssKb)} MB  (aim < ${AIM_RSS_MB}: ${verdict(local.rssKb / 1024 < AIM_RSS_MB)})`);
    const node = await setteePull(`${nodeA.url}/big`, `${nodeB.url}/big`, n, { targetUrl: `${nodeB.url}/big` });
    console.log(`  settee replicate node A -> node B:   ${fmt(node.rate)} docs/s, ${node.seconds.toFixed(1)} s, cpu ${node.cpu.toFixed(1)} s, ` +
      `peak RSS ${mb(node.rssKb)} MB  (aim < ${AIM_RSS_MB}: ${verdict(node.rssKb / 1024 < AIM_RSS_MB)})`);
    console.log(`  servers peak RSS (VmHWM): node A ${mb(nodeA.peakRssKb())} MB, node B ${mb(nodeB.peakRssKb())} MB`);
  } finally {
    await nodeA.stop();
    await nodeB.stop();
    fs.rmSync(localRoot, { recursive: true, force: true });
  }
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  await runTimedBench('replication_bench', async () => {
    if (opts.compare) await compare(opts);
    if (opts.million) await million(opts);
  });
}

main().then(() => process.exit(0), (e) => {
  console.error(`replication_bench: ${e.stack || e.message}`);
  process.exit(1);
});
