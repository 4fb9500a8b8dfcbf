#!/usr/bin/env node
// Mango benchmark: what an index buys a `_find`, what it costs to build and to keep, and that the node's
// memory does not grow with the database.
//
// One node (build/settee, or SETTEE_BINARY) gets N documents of ~1 KB (bench_docs.mjs's body plus `grp`, 20
// documents per value spread over the whole id range, `ts`, a permutation of 0..N-1, and `route`, 50
// values) by POST _bulk_docs. Then, each timed over HTTP as the median of R runs:
//   equality       {"grp": G}, 20 rows: without an index (a scan of every document) and with one on grp
//   range + sort   {"ts": {"$gte": X, "$lt": X+20}} sorted by ts, 20 rows: with an index on ts; without one
//                  the same selector unsorted (CouchDB refuses a sort no index serves: no_usable_index)
//   newest first   {"route": R, "ts": {"$gt": 0}} sorted by route, ts descending, 20 rows ([route, ts] index)
// The answers with and without an index must be the same documents. Building an index is timed as its
// POST /_index plus the first _find that uses it. The write cost of indexes is the _bulk_docs rate into a
// fresh database with 0, 1 and 3 indexes (W documents each, on a fresh node; the median of WR rounds). Peak RSS (VmHWM, the figure
// /usr/bin/time -v reports) of the node is measured for N and for N/10 (a second node doing the same
// load, indexes and queries), to show it flat in N.
//
//   tools/bench/mango_bench.sh [--docs N] [--quick] [--ci] [--runs R] [--scan-runs S] [--write-docs W]
//                              [--write-runs WR] [--batch B] [--check | --no-check]
// --docs: default 1,000,000; --quick: 100,000; --ci: 20,000 with few runs (a check that the script works).
// --check (the default at 1,000,000 documents and more) exits 1 unless each indexed query's median is under
// 10 ms and at least 100 times faster than without the index.
import { startSettee, http } from '../../compat/helpers.mjs';
import { makeDoc } from './bench_docs.mjs';
import { parseOptions, median, fmt, runTimedBench } from './bench_util.mjs';

function parseArgs(argv) {
  const opts = { docs: 1000000, runs: 20, scanRuns: 5, writeDocs: null, writeRuns: 3, batch: 2000, check: null };
  const usage = 'mango_bench.sh [--docs N] [--quick] [--ci] [--runs R] [--scan-runs S] [--write-docs W] ' +
    '[--write-runs WR] [--batch B] [--check | --no-check]';
  parseOptions(argv, opts, usage, (a, take) => {
    if (a === '--docs') opts.docs = take.int();
    else if (a === '--quick') opts.docs = 100000;
    else if (a === '--ci') Object.assign(opts, { docs: 20000, runs: 5, scanRuns: 2, writeDocs: 5000, writeRuns: 1 });
    else if (a === '--runs') opts.runs = take.int();
    else if (a === '--scan-runs') opts.scanRuns = take.int();
    else if (a === '--write-docs') opts.writeDocs = take.int();
    else if (a === '--write-runs') opts.writeRuns = take.int();
    else if (a === '--batch') opts.batch = take.int();
    else if (a === '--check') opts.check = true;
    else if (a === '--no-check') opts.check = false;
    else return false;
    return true;
  });
  if (opts.docs < 10000) throw new Error('--docs must be at least 10000 (a tenth of it must hold 20 documents per route)');
  opts.writeDocs ??= Math.min(opts.docs, 100000);
  opts.check ??= opts.docs >= 1000000;
  return opts;
}

const ROUTES = 50;
const groups = (n) => Math.floor(n / 20);
// A multiplier coprime with n makes i -> (i * P) mod n a permutation, so ts values are unique and a range
// of 20 consecutive values is spread over the whole id range.
function tsStep(n) {
  const gcd = (a, b) => (b ? gcd(b, a % b) : a);
  let p = 1000003;
  while (gcd(p, n) !== 1) p += 2;
  return p;
}

function benchDoc(i, n, step) {
  return { ...makeDoc(i), grp: `g${i % groups(n)}`, ts: (i * step) % n, route: `r${i % ROUTES}` };
}

async function request(method, url, body) {
  const res = await http(method, url, body, { timeoutMs: 900000 });
  if (res.status >= 300) throw new Error(`${method} ${url}: ${res.status} ${res.text.slice(0, 300)}`);
  return res.json;
}

// Loads docs [from, to) of an n-document database; returns documents per second.
async function load(db, from, to, n, batch) {
  const step = tsStep(n);
  const t0 = performance.now();
  // Two batches in flight: the next is built and sent while the node writes the previous one.
  let inFlight = [];
  for (let start = from; start < to; start += batch) {
    const docs = [];
    for (let i = start; i < Math.min(to, start + batch); i++) docs.push(benchDoc(i, n, step));
    inFlight.push(request('POST', `${db}/_bulk_docs`, { docs }).then((rows) => {
      if (rows.some((r) => r.error)) throw new Error(`_bulk_docs: ${JSON.stringify(rows.find((r) => r.error))}`);
    }));
    if (inFlight.length >= 2) { await inFlight.shift(); }
  }
  await Promise.all(inFlight);
  return (to - from) / ((performance.now() - t0) / 1000);
}

const INDEXES = {
  grp: { index: { fields: ['grp'] }, ddoc: 'grp', name: 'grp' },
  ts: { index: { fields: ['ts'] }, ddoc: 'ts', name: 'ts' },
  routeTs: { index: { fields: ['route', 'ts'] }, ddoc: 'route-ts', name: 'route-ts' },
};

// The queries, each asked of an n-document database (deterministic operands from the middle of the data).
function queries(n) {
  const x = Math.floor(n / 2);
  const g = `g${Math.floor(groups(n) / 3)}`;
  return {
    equality: { selector: { grp: g }, limit: 20 },
    rangeSorted: { selector: { ts: { $gte: x, $lt: x + 20 } }, sort: [{ ts: 'asc' }], limit: 20 },
    rangeUnsorted: { selector: { ts: { $gte: x, $lt: x + 20 } }, limit: 20 },
    newestFirst: { selector: { route: 'r7', ts: { $gt: 0 } }, sort: [{ route: 'desc' }, { ts: 'desc' }], limit: 20 },
  };
}

// Median milliseconds of `runs` runs of a _find (after one warm-up), and the last answer.
async function timeFind(db, body, runs) {
  let answer = await request('POST', `${db}/_find`, body);
  const ms = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    answer = await request('POST', `${db}/_find`, body);
    ms.push(performance.now() - t0);
  }
  return { ms: median(ms), answer };
}

const idsOf = (answer) => answer.docs.map((d) => d._id).sort();

async function explainIndex(db, body) {
  return (await request('POST', `${db}/_explain`, body)).index.name;
}

// The whole read side on one node: load, queries without and with indexes, index builds. Returns figures.
async function readSide(n, opts, log) {
  const node = await startSettee();
  try {
    const db = `${node.url}/bench`;
    await request('PUT', db);
    const loadRate = await load(db, 0, n, n, opts.batch);
    log(`  loaded ${n} documents at ${fmt(loadRate)} docs/s; node peak RSS so far ${fmt(node.peakRssKb() / 1024)} MB`);
    const q = queries(n);

    const noIndex = {
      equality: await timeFind(db, q.equality, opts.scanRuns),
      range: await timeFind(db, q.rangeUnsorted, opts.scanRuns),
    };
    const refused = await http('POST', `${db}/_find`, q.rangeSorted);
    if (refused.status !== 400 || refused.json?.error !== 'no_usable_index') {
      throw new Error(`a sort without an index answered ${refused.status} ${refused.text.slice(0, 200)}`);
    }
    log(`  without indexes: equality ${fmt(noIndex.equality.ms)} ms, range ${fmt(noIndex.range.ms)} ms`);

    const builds = {};
    const firstUse = { grp: q.equality, ts: q.rangeSorted, routeTs: q.newestFirst };
    for (const [key, def] of Object.entries(INDEXES)) {
      const t0 = performance.now();
      const made = await request('POST', `${db}/_index`, def);
      const t1 = performance.now();
      await request('POST', `${db}/_find`, firstUse[key]);
      const t2 = performance.now();
      if (made.result !== 'created') throw new Error(`POST _index ${def.name}: ${JSON.stringify(made)}`);
      builds[key] = { post: t1 - t0, first: t2 - t1 };
      log(`  index ${def.name}: POST _index ${fmt(t1 - t0)} ms, first _find ${fmt(t2 - t1)} ms`);
    }

    const withIndex = {
      equality: await timeFind(db, q.equality, opts.runs),
      range: await timeFind(db, q.rangeSorted, opts.runs),
      newest: await timeFind(db, q.newestFirst, opts.runs),
    };
    // The same documents with and without the index, and the index the node says it used.
    const same = (a, b, what) => {
      if (JSON.stringify(idsOf(a)) !== JSON.stringify(idsOf(b)) || a.docs.length !== 20) {
        throw new Error(`${what}: ${a.docs.length} rows with the index differ from ${b.docs.length} without`);
      }
    };
    same(withIndex.equality.answer, noIndex.equality.answer, 'equality');
    same(withIndex.range.answer, noIndex.range.answer, 'range');
    const tsSeq = withIndex.range.answer.docs.map((d) => d.ts);
    if (tsSeq.some((t, i) => i && t <= tsSeq[i - 1])) throw new Error(`range not sorted by ts: ${tsSeq}`);
    if (withIndex.newest.answer.docs.length !== 20) throw new Error('newest first: not 20 rows');
    for (const [body, name] of [[q.equality, 'grp'], [q.rangeSorted, 'ts'], [q.newestFirst, 'route-ts']]) {
      const used = await explainIndex(db, body);
      if (used !== name) throw new Error(`${JSON.stringify(body.selector)} was served by ${used}, not ${name}`);
    }
    return { n, loadRate, noIndex, withIndex, builds, rssKb: node.peakRssKb() };
  } finally {
    await node.stop();
  }
}

// _bulk_docs rate into fresh databases with 0, 1 and 3 indexes, on a fresh node. The three are
// interleaved, R rounds, and each reported as its median: on a shared machine a burst of other work then
// slows all three alike instead of one.
async function writeSide(opts, log) {
  const node = await startSettee();
  const configs = [['0', []], ['1', [INDEXES.grp]], ['3', [INDEXES.grp, INDEXES.ts, INDEXES.routeTs]]];
  try {
    const rates = { 0: [], 1: [], 3: [] };
    for (let round = 0; round < opts.writeRuns; round++) {
      for (const [label, defs] of configs) {
        const db = `${node.url}/write-${label}-${round}`;
        await request('PUT', db);
        for (const def of defs) await request('POST', `${db}/_index`, def);
        rates[label].push(await load(db, 0, opts.writeDocs, opts.writeDocs, opts.batch));
        await request('DELETE', db);
      }
      log(`  round ${round + 1}: ${configs.map(([l]) => `${l} index(es) ${fmt(rates[l].at(-1))} docs/s`).join(', ')}`);
    }
    return Object.fromEntries(Object.entries(rates).map(([k, v]) => [k, median(v)]));
  } finally {
    await node.stop();
  }
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const log = (s) => console.log(s);
  await runTimedBench('mango_bench', async () => {
    console.log(`${opts.docs} documents of ~1 KB; ${opts.runs} runs per indexed query, ${opts.scanRuns} per scan; ` +
      `write rate over ${opts.writeDocs} documents; batches of ${opts.batch}`);
    console.log(`\n== ${opts.docs} documents`);
    const big = await readSide(opts.docs, opts, log);
    const smallN = Math.floor(opts.docs / 10);
    console.log(`\n== ${smallN} documents (peak RSS at a tenth of N)`);
    const small = await readSide(smallN, { ...opts, runs: Math.min(opts.runs, 5), scanRuns: 1 }, log);
    console.log('\n== write rate by number of indexes');
    const rates = await writeSide(opts, log);

    const rows = [];
    let ok = true;
    const verdict = (withMs, withoutMs) => {
      const pass = withMs < 10 && withoutMs / withMs >= 100;
      ok &&= pass;
      return pass ? 'ok' : 'MISSED';
    };
    const b = big;
    rows.push(['equality, 20 rows', fmt(b.noIndex.equality.ms), fmt(b.withIndex.equality.ms),
      fmt(b.noIndex.equality.ms / b.withIndex.equality.ms), verdict(b.withIndex.equality.ms, b.noIndex.equality.ms)]);
    rows.push(['range + sort, 20 rows', fmt(b.noIndex.range.ms) + ' (unsorted)', fmt(b.withIndex.range.ms),
      fmt(b.noIndex.range.ms / b.withIndex.range.ms), verdict(b.withIndex.range.ms, b.noIndex.range.ms)]);
    rows.push(['newest first ([route, ts] desc)', 'no_usable_index', fmt(b.withIndex.newest.ms), '-', '-']);
    console.log(`\nQueries on ${b.n} documents (median ms over HTTP; target: indexed < 10 ms and >= 100x)`);
    console.log(table(['query', 'no index', 'index', 'speed-up', 'target'], rows));

    console.log('\nBuilding an index (POST /_index, then the first _find that uses it; ms)');
    console.log(table(['index', 'POST _index', 'first _find', 'total'], Object.entries(b.builds).map(([k, v]) =>
      [INDEXES[k].name, fmt(v.post), fmt(v.first), fmt(v.post + v.first)])));

    console.log(`\n_bulk_docs write rate, ${opts.writeDocs} documents into a fresh database (docs/s, median of ${opts.writeRuns})`);
    console.log(table(['indexes', 'docs/s', 'vs none'], Object.entries(rates).map(([k, v]) =>
      [k, fmt(v), `${fmt((100 * v) / rates['0'])}%`])));

    console.log('\nPeak RSS of the node (load, indexes, queries)');
    console.log(table(['documents', 'peak RSS MB', 'load docs/s'], [small, big].map((r) =>
      [String(r.n), fmt(r.rssKb / 1024), fmt(r.loadRate)])));
    console.log(`RSS ratio ${fmt(big.rssKb / small.rssKb)} for ${fmt(big.n / small.n)}x the documents`);
    if (opts.check && !ok) {
      console.log('\nmango_bench: an indexed query missed its target (see above)');
      process.exitCode = 1;
    }
  });
}

function table(head, rows) {
  const all = [head, ...rows];
  const widths = head.map((_, c) => Math.max(...all.map((r) => String(r[c]).length)));
  const line = (r) => r.map((v, c) => (c === 0 ? String(v).padEnd(widths[c]) : String(v).padStart(widths[c]))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

main().catch((e) => {
  console.error(`mango_bench: ${e.stack || e.message}`);
  process.exit(1);
});
