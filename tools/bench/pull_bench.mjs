#!/usr/bin/env node
// Pull benchmark: how fast does a PouchDB (node) pull a database from a Settee node, and from
// pouchdb-server, holding the same documents?
//
// Loads N documents of ~1 KB into both servers (POST _bulk_docs in batches), then per run has a fresh
// local PouchDB pull from each with PouchDB's defaults (PouchDB.replicate(remote, local)), and reports
// docs/s, the median over the runs and the Settee/pouchdb-server ratio, the peak RSS (VmHWM) of each
// server process, and `wrk` requests/s for GET of one document and of _all_docs?limit=100.
// It is a benchmark, not a test: tools/test.sh does not run it. Needs `npm ci` in compat/ and `wrk`.
//
//   node tools/bench/pull_bench.mjs [--n 100000] [--runs 3] [--local memory|leveldb]
//        [--pouchdb-server-storage leveldb|memory] [--wrk-seconds 10] [--no-wrk]
//   (SETTEE_BINARY selects the settee binary, default build/settee)
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  PouchDB, startSettee, startPouchServer, localDb, http,
} from '../../compat/helpers.mjs';
import { makeDoc, loadDocs } from './bench_docs.mjs';
import { parseOptions, median, fmt } from './bench_util.mjs';

const run = promisify(execFile);

function parseArgs(argv) {
  const opts = { n: 100000, runs: 3, local: 'memory', psStorage: 'leveldb', wrkSeconds: 10, wrk: true, batch: 1000 };
  const usage = 'pull_bench.mjs [--n N] [--runs R] [--local memory|leveldb] ' +
    '[--pouchdb-server-storage leveldb|memory] [--load-batch B] [--wrk-seconds S] [--no-wrk]';
  parseOptions(argv, opts, usage, (a, take) => {
    if (a === '--n') opts.n = take.int();
    else if (a === '--runs') opts.runs = take.int();
    else if (a === '--load-batch') opts.batch = take.int();
    else if (a === '--local') opts.local = take.value();
    else if (a === '--pouchdb-server-storage') opts.psStorage = take.value();
    else if (a === '--wrk-seconds') opts.wrkSeconds = take.int();
    else if (a === '--no-wrk') opts.wrk = false;
    else return false;
    return true;
  });
  if (!['memory', 'leveldb'].includes(opts.local)) throw new Error('--local is memory or leveldb');
  if (!['memory', 'leveldb'].includes(opts.psStorage)) throw new Error('--pouchdb-server-storage is memory or leveldb');
  return opts;
}

// Documents per second of a load of n documents.
async function load(url, n, batch) {
  return n / await loadDocs(url, n, batch);
}

async function pullOnce(url, n, adapter) {
  const local = localDb('bench', { adapter });
  try {
    const t0 = performance.now();
    const res = await PouchDB.replicate(url, local);
    const seconds = (performance.now() - t0) / 1000;
    if (!res.ok || res.docs_written !== n) {
      throw new Error(`pull from ${url}: ok=${res.ok} docs_written=${res.docs_written}, expected ${n}`);
    }
    return n / seconds;
  } finally {
    await local.cleanup();
  }
}

async function wrk(url, seconds) {
  const { stdout } = await run('wrk', ['-t2', '-c32', `-d${seconds}s`, url], { timeout: (seconds + 30) * 1000 });
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(stdout);
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(stdout);
  if (!rps) throw new Error(`wrk printed no Requests/sec:\n${stdout}`);
  return { rps: Number(rps[1]), errors: non2xx ? Number(non2xx[1]) : 0 };
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const settee = await startSettee();
  const pserver = await startPouchServer({ inMemory: opts.psStorage === 'memory' });
  const servers = [
    { name: 'settee', server: settee, url: `${settee.url}/bench` },
    { name: 'pouchdb-server', server: pserver, url: `${pserver.url}/bench` },
  ];
  try {
    console.log(`pull_bench: N=${opts.n} docs of ~1 KB, ${opts.runs} runs, local PouchDB adapter ${opts.local}, ` +
      `pouchdb-server storage ${opts.psStorage}`);
    for (const s of servers) {
      s.loadRate = await load(s.url, opts.n, opts.batch);
      console.log(`  loaded ${s.name}: ${fmt(s.loadRate)} docs/s (_bulk_docs, batches of ${opts.batch})`);
      s.pulls = [];
    }
    for (let r = 0; r < opts.runs; r++) {
      // Alternate the order so neither server always runs on a warmer machine.
      const order = r % 2 ? [...servers].reverse() : servers;
      for (const s of order) {
        const rate = await pullOnce(s.url, opts.n, opts.local);
        s.pulls.push(rate);
        console.log(`  run ${r + 1} pull from ${s.name}: ${fmt(rate)} docs/s`);
      }
    }
    // Peak RSS through loading and pulling; read again after wrk below when the process is still there.
    for (const s of servers) s.rssKb = s.server.peakRssKb();
    if (opts.wrk) {
      for (const s of servers) {
        s.wrkDoc = await wrk(`${s.url}/${makeDoc(1)._id}`, opts.wrkSeconds);
        s.wrkAll = await wrk(`${s.url}/_all_docs?limit=100`, opts.wrkSeconds);
        console.log(`  wrk ${s.name}: GET doc ${fmt(s.wrkDoc.rps)} req/s, GET _all_docs?limit=100 ${fmt(s.wrkAll.rps)} req/s`);
      }
    }
    const warnings = [];
    for (const s of servers) {
      // A server that died during wrk (e.g. SIGPIPE when wrk drops its connections) must not go unnoticed.
      const gone = await Promise.race([s.server.exited, new Promise((r) => setTimeout(r, 10, null))]);
      if (gone) warnings.push(`${s.name} exited during wrk: ${JSON.stringify(gone)} ${s.server.stderr}`.trim());
      else s.rssKb = s.server.peakRssKb() ?? s.rssKb;
    }

    const [a, b] = servers;
    const mA = median(a.pulls);
    const mB = median(b.pulls);
    console.log('');
    console.log(`${''.padEnd(34)}${'settee'.padStart(14)}${'pouchdb-server'.padStart(16)}${'ratio'.padStart(9)}`);
    const line = (label, x, y) => console.log(
      `${label.padEnd(34)}${fmt(x).padStart(14)}${fmt(y).padStart(16)}${(x / y).toFixed(2).padStart(9)}`);
    line(`pull docs/s (median of ${opts.runs})`, mA, mB);
    console.log(`${'pull docs/s (each run)'.padEnd(34)}${a.pulls.map(fmt).join('/').padStart(14)}${b.pulls.map(fmt).join('/').padStart(16)}`);
    line('load docs/s (_bulk_docs)', a.loadRate, b.loadRate);
    if (opts.wrk) {
      line(`wrk GET one doc req/s`, a.wrkDoc.rps, b.wrkDoc.rps);
      line(`wrk GET _all_docs?limit=100 req/s`, a.wrkAll.rps, b.wrkAll.rps);
      const errs = servers.map((s) => s.wrkDoc.errors + s.wrkAll.errors);
      if (errs.some((e) => e)) console.log(`wrk non-2xx answers: settee ${errs[0]}, pouchdb-server ${errs[1]}`);
    }
    for (const w of warnings) console.log(`WARNING: ${w}`);
    console.log(`${'peak RSS MB (VmHWM)'.padEnd(34)}${fmt((a.rssKb ?? NaN) / 1024).padStart(14)}${fmt((b.rssKb ?? NaN) / 1024).padStart(16)}`);
  } finally {
    await settee.stop();
    await pserver.stop();
  }
}

main().then(() => process.exit(0), (e) => {
  console.error(`pull_bench: ${e.stack || e.message}`);
  process.exit(1);
});
