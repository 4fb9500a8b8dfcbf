#!/usr/bin/env node
// Sync benchmark (issue 12): what the offline-first bookkeeping costs, and how soon a local write
// reaches a live peer.
//
// (a) Bookkeeping on local writes. A `settee serve` on a fresh data directory takes ~1 KB documents by
//     POST _bulk_docs (batches of --batch) and by single PUTs (--put-concurrency at a time), first with no
//     sync peer registered, then with one (registered by `sync_bench_device --register` while the node is
//     down: every write then keeps that peer's pending entry in its transaction, and nothing else runs). Runs alternate the two setups; reported: docs/s (median of --runs), the node's CPU time per
//     document (/usr/bin/time -v; the limit is checked on it, as other work on a shared machine does not
//     inflate it), each as a ratio against the no-peer runs of the same session, peak RSS, and the outbox
//     depth afterwards (it must equal the documents written, or the peer was not really registered). The store-level counterpart, without HTTP, is the ledger's
//     build/sync_state_bench (run too when it is built).
// (b) Write-to-arrival latency. build/sync_bench_device (tools/bench/sync_bench_device.cc) owns a local
//     database synced with a peer by settee::Sync and writes --latency-docs documents, one every
//     --interval-ms, each carrying its write time; this script follows the peer's continuous _changes
//     (include_docs) and takes arrival - write time per document. Peers: a Settee node and pouchdb-server,
//     over loopback. Reported: median, p90, p99 and max in ms, and the device's peak RSS.
//
//   node tools/bench/sync_bench.mjs [--runs 5] [--docs 50000] [--batch 100] [--puts 5000]
//        [--put-concurrency 8] [--latency-docs 500] [--interval-ms 10] [--ci]
// --ci: a quick check (fewer documents and runs) that fails when a document does not arrive, the outbox
// count is wrong, or bookkeeping costs more than 25% (a loose bound for short, noisy runs); the full run
// fails past the 10%.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import nodeHttp from 'node:http';
import path from 'node:path';
import {
  freePort, http, setteeBinary, sleep, startPouchServer, startSettee, tempDir,
} from '../../compat/helpers.mjs';
import { makeDoc } from './bench_docs.mjs';
import { fmt, median, parseOptions, runTimedBench } from './bench_util.mjs';

function parseArgs(argv) {
  const opts = { runs: 5, docs: 50000, batch: 100, puts: 5000, putConcurrency: 8, latencyDocs: 500, intervalMs: 10, ci: false };
  const usage = 'sync_bench.mjs [--runs R] [--docs N] [--batch B] [--puts N] [--put-concurrency C] ' +
    '[--latency-docs N] [--interval-ms MS] [--ci]';
  parseOptions(argv, opts, usage, (a, take) => {
    if (a === '--runs') opts.runs = take.int();
    else if (a === '--docs') opts.docs = take.int();
    else if (a === '--batch') opts.batch = take.int();
    else if (a === '--puts') opts.puts = take.int();
    else if (a === '--put-concurrency') opts.putConcurrency = take.int();
    else if (a === '--latency-docs') opts.latencyDocs = take.int();
    else if (a === '--interval-ms') opts.intervalMs = take.int();
    else if (a === '--ci') Object.assign(opts, { ci: true, runs: 3, docs: 3000, puts: 300, latencyDocs: 60 });
    else return false;
    return true;
  });
  return opts;
}

const opts = parseArgs(process.argv.slice(2));
const groups = new Set(); // process groups of /usr/bin/time children, killed on exit
process.on('exit', () => { for (const g of groups) { try { process.kill(-g, 'SIGKILL'); } catch { /* gone */ } } });
const problems = [];

// `settee serve` on `data` under /usr/bin/time -v; stop() returns its peak RSS in kB and CPU seconds.
async function timedServe(data) {
  const port = await freePort();
  const timeFile = path.join(path.dirname(data), `time-${port}.txt`);
  const child = spawn('/usr/bin/time', ['-v', '-o', timeFile, setteeBinary(), 'serve', '--bind', '127.0.0.1',
    '--port', String(port), '--data', data, '--log-level', 'none'], { stdio: 'ignore', detached: true });
  groups.add(child.pid);
  const exited = new Promise((r) => child.once('close', r));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try { if ((await http('GET', `${url}/_up`, undefined, { timeoutMs: 1000 })).status === 200) break; } catch { /* not yet */ }
    if (i > 300) throw new Error('settee serve did not come up');
    await sleep(50);
  }
  return {
    url,
    stop: async () => {
      // SIGTERM to settee alone (the child of /usr/bin/time), so time lives to write its report.
      let served = [];
      try { served = fs.readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(/\s+/); } catch { /* gone */ }
      for (const pid of served.filter(Boolean)) { try { process.kill(Number(pid), 'SIGTERM'); } catch { /* gone */ } }
      await exited;
      groups.delete(child.pid);
      const text = fs.readFileSync(timeFile, 'utf8');
      const m = /Maximum resident set size \(kbytes\):\s*(\d+)/.exec(text);
      const user = /User time \(seconds\):\s*([\d.]+)/.exec(text);
      const sys = /System time \(seconds\):\s*([\d.]+)/.exec(text);
      return { rssKb: m ? Number(m[1]) : null, cpu: user && sys ? Number(user[1]) + Number(sys[1]) : NaN };
    },
  };
}

// The outbox depth for `peer` (sync_bench_device --pending, straight from the ledger).
async function pending(data, peer) {
  const r = await new Promise((resolve) => {
    const c = spawn(deviceBinary(), ['--pending', data, 'app', peer], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d) => { out += d; });
    c.stderr.on('data', (d) => { out += d; });
    c.once('close', (code) => resolve({ code, out }));
  });
  return r.code === 0 ? Number(r.out.trim()) : r.out.trim();
}

// One run of (a): returns { bulkRate, putRate, rssKb, pending }.
async function bookkeepingRun(withPeer) {
  const dir = tempDir('sync-bench');
  const data = path.join(dir, 'data');
  const peer = `http://127.0.0.1:${await freePort()}/nobody-listens`;
  try {
    let node = await timedServe(data);
    if ((await http('PUT', `${node.url}/app`)).status !== 201) throw new Error('PUT /app failed');
    await node.stop();
    if (withPeer) {
      const r = await new Promise((resolve) => {
        const c = spawn(deviceBinary(), ['--register', data, 'app', peer], { stdio: ['ignore', 'ignore', 'pipe'] });
        let err = '';
        c.stderr.on('data', (d) => { err += d; });
        c.once('close', (code) => resolve({ code, err }));
      });
      if (r.code !== 0) throw new Error(`registering the peer failed (${r.code}): ${r.err}`);
    }
    node = await timedServe(data);
    const db = `${node.url}/app`;
    const t0 = performance.now();
    for (let at = 0; at < opts.docs; at += opts.batch) {
      const docs = [];
      for (let i = at; i < Math.min(opts.docs, at + opts.batch); i++) docs.push(makeDoc(i));
      const res = await http('POST', `${db}/_bulk_docs`, { docs }, { timeoutMs: 120000 });
      if (res.status !== 201) throw new Error(`_bulk_docs: ${res.status} ${res.text.slice(0, 200)}`);
    }
    const bulkRate = opts.docs / ((performance.now() - t0) / 1000);
    let next = 0;
    const t1 = performance.now();
    await Promise.all(Array.from({ length: opts.putConcurrency }, async () => {
      for (let i = next++; i < opts.puts; i = next++) {
        const doc = { ...makeDoc(i), _id: `put-${String(i).padStart(7, '0')}` };
        const res = await http('PUT', `${db}/${doc._id}`, doc);
        if (res.status !== 201) throw new Error(`PUT: ${res.status} ${res.text.slice(0, 200)}`);
      }
    }));
    const putRate = opts.puts / ((performance.now() - t1) / 1000);
    const { rssKb, cpu } = await node.stop();
    const outbox = withPeer ? await pending(data, peer) : undefined;
    if (withPeer && outbox !== opts.docs + opts.puts) {
      problems.push(`with a registered peer the outbox holds ${outbox} documents, not the ${opts.docs + opts.puts} written`);
    }
    // The node's CPU seconds per document over the whole run (start-up aside, the same in both setups):
    // what the bookkeeping adds, without the wall clock's noise from other work on the machine.
    return { bulkRate, putRate, rssKb, cpuPerKDoc: (cpu / (opts.docs + opts.puts)) * 1000, pending: outbox };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function bookkeeping() {
  console.log(`\n(a) bookkeeping: ${opts.docs} docs by _bulk_docs (batches of ${opts.batch}) + ${opts.puts} PUTs ` +
    `(${opts.putConcurrency} at a time), ~1 KB each, ${opts.runs} runs alternating`);
  const rows = { 0: [], 1: [] };
  for (let run = 0; run < opts.runs; run++) {
    const order = run % 2 ? [1, 0] : [0, 1];
    for (const peers of order) rows[peers].push(await bookkeepingRun(peers === 1));
  }
  const m = (peers, k) => median(rows[peers].map((r) => r[k]));
  console.log('peers  bulk docs/s  ratio   PUT docs/s  ratio   CPU ms/1k docs  ratio  peak RSS MB  outbox after');
  for (const peers of [0, 1]) {
    console.log(`${String(peers).padEnd(7)}${fmt(m(peers, 'bulkRate')).padStart(11)}  ` +
      `${(m(peers, 'bulkRate') / m(0, 'bulkRate')).toFixed(3).padStart(5)}  ${fmt(m(peers, 'putRate')).padStart(11)}  ` +
      `${(m(peers, 'putRate') / m(0, 'putRate')).toFixed(3).padStart(5)}  ` +
      `${fmt(m(peers, 'cpuPerKDoc') * 1000).padStart(14)}  ${(m(peers, 'cpuPerKDoc') / m(0, 'cpuPerKDoc')).toFixed(3).padStart(5)}  ` +
      `${fmt(m(peers, 'rssKb') / 1024).padStart(11)}  ` +
      `${peers ? rows[1].map((r) => r.pending).join('/') : '-'}`);
  }
  // The limit is checked on the node's CPU time per document, which other work on a shared machine does
  // not inflate; the wall-clock rates are printed beside it.
  const limit = opts.ci ? 0.25 : 0.10;
  for (const k of ['bulkRate', 'putRate']) {
    console.log(`wall-clock cost on ${k === 'bulkRate' ? '_bulk_docs' : 'single PUTs'}: ` +
      `${((1 - m(1, k) / m(0, k)) * 100).toFixed(1)}%`);
  }
  const cost = m(1, 'cpuPerKDoc') / m(0, 'cpuPerKDoc') - 1;
  console.log(`bookkeeping cost in the node's CPU time per document: ${(cost * 100).toFixed(1)}% (limit ${limit * 100}%)`);
  if (cost > limit) problems.push(`bookkeeping costs ${(cost * 100).toFixed(1)}% more CPU per write (limit ${limit * 100}%)`);
  const storeBench = path.join(path.dirname(setteeBinary()), 'sync_state_bench');
  if (fs.existsSync(storeBench)) {
    console.log(`\nthe store-level counterpart (${storeBench}):`);
    const r = await new Promise((resolve) => {
      const c = spawn(storeBench, opts.ci ? ['2000', '3'] : [], { stdio: 'inherit' });
      c.once('close', resolve);
    });
    if (r !== 0) problems.push(`sync_state_bench exited ${r}`);
  }
}

// Follows `db`'s continuous changes from now; calls onDoc(doc, arrivalMs) for each. Returns { ready, close }.
function follow(db, onDoc) {
  let req;
  const ready = new Promise((resolve, reject) => {
    req = nodeHttp.get(`${db}/_changes?feed=continuous&include_docs=true&since=now&heartbeat=5000`, (res) => {
      if (res.statusCode !== 200) { reject(new Error(`_changes: ${res.statusCode}`)); return; }
      resolve();
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        const at = performance.timeOrigin + performance.now();
        buf += chunk;
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (!line) continue;
          try {
            const row = JSON.parse(line);
            if (row.doc) onDoc(row.doc, at);
          } catch { /* not a row */ }
        }
      });
      res.on('error', () => {});
    });
    req.on('error', (e) => reject(e));
  });
  return { ready, close: () => req.destroy() };
}

function deviceBinary() {
  const device = path.join(path.dirname(setteeBinary()), 'sync_bench_device');
  if (!fs.existsSync(device)) throw new Error(`${device} is not built (cmake --build build --target sync_bench_device)`);
  return device;
}

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

async function latency(kind) {
  const peer = kind === 'settee' ? await startSettee() : await startPouchServer();
  const dir = tempDir('sync-latency');
  try {
    const db = `${peer.url}/live`;
    if ((await http('PUT', db)).status !== 201) throw new Error(`PUT ${db} failed`);
    const latencies = new Map();
    const feed = follow(db, (doc, at) => {
      if (doc._id.startsWith('lat-') && typeof doc.t === 'number' && !latencies.has(doc._id)) {
        latencies.set(doc._id, at - doc.t / 1000);
      }
    });
    await feed.ready;
    const device = deviceBinary();
    const timeFile = path.join(dir, 'time.txt');
    const child = spawn('/usr/bin/time', ['-v', '-o', timeFile, device, path.join(dir, 'device'), db,
      String(opts.latencyDocs), String(opts.intervalMs), 'lat'], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    groups.add(child.pid);
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const code = await new Promise((r) => child.once('close', r));
    groups.delete(child.pid);
    for (let i = 0; i < 50 && latencies.size < opts.latencyDocs; i++) await sleep(100);
    feed.close();
    const rss = /Maximum resident set size \(kbytes\):\s*(\d+)/.exec(fs.existsSync(timeFile) ? fs.readFileSync(timeFile, 'utf8') : '');
    if (code !== 0) problems.push(`${kind}: sync_bench_device exited ${code}: ${out.trim().slice(-500)}`);
    if (latencies.size < opts.latencyDocs) {
      problems.push(`${kind}: ${latencies.size} of ${opts.latencyDocs} documents reached the peer`);
    }
    const sorted = [...latencies.values()].sort((a, b) => a - b);
    if (sorted.length) {
      console.log(`${kind.padEnd(15)}${String(sorted.length).padStart(6)}  ${median(sorted).toFixed(1).padStart(9)}  ` +
        `${pct(sorted, 90).toFixed(1).padStart(7)}  ${pct(sorted, 99).toFixed(1).padStart(7)}  ` +
        `${sorted[sorted.length - 1].toFixed(1).padStart(7)}  ${rss ? fmt(Number(rss[1]) / 1024) : '-'}`);
    }
  } finally {
    await peer.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await runTimedBench('sync_bench', async () => {
  try {
    await bookkeeping();
  } catch (e) {
    problems.push(`bookkeeping: ${e.message}`);
  }
  console.log(`\n(b) write-to-arrival over loopback: ${opts.latencyDocs} local writes, one every ${opts.intervalMs} ms, ` +
    'settee::Sync to a live peer');
  console.log('peer            docs  median ms   p90 ms   p99 ms   max ms  device peak RSS MB');
  for (const kind of ['settee', 'pouchdb-server']) {
    try {
      await latency(kind);
    } catch (e) {
      problems.push(`${kind}: ${e.message}`);
    }
  }
});
if (problems.length) {
  console.log(`\nFAILED:\n- ${problems.join('\n- ')}`);
  process.exit(1);
}
