// kill_test.mjs — SIGKILL a real `settee serve` at random moments of a write workload and prove that
// nothing it acknowledged is lost. Run through tools/crash/kill_test.sh, which builds the checker.
//
//   node tools/crash/kill_test.mjs --binary build/settee --checker build/crash/integrity_check
//                                  [--points N] [--seed S] [--verbose]
//
// Each point picks one operation — single PUTs, _bulk_docs, attachment uploads, a pull replication from
// a second node into this one (POST /_replicate), compaction, purge — runs it in a loop on the node,
// records every write that got a success answer (id and rev; md5 digest for attachments; purged revs),
// and kills the node with SIGKILL after a random delay. Then, before restarting it, every database file
// must pass PRAGMA integrity_check (read where the crash left it, changing nothing); after restarting
// it, every revision acknowledged at this point and a sample of earlier ones must be in its document's
// tree (_revs_diff), each uploaded attachment must read back with its digest, each acknowledged purge
// must stay purged, compacted documents keep their bodies, and a killed replication must resume from its
// checkpoint: the documents its checkpoint covers are all in the target, and the next run starts from
// that checkpoint (its history's start_last_seq) and reads only what came after, never from 0. Every 100
// points and at the end every acknowledged revision is checked. Exit status 0 when all held. The
// summary gives per operation the points, how many kills cut a request (and landed inside _compact or
// _purge), the writes acknowledged and lost; the integrity checks; the replications resumed.
import { spawn, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// ---- arguments ----
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const POINTS = Number(opt('points', 40));
const SEED = Number(opt('seed', Date.now() % 1000000));
const BINARY = path.resolve(opt('binary', 'build/settee'));
const CHECKER = path.resolve(opt('checker', 'build/crash/integrity_check'));
const VERBOSE = args.includes('--verbose');
// Every ROTATE points the databases that only grow are checked whole, then deleted and created again,
// so a long run's files (and its checks) stay small.
const ROTATE = 100;
const OPS = ['put', 'bulk_docs', 'attachment', 'replicate', 'compact', 'purge'];

// ---- a seeded generator, so a failing run can be repeated with --seed ----
let rngState = SEED >>> 0 || 1;
function rand() {
  rngState ^= rngState << 13;
  rngState >>>= 0;
  rngState ^= rngState >>> 17;
  rngState ^= rngState << 5;
  rngState >>>= 0;
  return rngState / 4294967296;
}
const randInt = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- HTTP ----
async function http(method, url, body, { timeoutMs = 30000, type } = {}) {
  const headers = {};
  let payload;
  if (Buffer.isBuffer(body)) {
    payload = body;
    headers['content-type'] = type ?? 'application/octet-stream';
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers['content-type'] = 'application/json';
  }
  const res = await fetch(url, { method, headers, body: payload, signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, json, text };
}
// Like http(), but a failed request (the node was killed under it) answers null; `cut` counts them.
let cut = 0;
async function tryHttp(...a) {
  try { return await http(...a); } catch { cut++; return null; }
}

// ---- nodes ----
const children = new Set();
process.on('exit', () => { for (const c of children) { try { c.kill('SIGKILL'); } catch { /* gone */ } } });

async function startNode(dataDir) {
  const child = spawn(BINARY, ['serve', '--port', '0', '--data', dataDir, '--log-level', 'error'],
    { stdio: ['ignore', 'ignore', 'pipe'] });
  children.add(child);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => { children.delete(child); resolve({ code, signal }); }));
  let stderr = '';
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`settee did not start in 20 s: ${stderr}`)), 20000);
    child.stderr.on('data', (d) => {
      stderr += d;
      const m = /listening on (http:\/\/[^\s]+)/.exec(stderr);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    exited.then((e) => { clearTimeout(timer); reject(new Error(`settee exited at start: ${JSON.stringify(e)} ${stderr}`)); });
  });
  return { url, child, exited, stderr: () => stderr };
}

async function killNode(node) {
  node.child.kill('SIGKILL');
  const e = await node.exited;
  if (e.signal !== 'SIGKILL') throw new Error(`the node ended before the kill: ${JSON.stringify(e)} ${node.stderr()}`);
}

// ---- what was acknowledged ----
const acked = new Map(); // db -> [[id, rev], ...] every acknowledged revision
const purged = [];       // [db, id, rev]: acknowledged purges, the revision must stay gone
const attachments = [];  // {db, id, rev, digest}
const noteRev = (db, id, rev) => { if (!acked.has(db)) acked.set(db, []); acked.get(db).push([id, rev]); };
const failures = [];
function fail(point, what) {
  failures.push(`point ${point}: ${what}`);
  console.error(`FAIL point ${point}: ${what}`);
}

const md5Digest = (buf) => `md5-${crypto.createHash('md5').update(buf).digest('base64')}`;

// ---- the workloads: each loops until `run.stop`, recording what got a success answer ----
function padding(n) { return 'x'.repeat(n); }

async function putLoop(ctx, run, lane) {
  const db = 'writes';
  for (let k = 0; !run.stop; ++k) {
    const id = `p${ctx.point}-${lane}-${k}`;
    let rev;
    for (let edit = 0; edit < 3 && !run.stop; ++edit) {
      const body = { n: edit, pad: padding(randInt(10, 2000)) };
      if (rev) body._rev = rev;
      const r = await tryHttp('PUT', `${ctx.url}/${db}/${id}`, body);
      if (!r || r.status !== 201) break;
      rev = r.json.rev;
      noteRev(db, id, rev);
      ctx.stats.acks++;
    }
  }
}

async function bulkLoop(ctx, run) {
  const db = 'writes';
  let prev = [];
  for (let k = 0; !run.stop; ++k) {
    const docs = [];
    for (let i = 0; i < 60; ++i) docs.push({ _id: `b${ctx.point}-${k}-${i}`, n: i, pad: padding(randInt(10, 600)) });
    for (const [id, rev] of prev.slice(0, 40)) docs.push({ _id: id, _rev: rev, n: -1 });
    const r = await tryHttp('POST', `${ctx.url}/${db}/_bulk_docs`, { docs });
    if (!r || r.status !== 201) continue;
    prev = [];
    for (const row of r.json) {
      if (row.ok) { noteRev(db, row.id, row.rev); prev.push([row.id, row.rev]); ctx.stats.acks++; }
    }
  }
}

async function attachmentLoop(ctx, run, lane) {
  const db = 'atts';
  for (let k = 0; !run.stop; ++k) {
    const id = `a${ctx.point}-${lane}-${k}`;
    // Mostly small, one in eight large enough to take several writes of the blob.
    const data = crypto.randomBytes((rand() < 0.125 ? randInt(128, 400) : randInt(1, 48)) * 1024);
    const r = await tryHttp('PUT', `${ctx.url}/${db}/${id}/f.bin`, data);
    if (!r || r.status !== 201) continue;
    noteRev(db, id, r.json.rev);
    attachments.push({ db, id, rev: r.json.rev, digest: md5Digest(data), point: ctx.point });
    ctx.stats.acks++;
  }
}

async function purgeLoop(ctx, run) {
  const db = 'purge';
  for (let k = 0; !run.stop; ++k) {
    const docs = [];
    for (let i = 0; i < 30; ++i) docs.push({ _id: `u${ctx.point}-${k}-${i}`, pad: padding(200) });
    const w = await tryHttp('POST', `${ctx.url}/${db}/_bulk_docs`, { docs });
    if (!w || w.status !== 201) continue;
    // Half are purged; a purge that got no answer leaves its revisions in doubt (checked neither way).
    const request = {};
    w.json.forEach((row, i) => {
      if (!row.ok) return;
      if (i % 2) { noteRev(db, row.id, row.rev); ctx.stats.acks++; } else request[row.id] = [row.rev];
    });
    run.phase = 'purge';
    const p = await tryHttp('POST', `${ctx.url}/${db}/_purge`, request);
    run.phase = '';
    if (!p || p.status !== 201) continue;
    for (const [id, revs] of Object.entries(p.json.purged ?? {})) {
      for (const rev of revs) { purged.push([db, id, rev]); ctx.stats.acks++; }
    }
  }
}

async function compactLoop(ctx, run) {
  const db = 'compact';
  const revs = ctx.compactRevs; // id -> current acknowledged rev
  for (let k = 0; !run.stop; ++k) {
    const ids = [...revs.keys()].sort(() => rand() - 0.5).slice(0, 40);
    const docs = ids.map((id) => ({ _id: id, _rev: revs.get(id), n: k, pad: padding(randInt(100, 3000)) }));
    const w = await tryHttp('POST', `${ctx.url}/${db}/_bulk_docs`, { docs });
    if (!w || w.status !== 201) continue;
    for (const row of w.json) if (row.ok) { revs.set(row.id, row.rev); noteRev(db, row.id, row.rev); ctx.stats.acks++; }
    run.phase = 'compact';
    const c = await tryHttp('POST', `${ctx.url}/${db}/_compact`, {}, { timeoutMs: 60000 });
    run.phase = '';
    if (c && c.status < 300) ctx.stats.compactions++;
  }
}

async function replicateLoop(ctx, run) {
  // One run at a time: the node answers when the replication is done; then the next one starts.
  while (!run.stop) {
    const r = await tryHttp('POST', `${ctx.url}/_replicate`, ctx.replicationBody(), { timeoutMs: 120000 });
    if (r && r.status === 200) ctx.stats.acks++;
    if (!r) break;
  }
}

const workloads = {
  put: (ctx, run) => Promise.all([0, 1, 2].map((lane) => putLoop(ctx, run, lane))),
  bulk_docs: (ctx, run) => Promise.all([bulkLoop(ctx, run), bulkLoop(ctx, run)]),
  attachment: (ctx, run) => Promise.all([0, 1].map((lane) => attachmentLoop(ctx, run, lane))),
  replicate: replicateLoop,
  compact: compactLoop,
  purge: purgeLoop,
};
// The longest random delay before the kill, per operation (ms): long enough to reach the middle of
// the operation's slowest step (a compaction's VACUUM, a replication of a few thousand documents).
const maxDelay = { put: 150, bulk_docs: 200, attachment: 200, replicate: 400, compact: 300, purge: 150 };

// ---- checks ----
async function revsMissing(url, db, pairs) {
  const missing = [];
  for (let at = 0; at < pairs.length; at += 2000) {
    const request = {};
    for (const [id, rev] of pairs.slice(at, at + 2000)) (request[id] ??= []).push(rev);
    const r = await http('POST', `${url}/${db}/_revs_diff`, request, { timeoutMs: 120000 });
    if (r.status !== 200) throw new Error(`_revs_diff on ${db}: ${r.status} ${r.text}`);
    for (const [id, v] of Object.entries(r.json)) for (const rev of v.missing ?? []) missing.push([id, rev]);
  }
  return missing;
}

// The checker changes nothing on disk (see integrity_check.c): the node's restart recovers the files
// exactly as the kill left them.
function integrityCheck(dataDir) {
  const files = fs.readdirSync(dataDir).filter((n) => n.endsWith('.settee')).map((n) => path.join(dataDir, n));
  try {
    execFileSync(CHECKER, files, { encoding: 'utf8' });
    return { files: files.length, bad: [] };
  } catch (e) {
    return { files: files.length, bad: String(e.stdout ?? e.message).split('\n').filter((l) => l && !l.endsWith(' ok')) };
  }
}

// The sequence a replication resumes from, by CouchDB's rule (the same as src/replicator/checkpoint.cc):
// the same session on both sides → its source_last_seq; else the newest session both histories hold.
function resumeSeq(src, tgt) {
  if (!src || !tgt) return 0;
  if (src.session_id && src.session_id === tgt.session_id) return Number(src.source_last_seq);
  const tgtSessions = new Map((tgt.history ?? []).map((h) => [h.session_id, h]));
  for (const h of src.history ?? []) if (tgtSessions.has(h.session_id)) return Number(h.recorded_seq);
  return 0;
}

// ---- the run ----
async function main() {
  const started = Date.now();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'settee-kill-'));
  const dataDir = path.join(root, 'node');
  const source = await startNode(path.join(root, 'source'));
  let node = await startNode(dataDir);
  console.log(`kill_test: ${POINTS} points, seed ${SEED}, data in ${dataDir}`);

  for (const db of ['writes', 'atts', 'purge', 'compact', 'repl']) {
    const r = await http('PUT', `${node.url}/${db}`);
    if (r.status !== 201) throw new Error(`create ${db}: ${r.text}`);
  }
  if ((await http('PUT', `${source.url}/src`)).status !== 201) throw new Error('create src');
  // The compaction database: documents with attachments, so each compaction has bodies to drop and a
  // file of a few MB to VACUUM.
  const compactRevs = new Map();
  for (let at = 0; at < 1500; at += 500) {
    const docs = [];
    for (let i = at; i < at + 500; ++i) {
      const doc = { _id: `c${i}`, pad: padding(1000) };
      if (i % 5 === 0) doc._attachments = { 'c.bin': { content_type: 'application/octet-stream', data: crypto.randomBytes(3000).toString('base64') } };
      docs.push(doc);
    }
    const r = await http('POST', `${node.url}/compact/_bulk_docs`, { docs });
    for (const row of r.json) { compactRevs.set(row.id, row.rev); noteRev('compact', row.id, row.rev); }
  }
  // The replication: its id (continuous or not, the same) from a continuous start, cancelled at once.
  const sourceDb = `${source.url}/src`;
  const replicationBody = () => ({ source: sourceDb, target: 'repl', checkpoint_interval: 30, worker_batch_size: 100 });
  const cont = await http('POST', `${node.url}/_replicate`, { ...replicationBody(), continuous: true });
  const repId = String(cont.json?._local_id ?? '').replace(/\+continuous$/, '');
  if (!repId) throw new Error(`no replication id: ${cont.text}`);
  await http('POST', `${node.url}/_replicate`, { ...replicationBody(), continuous: true, cancel: true });
  let sourceDocs = 0;
  let lastCheckpoint = 0; // the target's checkpoint after the last completed replication

  const perOp = Object.fromEntries(OPS.map((o) => [o, { points: 0, cut: 0, inside: 0, acks: 0, lost: 0 }]));
  let checkedInFull = 0, lostInFull = 0;
  let integrityFailures = 0, filesChecked = 0, resumed = 0, midRun = 0, compactions = 0;
  const order = [];
  for (let i = 0; i < POINTS; ++i) order.push(OPS[i % OPS.length]);
  order.sort(() => rand() - 0.5);

  for (let point = 0; point < POINTS; ++point) {
    const op = order[point];
    const stats = { acks: 0, compactions: 0 };
    const ackMark = new Map([...acked].map(([db, list]) => [db, list.length]));
    const attMark = attachments.length, purgeMark = purged.length;
    if (op === 'replicate') {
      // New and updated documents on the source for this run to copy (the source is never killed).
      const docs = [];
      for (let i = 0; i < 2000; ++i) docs.push({ _id: `s${sourceDocs + i}`, n: sourceDocs + i, pad: padding(100) });
      sourceDocs += docs.length;
      const r = await http('POST', `${sourceDb}/_bulk_docs`, { docs }, { timeoutMs: 60000 });
      if (r.status !== 201) throw new Error(`source bulk: ${r.text}`);
    }
    const ctx = { point, url: node.url, stats, compactRevs, replicationBody };
    const run = { stop: false };
    cut = 0;
    const work = workloads[op](ctx, run);
    await sleep(randInt(0, maxDelay[op]));
    const phase = run.phase;  // a kill inside the _compact or _purge request itself
    await killNode(node);
    run.stop = true;
    await work;

    const integrity = integrityCheck(dataDir);
    filesChecked += integrity.files;
    if (integrity.bad.length) { integrityFailures += integrity.bad.length; fail(point, `integrity: ${integrity.bad.join('; ')}`); }

    node = await startNode(dataDir);
    perOp[op].points++;
    perOp[op].acks += stats.acks;
    if (cut > 0) perOp[op].cut++;
    if (phase) perOp[op].inside++;
    compactions += stats.compactions;

    // Revisions acknowledged at this point, and a sample of earlier ones, in every database.
    for (const [db, list] of acked) {
      const from = ackMark.get(db) ?? 0;
      const check = list.slice(from);
      for (let i = 0; i < 50 && from > 0; ++i) check.push(list[randInt(0, from - 1)]);
      const missing = await revsMissing(node.url, db, check);
      if (missing.length) {
        perOp[op].lost += missing.length;
        fail(point, `${op}: ${missing.length} acknowledged revisions lost in ${db}, e.g. ${JSON.stringify(missing.slice(0, 3))}`);
      }
    }
    for (const a of attachments.slice(attMark)) {
      const r = await http('GET', `${node.url}/${a.db}/${a.id}?rev=${a.rev}`);
      const got = r.json?._attachments?.['f.bin']?.digest;
      if (r.status !== 200 || got !== a.digest) { perOp[op].lost++; fail(point, `attachment ${a.id}: ${r.status} ${got} != ${a.digest}`); }
    }
    const sample = attachments.slice(attMark).slice(0, 3);
    for (const a of sample) {
      const res = await fetch(`${node.url}/${a.db}/${a.id}/f.bin?rev=${a.rev}`);
      const digest = md5Digest(Buffer.from(await res.arrayBuffer()));
      if (res.status !== 200 || digest !== a.digest) { perOp[op].lost++; fail(point, `attachment body ${a.id}: ${res.status} ${digest}`); }
    }
    const stillThere = await revsMissing(node.url, 'purge', purged.slice(purgeMark).map(([, id, rev]) => [id, rev]));
    if (stillThere.length !== purged.length - purgeMark) {
      fail(point, `purge: ${purged.length - purgeMark - stillThere.length} acknowledged purges undone`);
    }
    if (op === 'compact') {
      // The winners' bodies survive compaction whatever moment it was killed at.
      const ids = [...compactRevs.keys()].slice(0, 1500);
      const r = await http('POST', `${node.url}/compact/_all_docs?include_docs=true`, { keys: ids }, { timeoutMs: 60000 });
      const broken = (r.json?.rows ?? []).filter((row) => !row.doc || typeof row.doc.pad !== 'string');
      if (r.status !== 200 || broken.length) fail(point, `compact: ${broken.length} documents without their body (${r.status})`);
      // Documents updated but not acknowledged: continue from the tree's current winner.
      for (const row of r.json?.rows ?? []) if (row.value?.rev) compactRevs.set(row.id, row.value.rev);
    }
    if (op === 'replicate') {
      const tgtCp = (await http('GET', `${node.url}/repl/_local/${repId}`)).json;
      const srcCp = (await http('GET', `${sourceDb}/_local/${repId}`)).json;
      const from = resumeSeq(srcCp?.error ? null : srcCp, tgtCp?.error ? null : tgtCp);
      if (from < lastCheckpoint) fail(point, `replicate: checkpoint went back from ${lastCheckpoint} to ${from}`);
      // Everything the checkpoint covers is in the target.
      const ch = await http('GET', `${sourceDb}/_changes?since=${lastCheckpoint}&style=all_docs`, undefined, { timeoutMs: 60000 });
      const covered = ch.json.results.filter((c) => Number(c.seq) <= from).map((c) => [c.id, c.changes[0].rev]);
      const missing = await revsMissing(node.url, 'repl', covered);
      if (missing.length) { perOp[op].lost += missing.length; fail(point, `replicate: ${missing.length} checkpointed documents missing`); }
      // A checkpoint recorded by the killed run itself counts its documents as acknowledged.
      if (from > lastCheckpoint) { midRun++; perOp[op].acks += covered.length; }
      // The next run resumes there, and reads only what came after.
      const again = await http('POST', `${node.url}/_replicate`, replicationBody(), { timeoutMs: 120000 });
      if (again.status !== 200) { fail(point, `replicate: the resumed run failed: ${again.text}`); } else {
        const cp = (await http('GET', `${node.url}/repl/_local/${repId}`)).json;
        const start = Number(cp.history?.[0]?.start_last_seq);
        const after = ch.json.results.filter((c) => Number(c.seq) > from).length;
        const read = again.json.history?.[0]?.docs_read ?? 0;
        if (start !== from) fail(point, `replicate: resumed from ${start}, the checkpoint said ${from}`);
        else if (read > after) fail(point, `replicate: the resumed run read ${read} documents, ${after} came after the checkpoint`);
        else if (from > 0) resumed++;
        lastCheckpoint = Number(cp.source_last_seq);
        const all = await revsMissing(node.url, 'repl', ch.json.results.map((c) => [c.id, c.changes[0].rev]));
        if (all.length) fail(point, `replicate: ${all.length} documents not replicated after the resumed run`);
      }
    }
    if ((point + 1) % ROTATE === 0 && point + 1 < POINTS) {
      const gone = await revsMissing(node.url, 'purge', purged.map(([, id, rev]) => [id, rev]));
      if (gone.length !== purged.length) fail(point, `purge: ${purged.length - gone.length} acknowledged purges undone (full check)`);
      for (const db of ['writes', 'atts', 'purge']) {
        const list = acked.get(db) ?? [];
        const missing = await revsMissing(node.url, db, list);
        checkedInFull += list.length;
        lostInFull += missing.length;
        if (missing.length) fail(point, `${missing.length} acknowledged revisions of ${db} lost (full check)`);
        acked.delete(db);
        await http('DELETE', `${node.url}/${db}`);
        if ((await http('PUT', `${node.url}/${db}`)).status !== 201) throw new Error(`recreate ${db}`);
      }
      purged.length = 0;
      attachments.length = 0;
      await http('DELETE', `${node.url}/repl`);
      await http('DELETE', sourceDb);
      if ((await http('PUT', sourceDb)).status !== 201) throw new Error('recreate src');
      if ((await http('PUT', `${node.url}/repl`)).status !== 201) throw new Error('recreate repl');
      sourceDocs = 0;
      lastCheckpoint = 0;
    }
    if (VERBOSE || point % 50 === 49) {
      console.log(`point ${point + 1}/${POINTS} ${op}: ${stats.acks} acknowledged; ${failures.length} failures so far`);
    }
  }

  // The whole run: every acknowledged revision, in every database.
  for (const [db, list] of acked) {
    checkedInFull += list.length;
    const missing = await revsMissing(node.url, db, list);
    lostInFull += missing.length;
    if (missing.length) fail(POINTS, `${missing.length} acknowledged revisions of ${db} lost by the end`);
  }
  const wall = (Date.now() - started) / 1000;
  console.log(`kill_test: ${POINTS} kill points in ${wall.toFixed(1)} s (seed ${SEED})`);
  for (const [op, s] of Object.entries(perOp)) {
    const inside = op === 'compact' || op === 'purge' ? `, ${s.inside} inside _${op}` : '';
    console.log(`  ${op.padEnd(11)} ${String(s.points).padStart(4)} points (${s.cut} killed mid-request${inside})  ` +
      `${String(s.acks).padStart(7)} acknowledged  ${s.lost} lost`);
  }
  console.log(`  acknowledged revisions checked in full (every ${ROTATE} points and at the end): ${checkedInFull}, ` +
    `lost: ${lostInFull}; compactions completed: ${compactions}`);
  console.log(`  integrity checks: ${filesChecked} database files, ${integrityFailures} failures; ` +
    `replications resumed from a checkpoint > 0: ${resumed} (from one the killed run recorded: ${midRun})`);
  await killNode(node);
  source.child.kill('SIGTERM');
  await source.exited;
  if (failures.length) {
    console.log(`kill_test: FAILED (${failures.length}); data kept in ${root}`);
    process.exit(1);
  }
  fs.rmSync(root, { recursive: true, force: true });
  console.log('kill_test: ok');
}

main().catch((e) => {
  console.error(`kill_test: ${e.stack ?? e}`);
  process.exit(2);
});
