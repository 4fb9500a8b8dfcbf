// `settee replicate` over HTTPS. A throw-away CA (made with the openssl command) signs a certificate for
// 127.0.0.1 and localhost and one for another host name; node TLS proxies serve each in front of a plain
// `settee serve` node S, and a second node T is reached over plain HTTP. Checks: a pull from https and a
// push to https copy the whole fixture (live and deleted conflicts, deletions, a 1 MB attachment) so that
// the snapshots match, and a re-run finds nothing to do (checkpoints over TLS); without --ca-file the
// private CA is not trusted, and a certificate for another name is refused even with it: both exit
// non-zero with a message naming the certificate problem, and nothing reaches (or is created on) the target.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import tls from 'node:tls';
import { PouchDB, startSettee, tempDir, http, runSettee, md5Digest } from './helpers.mjs';
import { populate } from './fixtures.mjs';
import { snapshot, withoutStatuses, assertSameDatabase } from './snapshot.mjs';
import { makeCertificates, startTlsProxy } from './tls_proxy.mjs';

const BIG = 1024 * 1024;
// Runs `settee replicate ARGS` to completion (killed by PID after `timeoutMs`). The system's CA store
// stays the default one: SSL_CERT_FILE / SSL_CERT_DIR are removed so the test CA can only come from --ca-file.
function replicate(args, { timeoutMs = 45000 } = {}) {
  const env = { ...process.env };
  delete env.SSL_CERT_FILE;
  delete env.SSL_CERT_DIR;
  return runSettee(['replicate', ...args], { timeoutMs, env, cwd: dir });
}

let dir;
let certs;
let S; // behind the TLS proxies
let T; // plain HTTP
let good; // proxy with the certificate for 127.0.0.1 and localhost
let wrong; // proxy with a certificate for other.example only
let big;

before(async () => {
  dir = tempDir('tls');
  certs = makeCertificates(dir, {
    good: ['IP:127.0.0.1', 'DNS:localhost'],
    other: ['DNS:other.example', 'IP:10.9.8.7'],
  });
  S = await startSettee();
  T = await startSettee();
  const sPort = Number(new URL(S.url).port);
  good = await startTlsProxy({ ...certs.good, targetPort: sPort });
  wrong = await startTlsProxy({ ...certs.other, targetPort: sPort });
  ({ big } = await populate(new PouchDB(`${S.url}/src`), { bigBytes: BIG }));
});

after(async () => {
  await good?.close();
  await wrong?.close();
  await S?.stop();
  await T?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

// Node's own TLS stack agrees on what the certificates are: the good one verifies for both names with
// the CA, the other one is refused for its name. So a refusal below is Settee refusing for that reason.
function nodeHandshake(port, servername) {
  return new Promise((resolve) => {
    const sock = tls.connect({ host: '127.0.0.1', port, servername, ca: fs.readFileSync(certs.ca) });
    sock.setTimeout(5000, () => { sock.destroy(); resolve('timeout'); });
    sock.once('secureConnect', () => { sock.end(); resolve('ok'); });
    sock.once('error', (e) => { sock.destroy(); resolve(e.code || e.message); });
  });
}

test('the test certificates are what they claim (checked with node tls)', async () => {
  assert.equal(await nodeHandshake(good.port, 'localhost'), 'ok');
  assert.equal(await nodeHandshake(wrong.port, 'localhost'), 'ERR_TLS_CERT_ALTNAME_INVALID');
  const noCa = await new Promise((resolve) => {
    const sock = tls.connect({ host: '127.0.0.1', port: good.port, servername: 'localhost' });
    sock.once('secureConnect', () => { sock.end(); resolve('ok'); });
    sock.once('error', (e) => { sock.destroy(); resolve(e.code); });
  });
  assert.notEqual(noCa, 'ok', 'the test CA must not be in the default trust store');
});

test('pull from an https source with --ca-file copies everything, and a re-run has nothing to do', { timeout: 60000 }, async () => {
  const before = good.handshakes;
  const run = await replicate([`${good.url}/src`, `${T.url}/pulled`, '--ca-file', certs.ca, '--create-target']);
  assert.equal(run.code, 0, run.out);
  assert.match(run.out, /completed: \d+ written, 0 failed/);
  assert.ok(good.handshakes > before, 'the replication went through the TLS proxy');

  const src = await snapshot(new PouchDB(`${S.url}/src`));
  const dst = await snapshot(new PouchDB(`${T.url}/pulled`));
  assert.equal(Object.keys(src).length, 37, 'the fixture is in the source');
  assert.equal(src.conflicted2.conflicts.length, 1);
  assert.deepEqual(src.conflicted.leaves.map((l) => l.deleted), [false, true]);
  assert.equal(src.d10.deleted, true);
  assertSameDatabase(withoutStatuses(dst), withoutStatuses(src), 'the target pulled over https');
  assert.equal(dst['att-big'].leaves[0].attachments['blob.bin'].digest, md5Digest(big));
  const blob = await fetch(`${T.url}/pulled/att-big/blob.bin`, { signal: AbortSignal.timeout(30000) });
  assert.equal(blob.status, 200);
  assert.ok(Buffer.from(await blob.arrayBuffer()).equals(big), 'the 1 MB attachment arrived byte for byte');
  const dc = await http('GET', `${T.url}/pulled/conflicted?deleted_conflicts=true`);
  assert.deepEqual(dc.json._deleted_conflicts, [src.conflicted.leaves[1].rev]);
  assert.equal((await http('GET', `${T.url}/pulled/_local/secret`)).status, 404, '_local docs do not travel');

  // The checkpoint was written on both sides, over TLS on the source: a second run writes nothing.
  const again = await replicate([`${good.url}/src`, `${T.url}/pulled`, '--ca-file', certs.ca]);
  assert.equal(again.code, 0, again.out);
  assert.match(again.out, /completed: 0 written, 0 failed/);
});

test('push to an https target (by host name) with --ca-file creates it and copies everything', { timeout: 60000 }, async () => {
  const before = good.handshakes;
  const target = `https://localhost:${good.port}/pushed`;
  const run = await replicate([`${S.url}/src`, target, '--ca-file', certs.ca, '--create-target']);
  assert.equal(run.code, 0, run.out);
  assert.match(run.out, /completed: \d+ written, 0 failed/);
  assert.ok(good.handshakes > before, 'the replication went through the TLS proxy');
  const src = await snapshot(new PouchDB(`${S.url}/src`));
  const dst = await snapshot(new PouchDB(`${S.url}/pushed`));
  assert.equal(Object.keys(dst).length, 37);
  assertSameDatabase(withoutStatuses(dst), withoutStatuses(src), 'the target pushed to over https');
  assert.equal(dst['att-big'].leaves[0].attachments['blob.bin'].digest, md5Digest(big));
  const again = await replicate([`${S.url}/src`, target, '--ca-file', certs.ca]);
  assert.equal(again.code, 0, again.out);
  assert.match(again.out, /completed: 0 written, 0 failed/);
});

// A refused replication: non-zero exit, the certificate problem named, no TLS session, nothing written.
async function assertRefused(args, proxy, reason, untouchedUrl) {
  const handshakes = proxy.handshakes;
  const errors = proxy.tlsErrors.length;
  const run = await replicate([...args, '--create-target', '--retries', '1']);
  assert.notEqual(run.code, 0, run.out);
  assert.equal(run.signal, null, `settee replicate was killed: ${run.out}`);
  assert.match(run.out, /replication failed: .*the TLS certificate of \S+ was rejected/, run.out);
  assert.ok(run.out.includes(reason), `expected "${reason}" in: ${run.out}`);
  assert.equal(proxy.handshakes, handshakes, 'no TLS session was established');
  assert.ok(proxy.tlsErrors.length > errors, 'the client aborted the handshake');
  const res = await http('GET', untouchedUrl);
  assert.equal(res.status, 404, `the target must not exist: ${res.text}`);
}

test('without --ca-file the private CA is not trusted: pull and push fail and write nothing', { timeout: 60000 }, async () => {
  await assertRefused([`${good.url}/src`, `${T.url}/never1`], good, 'unable to get local issuer certificate',
    `${T.url}/never1`);
  await assertRefused([`${S.url}/src`, `${good.url}/never2`], good, 'unable to get local issuer certificate',
    `${S.url}/never2`);
});

test('a certificate issued for another name is refused even with --ca-file', { timeout: 60000 }, async () => {
  const ca = ['--ca-file', certs.ca];
  await assertRefused([`${wrong.url}/src`, `${T.url}/never3`, ...ca], wrong, 'IP address mismatch', `${T.url}/never3`);
  await assertRefused([`https://localhost:${wrong.port}/src`, `${T.url}/never4`, ...ca], wrong, 'hostname mismatch',
    `${T.url}/never4`);
  await assertRefused([`${S.url}/src`, `https://localhost:${wrong.port}/never5`, ...ca], wrong, 'hostname mismatch',
    `${S.url}/never5`);
});

// A rejected certificate will not change by asking again: the replicator must not retry it as a
// network error (with tuning::kRetries = 8 and backoff that took about 70 s).
test('with default retries a certificate rejection fails promptly', { timeout: 30000 }, async () => {
  const run = await replicate([`${good.url}/src`, `${T.url}/never6`, '--create-target'], { timeoutMs: 10000 });
  assert.equal(run.signal, null, `still retrying after ${run.ms} ms: ${run.out}`);
  assert.notEqual(run.code, 0, run.out);
  assert.match(run.out, /was rejected: unable to get local issuer certificate/);
});
