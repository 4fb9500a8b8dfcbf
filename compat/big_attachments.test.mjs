// `settee replicate` with documents whose attachments are large. A document whose attachments total 1 MB
// or more is fetched alone (GET open_revs with attachments, Accept: multipart/mixed) and its bytes spooled
// to a file as they arrive, then written from there: into a local database as SQLite blobs, to a remote
// target as a multipart/related PUT ?new_edits=false streamed from the file.
//
// 1. pouchdb-server holds a 20 MB attachment (beside one of 200 KB, on a three-revision document with a
//    conflicting branch) and a few plain documents. pouchdb-server 4.2 answers open_revs with
//    application/json whatever the Accept header says, so the pulls from it (into a Settee node, into a
//    local database) take the JSON path: attachments inline in base64. The Settee node answers
//    multipart/mixed, so the push from there to a fresh pouchdb-server database and a pull from there into
//    a local database take the streaming path (a proxy with faults off shows the requests). Every copy
//    has the origin's revision trees and attachment digests, and both attachments read back byte for byte.
// 2. A target that refuses multipart/related (fault_proxy.mjs refuseMultipart: HTTP 415, as from a peer
//    without multipart PUT) gets the documents through _bulk_docs with the attachments inline instead.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import {
  PouchDB, startSettee, startPouchServer, spawnSettee, runSettee, http, waitFor, withTimeout, sleep, freePort, tempDir,
  pseudoRandomBytes, md5Digest,
} from './helpers.mjs';
import { check } from './fixtures.mjs';
import { startFaultProxy } from './fault_proxy.mjs';
import { snapshot, withoutStatuses, assertSameDatabase } from './snapshot.mjs';

const MB = 1024 * 1024;
const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

// Starts a server and registers its stop at once: one at a time, so a failed start leaves none running unseen.
async function start(starter) {
  const server = await starter();
  cleanups.push(() => server.stop());
  return server;
}

// `settee replicate ARGS`: exit status 0 and `completed: N written, 0 failed` (the replicator's
// docs_written and doc_write_failures) are asserted; returns the run with `written` parsed.
async function replicate(args, what) {
  const run = await runSettee(['replicate', ...args], { timeoutMs: 45000 });
  assert.equal(run.code, 0, `${what}: settee replicate ${args.join(' ')} (signal ${run.signal}):\n${run.out}`);
  const done = [...run.out.matchAll(/completed: (\d+) written, (\d+) failed/g)].pop();
  assert.ok(done, `${what}: no completion line:\n${run.out}`);
  assert.equal(Number(done[2]), 0, `${what}: doc_write_failures:\n${run.out}`);
  return { ...run, written: Number(done[1]) };
}

// An attachment's bytes over HTTP, as an md5 (the whole 20 MB are read).
async function attachmentMd5(url) {
  const res = await fetch(url, { signal: AbortSignal.timeout(30000) });
  assert.equal(res.status, 200, `GET ${url}`);
  return md5Digest(Buffer.from(await res.arrayBuffer()));
}

// The Content-Type a node answers to the replicator's request for one document with its attachments.
async function openRevsType(dbUrl, id, rev) {
  const q = `open_revs=${encodeURIComponent(JSON.stringify([rev]))}` +
    '&revs=true&latest=true&attachments=true&atts_since=[]';
  const res = await fetch(`${dbUrl}/${id}?${q}`,
    { headers: { Accept: 'multipart/mixed, application/json' }, signal: AbortSignal.timeout(30000) });
  await res.arrayBuffer();
  assert.equal(res.status, 200, `open_revs of ${id} at ${dbUrl}`);
  return res.headers.get('content-type');
}

// A fresh --data directory for `settee replicate` to write local databases into, removed at the end.
function dataDir(name) {
  const dir = tempDir(name);
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  return path.join(dir, 'data');
}

// Runs `check(url)` against `settee serve` on a data directory a replication wrote local databases into
// (started after the replication has exited, stopped by PID afterwards).
async function withServedData(dir, check) {
  const port = await freePort();
  const proc = spawnSettee(
    ['serve', '--bind', '127.0.0.1', '--port', String(port), '--data', dir, '--log-level', 'none']);
  cleanups.push(() => proc.stop());
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(async () => (await fetch(`${url}/_up`, { signal: AbortSignal.timeout(1000) })).ok, 15000,
      `settee serve --data ${dir} (${proc.output()})`);
    await check(url);
  } finally {
    await proc.stop();
  }
}

const attachment = (bytes, type = 'application/octet-stream') =>
  ({ content_type: type, data: Buffer.from(bytes).toString('base64') });
const revHash = (rev) => rev.split('-')[1];
const labelHash = (label) => crypto.createHash('md5').update(label).digest('hex');

const huge = pseudoRandomBytes(20 * MB, 2020);
const medium = pseudoRandomBytes(200 * 1024, 200);
let pouch, settee, originSnap, winner;

// The origin on pouchdb-server: "big" rev 1 with the 200 KB attachment, rev 2 adds the 20 MB one (the
// first as a stub), rev 3 edits the body with both as stubs; a branch from rev 1 with a small attachment
// of its own; five plain documents, one updated, one deleted. Built once, by the first test that needs it.
function origin() {
  originReady ??= buildOrigin();
  return originReady;
}
let originReady;

async function buildOrigin() {
  pouch = await start(startPouchServer);
  settee = await start(startSettee);
  const db = new PouchDB(`${pouch.url}/origin`);
  const r1 = await db.put({ _id: 'big', step: 1, _attachments: { 'medium.bin': attachment(medium) } });
  const first = await db.get('big'); // the 200 KB attachment as a stub with its digest
  assert.equal(first._rev, r1.rev);
  const r2 = await http('PUT', `${pouch.url}/origin/big`,
    { ...first, step: 2, _attachments: { ...first._attachments, 'huge.bin': attachment(huge) } }, { timeoutMs: 45000 });
  assert.equal(r2.status, 201, r2.text);
  await db.put({ ...(await db.get('big')), step: 3 });
  check(await db.bulkDocs([{
    _id: 'big', _rev: `2-${labelHash('side')}`, _revisions: { start: 2, ids: [labelHash('side'), revHash(r1.rev)] },
    side: true, _attachments: { 'side.txt': attachment('a branch of its own\n', 'text/plain') },
  }], { new_edits: false }));
  check(await db.bulkDocs(Array.from({ length: 5 }, (_, i) => ({ _id: `plain-${i}`, i, text: `plain ${i} é` }))));
  await db.put({ ...(await db.get('plain-1')), edited: true });
  await db.remove(await db.get('plain-2'));

  originSnap = withoutStatuses(await snapshot(db));
  winner = originSnap.big.winner;
  assert.equal(originSnap.big.leaves.length, 2, 'the fixture: "big" has a conflicting branch');
  const main = originSnap.big.leaves.find((l) => l.rev === winner);
  assert.equal(main.revisions.start, 3);
  assert.deepEqual(main.attachments['huge.bin'],
    { content_type: 'application/octet-stream', digest: md5Digest(huge), length: 20 * MB });
  assert.equal(main.attachments['medium.bin'].digest, md5Digest(medium));
}

// A copy holds what the origin holds: every leaf with its path and attachment stubs, and the bytes of
// both attachments of the winner (read whole over HTTP). pouchdb-server's are not read back (20 MB take
// it ~6 s): PouchDB computes the digest and length of every attachment it stores from the bytes it got.
async function assertCopy(name, url, { readBytes = true } = {}) {
  const snap = withoutStatuses(await snapshot(new PouchDB(url, { skip_setup: true })));
  assertSameDatabase(snap, originSnap, `${name} vs the origin`);
  if (!readBytes) return;
  assert.equal(await attachmentMd5(`${url}/big/huge.bin`), md5Digest(huge), `${name}: the 20 MB attachment`);
  assert.equal(await attachmentMd5(`${url}/big/medium.bin`), md5Digest(medium), `${name}: the 200 KB attachment`);
}

// Asked for the branch with the small attachment: the answer's type does not depend on the size.
test('pouchdb-server answers open_revs with attachments as JSON', { timeout: 40000 }, async (t) => {
  await origin();
  const side = originSnap.big.leaves.find((l) => l.rev !== winner).rev;
  const type = await openRevsType(`${pouch.url}/origin`, 'big', side);
  t.diagnostic('pouchdb-server: GET /origin/big?open_revs=..&attachments=true, ' +
    `Accept: multipart/mixed, application/json -> Content-Type: ${type}`);
  assert.match(type, /^application\/json/, 'pouchdb-server 4.2 has no multipart/mixed: pulls from it are JSON');
});

test('pull from pouchdb-server into a Settee node (JSON path)', { timeout: 40000 }, async (t) => {
  await origin();
  const started = Date.now();
  const pull = await replicate([`${pouch.url}/origin`, `${settee.url}/middle`, '--create-target'], 'pull into Settee');
  assert.equal(pull.written, 7, 'both leaves of "big" and the five plain documents');
  t.diagnostic(`replicated in ${pull.ms} ms`);
  await assertCopy('the Settee node', `${settee.url}/middle`);
  t.diagnostic(`replicated and compared in ${Date.now() - started} ms`);
});

test('pull from pouchdb-server into a local database (JSON path)', { timeout: 40000 }, async (t) => {
  await origin();
  const data = dataDir('big-json-local');
  const pull = await replicate([`${pouch.url}/origin`, 'pulled', '--data', data, '--create-target'],
    'pull into a local database');
  t.diagnostic(`replicated in ${pull.ms} ms`);
  await withServedData(data, (url) => assertCopy('the local database pulled from pouchdb-server', `${url}/pulled`));
});

// From the Settee node the previous tests filled: its copy of the origin goes out again.
test('from the Settee node (streaming): push to pouchdb-server, pull into local db', { timeout: 40000 }, async (t) => {
  await origin();
  assert.equal((await http('GET', `${settee.url}/middle`)).status, 200, 'the pull into the Settee node ran');
  const type = await openRevsType(`${settee.url}/middle`, 'big', winner);
  assert.match(type, /^multipart\/mixed/, 'Settee answers open_revs with attachments as multipart/mixed');
  const sourceProxy = await startFaultProxy(settee.url, { enabled: false });
  const targetProxy = await startFaultProxy(pouch.url, { enabled: false });
  cleanups.push(() => sourceProxy.close(), () => targetProxy.close());
  const data = dataDir('big-streamed-local');
  const push = await replicate([`${sourceProxy.url}/middle`, `${targetProxy.url}/copy`, '--create-target'],
    'push to pouchdb-server');
  const pull = await replicate([`${sourceProxy.url}/middle`, 'streamed', '--data', data, '--create-target'],
    'pull into a local database');
  assert.equal(push.written, 7);
  assert.equal(pull.written, 7);
  t.diagnostic(`push ${push.ms} ms, pull into a local database ${pull.ms} ms`);

  // Each run fetched "big" alone with its attachments; the push wrote it to pouchdb-server as a PUT
  // ?new_edits=false (multipart: JSON alone goes through _bulk_docs).
  const fetchedAlone = sourceProxy.requests.filter((r) => r.method === 'GET' && /^\/middle\/big\?/.test(r.path) &&
    /[?&]open_revs=/.test(r.path) && /[?&]attachments=true/.test(r.path));
  assert.equal(fetchedAlone.length, 2,
    `GET /middle/big?open_revs=..&attachments=true once per run:\n${JSON.stringify(sourceProxy.requests)}`);
  assert.ok(fetchedAlone.every((r) => r.status === 200), JSON.stringify(fetchedAlone));
  const put = targetProxy.requests.filter((r) => r.method === 'PUT' && /^\/copy\/big\?new_edits=false/.test(r.path));
  assert.ok(put.length >= 1 && put.every((r) => r.status === 201),
    `PUT /copy/big?new_edits=false: ${JSON.stringify(targetProxy.requests)}`);

  await assertCopy('the pouchdb-server copy', `${pouch.url}/copy`, { readBytes: false });
  await withServedData(data, (url) => assertCopy('the local database pulled from the Settee node', `${url}/streamed`));
});

// A multipart/related PUT ?new_edits=false of one document with a 5-byte attachment, as the replicator
// sends it; `framing` 'length' or 'chunked'.
function multipartPut(db, id, framing, extraHeaders = '') {
  const doc = { _id: id, _rev: `1-${labelHash(id)}`, _revisions: { start: 1, ids: [labelHash(id)] },
    _attachments: { 'x.txt': { content_type: 'text/plain', follows: true, length: 5 } } };
  const body = `--bnd\r\nContent-Type: application/json\r\n\r\n${JSON.stringify(doc)}\r\n--bnd\r\n` +
    'Content-Disposition: attachment; filename="x.txt"\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n' +
    'hello\r\n--bnd--';
  const head = `PUT /${db}/${id}?new_edits=false HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
    `Content-Type: multipart/related; boundary="bnd"\r\n${extraHeaders}` +
    (framing === 'chunked' ? 'Transfer-Encoding: chunked' : `Content-Length: ${Buffer.byteLength(body)}`) + '\r\n\r\n';
  if (framing !== 'chunked') return [head, body];
  const half = Math.floor(body.length / 2);
  const chunk = (text) => `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`;
  return [head, chunk(body.slice(0, half)), chunk(body.slice(half)), '0\r\n\r\n'];
}

// One keep-alive connection written in pieces (each its own TCP segment, as far as Nagle allows); reads
// whole responses framed by Content-Length.
function rawConnection(port) {
  const sock = net.connect(port, '127.0.0.1');
  sock.setNoDelay(true);
  let buf = Buffer.alloc(0);
  let wake = () => {};
  sock.on('data', (d) => { buf = Buffer.concat([buf, d]); wake(); });
  sock.on('error', () => wake());
  const closed = new Promise((resolve) => sock.on('close', () => { wake(); resolve(); }));
  const take = () => {
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0) return null;
    const head = buf.subarray(0, end).toString('latin1');
    const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? NaN);
    assert.ok(Number.isFinite(length), `a response without Content-Length: ${head}`);
    if (buf.length < end + 4 + length) return null;
    const body = buf.subarray(end + 4, end + 4 + length).toString();
    buf = buf.subarray(end + 4 + length);
    return { status: Number(head.slice(9, 12)), head, body };
  };
  return {
    closed,
    async send(pieces) {
      wake = () => {}; // the previous answer's waiter must not take this one
      for (const piece of pieces) {
        await new Promise((resolve) => sock.write(piece, resolve));
        await sleep(5); // separate segments: the proxy must hold a head split across them
      }
      return withTimeout(new Promise((resolve) => {
        wake = () => { const r = take(); if (r || sock.destroyed) resolve(r); };
        wake();
      }), 10000, `an answer to ${String(pieces[0]).split('\r\n')[0]}`);
    },
    close() { sock.destroy(); },
  };
}

test('refuseMultipart answers multipart/related with 415 without forwarding it', { timeout: 30000 }, async () => {
  const node = await start(startSettee);
  const proxy = await startFaultProxy(node.url, { enabled: false, refuseMultipart: true });
  cleanups.push(() => proxy.close());
  const conn = rawConnection(proxy.port);
  try {
    const create = await conn.send(['PUT /mp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n']);
    assert.equal(create.status, 201, 'a request of another type goes through');
    for (const [id, framing] of [['by-length', 'length'], ['by-chunks', 'chunked']]) {
      const [head, ...rest] = multipartPut('mp', id, framing);
      const split = Math.floor(head.length / 2);
      const res = await conn.send([head.slice(0, split), head.slice(split), ...rest]);
      assert.equal(res?.status, 415, `${framing}: ${res?.head}`);
      assert.match(res.head, /\r\ncontent-type: application\/json/i);
      assert.equal(JSON.parse(res.body).error, 'bad_content_type');
    }
    // Still the same connection, and nothing of either PUT reached the node.
    for (const id of ['by-length', 'by-chunks']) {
      assert.equal((await conn.send([`GET /mp/${id} HTTP/1.1\r\nHost: x\r\n\r\n`])).status, 404, id);
    }
  } finally {
    conn.close();
  }
  assert.equal(proxy.stats.connections, 1);
  assert.equal(proxy.stats.refused, 2);
  assert.deepEqual(proxy.requests.map((r) => [r.method, r.path.split('?')[0], r.status, Boolean(r.refused)]), [
    ['PUT', '/mp', 201, false], ['PUT', '/mp/by-length', 415, true], ['PUT', '/mp/by-chunks', 415, true],
    ['GET', '/mp/by-length', 404, false], ['GET', '/mp/by-chunks', 404, false],
  ]);

  // Connection: close is honoured; the same bytes straight to the node are a valid write.
  const once = rawConnection(proxy.port);
  const res = await once.send(multipartPut('mp', 'closing', 'length', 'Connection: close\r\n'));
  assert.equal(res?.status, 415);
  await withTimeout(once.closed, 5000, 'the proxy closing the connection after its 415');
  const direct = rawConnection(Number(new URL(node.url).port));
  try {
    const written = await direct.send(multipartPut('mp', 'by-length', 'length'));
    assert.equal(written.status, 201, 'the node takes this request itself');
  } finally {
    direct.close();
  }
});

test('a target refusing multipart PUT (415) gets attachments inline via _bulk_docs', { timeout: 40000 }, async (t) => {
  const source = await start(startSettee);
  const target = await start(startSettee);
  const two = pseudoRandomBytes(2 * MB, 22);
  const hundred = pseudoRandomBytes(100 * 1024, 100);
  assert.equal((await http('PUT', `${source.url}/src`)).status, 201);
  const src = new PouchDB(`${source.url}/src`, { skip_setup: true });
  // The 2 MB document first: it is streamed (>= 1 MB) and is what meets the refusal.
  await src.put({ _id: 'two-mb', _attachments: { 'two.bin': attachment(two) } });
  await src.put({ _id: 'hundred-kb', _attachments: { 'hundred.bin': attachment(hundred) } });

  const proxy = await startFaultProxy(target.url, { enabled: false, refuseMultipart: true });
  cleanups.push(() => proxy.close());
  const run = await replicate([`${source.url}/src`, `${proxy.url}/dst`, '--create-target'],
    'replicate to a peer without multipart');
  assert.equal(run.written, 2, run.out);

  const refused = proxy.requests.filter((r) => r.refused);
  const others = proxy.requests.filter((r) => !r.refused).map((r) => `${r.method} ${r.path.split('?')[0]} ${r.status}`);
  t.diagnostic(`refused: ${JSON.stringify(refused)}; forwarded: ${others.join(', ')}`);
  assert.ok(refused.some((r) => r.method === 'PUT' && /^\/dst\/two-mb\?new_edits=false/.test(r.path)),
    `the streamed document's multipart PUT was refused: ${proxy.describe()}\n${JSON.stringify(proxy.requests)}`);
  assert.equal(proxy.stats.refused, refused.length);
  const bulk = proxy.requests.filter((r) => r.method === 'POST' && r.path === '/dst/_bulk_docs');
  assert.ok(bulk.length >= 1 && bulk.every((r) => r.status === 201),
    `the fallback went through _bulk_docs: ${JSON.stringify(proxy.requests)}`);
  const accepted = proxy.requests.filter((r) => r.method === 'PUT' && /\?new_edits=false/.test(r.path) && !r.refused);
  assert.deepEqual(accepted, [], 'no multipart PUT reached the target');
  // The checkpoint the run left on the target counts the same.
  const checkpoint = proxy.requests.find((r) => r.method === 'PUT' && /^\/dst\/_local\//.test(r.path));
  assert.ok(checkpoint, JSON.stringify(proxy.requests));
  const history = (await http('GET', `${target.url}${checkpoint.path}`)).json?.history?.[0];
  assert.equal(history?.doc_write_failures, 0, JSON.stringify(history));
  assert.equal(history?.docs_written, 2, JSON.stringify(history));

  const snapSrc = withoutStatuses(await snapshot(src));
  const snapDst = withoutStatuses(await snapshot(new PouchDB(`${target.url}/dst`, { skip_setup: true })));
  assertSameDatabase(snapDst, snapSrc, 'target behind the refusing proxy vs source');
  assert.equal(snapDst['two-mb'].leaves[0].attachments['two.bin'].digest, md5Digest(two));
  assert.equal(await attachmentMd5(`${target.url}/dst/two-mb/two.bin`), md5Digest(two), 'the 2 MB attachment');
  assert.equal(await attachmentMd5(`${target.url}/dst/hundred-kb/hundred.bin`), md5Digest(hundred), 'the 100 KB one');
});
