#!/usr/bin/env node
// pouchdb-server benchmark (issue 10): does `settee replicate` pull from pouchdb-server, and push to it, as
// fast as that server can serve? The ceiling is the server's own bulk read, measured in the same run.
//
// One run of this script loads N deterministic documents of ~1 KB (bench_docs.mjs) into a Settee node A
// (POST _bulk_docs in batches) and copies them into pouchdb-server PS with `settee replicate A/src PS/src`
// (its time is printed: that is a push into an empty pouchdb-server database too). Then, per run, in an
// order that rotates from run to run:
//   (a1) GET PS/src/_all_docs?include_docs=true, whole: one request, timed to its last byte (the body is
//        parsed afterwards, untimed, to check it holds N rows);
//   (a2) the same paged as a client reads it: limit=--page, each next page from the last key of the one
//        before (startkey=KEY&skip=1), each page parsed (that is how a client learns the next key);
//   (b)  `settee replicate PS/src dst-R --data DIR --create-target` (--pull-into local, the default) or
//        `settee replicate PS/src B/dst-R --create-target` into a second Settee node B (--pull-into node);
//   (c)  `settee replicate A/src PS/push-R --create-target`: a push into a fresh pouchdb-server database,
//        deleted after the run.
// (b) and (c) run under `/usr/bin/time -v` (their time is the child's wall time, process start included)
// and are checked: exit 0, "completed: N written, 0 failed", and the target then holds N documents. Each
// case also reports the CPU seconds of the servers involved and pouchdb-server's peak RSS during it (VmHWM,
// reset before the case through /proc/PID/clear_refs). The medians over --runs give the ratios
// (b)/(a1), (b)/(a2) and (c)/(a1): 1.0 means as fast as pouchdb-server can serve its own documents. The
// table also gives pouchdb-server's CPU seconds per 1000 documents of each case: pouchdb-server answers on
// one JavaScript thread, so what a pull or push costs it there bounds the rate, and that figure is much
// steadier than docs/s on a busy machine.
//
// Then, unless --no-count-requests, one more pull and push each go through a counting proxy (untimed,
// the proxy costs time) and the requests Settee made are tabled by kind: how many, how many documents
// each carried (_bulk_get and _bulk_docs: docs in the request; _revs_diff: ids; _changes: rows in the
// answer), the bytes each way and the summed latency. --perf FILE records one more pull under
// `perf record -g` (read it with `perf report -i FILE --no-children`).
// It is a benchmark, not a test: tools/test.sh does not run it. Needs `npm ci` in compat/ and /usr/bin/time.
//
//   node tools/bench/pouchdb_server_bench.mjs [--n 100000] [--runs 3] [--load-batch 1000] [--page 1000]
//        [--pouchdb-server-storage leveldb|memory] [--pull-into local|node] [--no-count-requests] [--perf FILE]
//        [--replicate-arg ARG]...   (each ARG is added to the timed and counted `settee replicate` runs, e.g.
//        --replicate-arg --workers --replicate-arg 8, to try a setting without a rebuild)
//        [--only a1,a2,b,c]   (runs only these cases, for experiments; the ratios need a1, a2, b and c)
//   (SETTEE_BINARY selects the settee binary, default build/settee; tools/bench/pouchdb_server_bench.sh
//   wraps it)
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import zlib from 'node:zlib';
import { startSettee, startPouchServer, http as request, tempDir } from '../../compat/helpers.mjs';
import { loadDocs, docCount } from './bench_docs.mjs';
import { parseOptions, median, fmt, runTimedBench } from './bench_util.mjs';
import { timedSettee, setteePull } from './settee_runs.mjs';

function parseArgs(argv) {
  const opts = {
    n: 100000, runs: 3, batch: 1000, page: 1000, psStorage: 'leveldb', pullInto: 'local', count: true, perf: null, extra: [], only: null,
  };
  const usage = 'pouchdb_server_bench.mjs [--n N] [--runs R] [--load-batch B] [--page P] ' +
    '[--pouchdb-server-storage leveldb|memory] [--pull-into local|node] [--no-count-requests] [--perf FILE] ' +
    '[--replicate-arg ARG]... [--only a1,a2,b,c]';
  parseOptions(argv, opts, usage, (a, take) => {
    if (a === '--n') opts.n = take.int();
    else if (a === '--runs') opts.runs = take.int();
    else if (a === '--load-batch') opts.batch = take.int();
    else if (a === '--page') opts.page = take.int();
    else if (a === '--pouchdb-server-storage') opts.psStorage = take.value();
    else if (a === '--pull-into') opts.pullInto = take.value();
    else if (a === '--no-count-requests') opts.count = false;
    else if (a === '--perf') opts.perf = path.resolve(take.value());
    else if (a === '--replicate-arg') opts.extra.push(take.value());
    else if (a === '--only') opts.only = take.value().split(',');
    else return false;
    return true;
  });
  if (!['memory', 'leveldb'].includes(opts.psStorage)) throw new Error('--pouchdb-server-storage is memory or leveldb');
  if (!['local', 'node'].includes(opts.pullInto)) throw new Error('--pull-into is local or node');
  return opts;
}

// Process groups of the timed children still running, killed on exit.
const running = new Set();
process.on('exit', () => {
  for (const pid of running) {
    try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ }
  }
});

const agent = new http.Agent({ keepAlive: true });

// GET `url` to its last byte: { seconds, body (Buffer) }. Throws unless it answers 200.
function getWhole(url) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.get(url, { agent, headers: { Accept: 'application/json' } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const seconds = (performance.now() - t0) / 1000;
        const body = Buffer.concat(chunks);
        if (res.statusCode !== 200) reject(new Error(`GET ${url}: ${res.statusCode} ${body.toString().slice(0, 300)}`));
        else resolve({ seconds, body });
      });
      res.on('error', reject);
    });
    req.setTimeout(600000, () => req.destroy(new Error(`GET ${url}: no answer within 600 s`)));
    req.on('error', reject);
  });
}

function checkRows(rows, n, what) {
  const withDocs = rows.filter((r) => r.doc && r.doc._id === r.id).length;
  if (rows.length !== n || withDocs !== n) throw new Error(`${what}: ${rows.length} rows, ${withDocs} with their doc; expected ${n}`);
}

// (a1): the whole _all_docs?include_docs=true in one answer.
async function allDocsWhole(db, n) {
  const r = await getWhole(`${db}/_all_docs?include_docs=true`);
  checkRows(JSON.parse(r.body).rows, n, `${db}/_all_docs whole`);
  return { rate: n / r.seconds, seconds: r.seconds, bytes: r.body.length };
}

// (a2): paged, the next page starting after the last key read.
async function allDocsPaged(db, n, page) {
  const t0 = performance.now();
  let rows = 0;
  let withDocs = 0;
  let bytes = 0;
  let after = null;
  for (;;) {
    const q = after === null ? '' : `&startkey=${encodeURIComponent(JSON.stringify(after))}&skip=1`;
    const r = await getWhole(`${db}/_all_docs?include_docs=true&limit=${page}${q}`);
    bytes += r.body.length;
    const got = JSON.parse(r.body).rows;
    rows += got.length;
    withDocs += got.filter((x) => x.doc && x.doc._id === x.id).length;
    if (got.length < page) break;
    after = got[got.length - 1].key;
  }
  const seconds = (performance.now() - t0) / 1000;
  if (rows !== n || withDocs !== n) throw new Error(`${db}/_all_docs paged: ${rows} rows, ${withDocs} with their doc; expected ${n}`);
  return { rate: n / seconds, seconds, bytes };
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

// Resets VmHWM to the current RSS (Linux >= 4.0), so the next read is the peak since now.
function resetPeakRss(pid) {
  try { fs.writeFileSync(`/proc/${pid}/clear_refs`, '5'); } catch { /* an older kernel: peak since start */ }
}

// A proxy in front of `upstream` that tables the requests passing through it (see the header comment).
async function startCountingProxy(upstream) {
  const target = new URL(upstream);
  const kinds = new Map();
  const kindOf = (method, p) => {
    const m = /^\/[^/?]+\/(_[a-z_]+|[^/?]+)?/.exec(p);
    const seg = m?.[1];
    if (!seg) return `${method} /db`;
    if (seg.startsWith('_local')) return `${method} _local`;
    if (seg.startsWith('_')) return `${method} ${seg}`;
    return `${method} doc`;
  };
  const countDocs = (kind, reqBody, resBody) => {
    try {
      if (kind.endsWith('_bulk_get') || kind.endsWith('_bulk_docs')) return JSON.parse(reqBody).docs.length;
      if (kind.endsWith('_revs_diff')) return Object.keys(JSON.parse(reqBody)).length;
      if (kind.endsWith('_changes')) return JSON.parse(resBody).results.length;
    } catch { /* not JSON: not counted */ }
    return null;
  };
  const server = http.createServer((req, res) => {
    const t0 = performance.now();
    const reqChunks = [];
    req.on('data', (c) => reqChunks.push(c));
    req.on('end', () => {
      const reqBody = Buffer.concat(reqChunks);
      const headers = { ...req.headers, host: target.host };
      const up = http.request({
        host: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent,
      }, (upRes) => {
        res.writeHead(upRes.statusCode, upRes.headers);
        const resChunks = [];
        let resBytes = 0;
        upRes.on('data', (c) => { resBytes += c.length; resChunks.push(c); res.write(c); });
        upRes.on('end', () => {
          res.end();
          const kind = kindOf(req.method, req.url);
          const k = kinds.get(kind) ?? { count: 0, docs: [], reqBytes: 0, resBytes: 0, seconds: 0, statuses: new Set(), encodings: new Set() };
          k.count++;
          k.reqBytes += reqBody.length;
          k.resBytes += resBytes;
          k.seconds += (performance.now() - t0) / 1000;
          k.statuses.add(upRes.statusCode);
          let resBody = null;
          if (kind.endsWith('_changes')) {
            resBody = Buffer.concat(resChunks);
            if (upRes.headers['content-encoding'] === 'gzip') resBody = zlib.gunzipSync(resBody);
          }
          const docs = countDocs(kind, reqBody, resBody);
          if (upRes.headers['content-encoding']) k.encodings.add(upRes.headers['content-encoding']);
          if (docs !== null) k.docs.push(docs);
          kinds.set(kind, k);
        });
      });
      up.on('error', () => res.destroy());
      up.end(reqBody);
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    table() {
      const lines = [`    ${'request'.padEnd(22)}${'count'.padStart(7)}${'docs each: min/median/max'.padStart(28)}` +
        `${'MB sent'.padStart(9)}${'MB got'.padStart(9)}${'summed s'.padStart(10)}  statuses, encoding of answers`];
      for (const [kind, k] of [...kinds].sort((x, y) => y[1].seconds - x[1].seconds)) {
        const d = k.docs.length ? `${Math.min(...k.docs)}/${median(k.docs)}/${Math.max(...k.docs)}` : '-';
        lines.push(`    ${kind.padEnd(22)}${String(k.count).padStart(7)}${d.padStart(28)}` +
          `${(k.reqBytes / 1048576).toFixed(1).padStart(9)}${(k.resBytes / 1048576).toFixed(1).padStart(9)}` +
          `${k.seconds.toFixed(1).padStart(10)}  ${[...k.statuses].join(',')} ${[...k.encodings].join(',')}`);
      }
      kinds.clear();
      return lines.join('\n');
    },
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }),
  };
}

const mb = (kb) => (kb == null ? '-' : (kb / 1024).toFixed(1));

function peakRssKb(pid) {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

async function bench(opts) {
  const n = opts.n;
  const nodeA = await startSettee();
  const nodeB = opts.pullInto === 'node' ? await startSettee() : null;
  const ps = await startPouchServer({ inMemory: opts.psStorage === 'memory' });
  const localRoot = tempDir('bench-ps');
  try {
    const srcA = `${nodeA.url}/src`;
    const srcPS = `${ps.url}/src`;
    console.log(`\n== N=${n} docs of ~1 KB, ${opts.runs} runs; pouchdb-server storage ${opts.psStorage}; ` +
      `pull into ${opts.pullInto === 'node' ? 'a second Settee node' : 'a local database'}`);
    const loadSec = await loadDocs(srcA, n, opts.batch);
    console.log(`  load settee node A (_bulk_docs, batches of ${opts.batch}): ${loadSec.toFixed(1)} s, ${fmt(n / loadSec)} docs/s`);
    const psLoad = await timedSettee(['replicate', srcA, srcPS, '--create-target'], Math.max(1800000, n * 20), running);
    if (psLoad.written !== n || (await docCount(srcPS)) !== n) {
      throw new Error(`loading pouchdb-server: ${psLoad.written} written, expected ${n}\n${psLoad.stderr}`);
    }
    console.log(`  load pouchdb-server (settee replicate A/src -> PS/src): ${psLoad.seconds.toFixed(1)} s, ` +
      `${fmt(n / psLoad.seconds)} docs/s, settee replicate peak RSS ${mb(psLoad.rssKb)} MB`);

    const extra = opts.extra;
    if (extra.length) console.log(`  settee replicate runs (b), (c) and the counted ones add: ${extra.join(' ')}`);
    const pullTarget = (r) => (nodeB
      ? { target: `${nodeB.url}/dst-${r}`, where: { targetUrl: `${nodeB.url}/dst-${r}`, extra } }
      : { target: `dst-${r}`, where: { dataDir: path.join(localRoot, `b-${r}`), extra } });
    const cases = [
      { key: 'a1', label: '(a1) PS _all_docs?include_docs whole', who: 'client', servers: [ps], run: () => allDocsWhole(srcPS, n) },
      { key: 'a2', label: `(a2) PS _all_docs?include_docs paged ${opts.page}`, who: 'client', servers: [ps], run: () => allDocsPaged(srcPS, n, opts.page) },
      {
        key: 'b', label: '(b) settee replicate PS -> settee', who: 'replicate', servers: nodeB ? [ps, nodeB] : [ps],
        run: (r) => { const t = pullTarget(r); return setteePull(srcPS, t.target, n, running, t.where); },
        after: async (r) => {
          if (nodeB) await request('DELETE', `${nodeB.url}/dst-${r}`);
          else fs.rmSync(path.join(localRoot, `b-${r}`), { recursive: true, force: true });
        },
      },
      {
        key: 'c', label: '(c) settee replicate settee -> PS', who: 'replicate', servers: [nodeA, ps],
        run: (r) => setteePull(srcA, `${ps.url}/push-${r}`, n, running, { targetUrl: `${ps.url}/push-${r}`, extra }),
        after: async (r) => { await request('DELETE', `${ps.url}/push-${r}`, undefined, { timeoutMs: 120000 }); },
      },
    ];
    const cleanup = { pull: cases[2].after, push: cases[3].after };
    if (opts.only) cases.splice(0, cases.length, ...cases.filter((c) => opts.only.includes(c.key)));
    const names = new Map([[nodeA, 'node A'], [ps, 'pouchdb-server']]);
    if (nodeB) names.set(nodeB, 'node B');
    for (const c of cases) c.results = [];
    for (let r = 0; r < opts.runs; r++) {
      for (const c of cases.map((_, i) => cases[(i + r) % cases.length])) {
        const cpu0 = c.servers.map((s) => cpuSeconds(s.pid));
        resetPeakRss(ps.pid);
        const res = await c.run(r + 1);
        res.psRssKb = peakRssKb(ps.pid);
        res.psCpu = cpuSeconds(ps.pid) - cpu0[c.servers.indexOf(ps)];
        const serverCpu = c.servers.map((s, i) => `${names.get(s)} ${(cpuSeconds(s.pid) - cpu0[i]).toFixed(1)}`);
        c.results.push(res);
        const own = res.rssKb != null ? `peak RSS ${mb(res.rssKb).padStart(5)} MB, cpu ${res.cpu.toFixed(1)} s` : `${(res.bytes / 1048576).toFixed(0)} MB read`;
        console.log(`  run ${r + 1} ${c.label.padEnd(42)} ${fmt(res.rate).padStart(7)} docs/s ${res.seconds.toFixed(1).padStart(6)} s` +
          `  ${c.who}: ${own}; PS peak RSS ${mb(res.psRssKb)} MB; server cpu s: ${serverCpu.join(', ')}`);
        if (c.after) await c.after(r + 1);
      }
    }

    const byKey = Object.fromEntries(cases.map((c) => [c.key, c]));
    console.log('');
    console.log(`${'case'.padEnd(44)}${'median docs/s'.padStart(14)}${'each run'.padStart(24)}${'max peak RSS MB'.padStart(17)}` +
      `${'PS max peak RSS MB'.padStart(20)}${'PS cpu s/1000 docs'.padStart(20)}`);
    for (const c of cases) {
      c.median = median(c.results.map((x) => x.rate));
      const rss = c.results.map((x) => x.rssKb).filter((x) => x != null);
      console.log(`${c.label.padEnd(44)}${fmt(c.median).padStart(14)}${c.results.map((x) => fmt(x.rate)).join('/').padStart(24)}` +
        `${(rss.length ? mb(Math.max(...rss)) : '(client)').padStart(17)}` +
        `${mb(Math.max(...c.results.map((x) => x.psRssKb ?? 0))).padStart(20)}` +
        `${(median(c.results.map((x) => x.psCpu)) * 1000 / n).toFixed(3).padStart(20)}`);
    }
    const ratio = (x, y) => (byKey[x] && byKey[y] ? (byKey[x].median / byKey[y].median).toFixed(2) : '-');
    console.log(`ratio (b)/(a1) pull vs pouchdb-server's whole _all_docs: ${ratio('b', 'a1')}`);
    console.log(`ratio (b)/(a2) pull vs pouchdb-server's paged _all_docs: ${ratio('b', 'a2')}`);
    console.log(`ratio (c)/(a1) push vs pouchdb-server's whole _all_docs: ${ratio('c', 'a1')}`);
    console.log(`servers peak RSS since start (VmHWM is reset per case above): node A ${mb(nodeA.peakRssKb())} MB` +
      `${nodeB ? `, node B ${mb(nodeB.peakRssKb())} MB` : ''}`);

    if (opts.count && byKey.b && byKey.c) {
      const proxy = await startCountingProxy(ps.url);
      try {
        const t = pullTarget('count');
        const pull = await setteePull(`${proxy.url}/src`, t.target, n, running, t.where);
        console.log(`\n  requests of one pull PS -> settee through a counting proxy (${fmt(pull.rate)} docs/s with the proxy):`);
        console.log(proxy.table());
        await cleanup.pull('count');
        const push = await setteePull(srcA, `${proxy.url}/push-count`, n, running, { targetUrl: `${ps.url}/push-count`, extra });
        console.log(`  requests of one push settee -> PS through a counting proxy (${fmt(push.rate)} docs/s with the proxy):`);
        console.log(proxy.table());
        await cleanup.push('count');
      } finally {
        await proxy.close();
      }
    }
    if (opts.perf) {
      const t = pullTarget('perf');
      const wrap = ['perf', 'record', '-g', '-F', '999', '-o', opts.perf, '--'];
      const pull = await setteePull(srcPS, t.target, n, running, { ...t.where, wrap });
      console.log(`\n  perf record of one pull PS -> settee (${fmt(pull.rate)} docs/s under perf): ${opts.perf}` +
        `\n  read it with: perf report -i ${opts.perf} --no-children`);
      await cleanup.pull('perf');
    }
  } finally {
    await nodeA.stop();
    if (nodeB) await nodeB.stop();
    await ps.stop();
    fs.rmSync(localRoot, { recursive: true, force: true });
  }
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  await runTimedBench('pouchdb_server_bench', () => bench(opts));
}

main().then(() => process.exit(0), (e) => {
  console.error(`pouchdb_server_bench: ${e.stack || e.message}`);
  process.exit(1);
});
