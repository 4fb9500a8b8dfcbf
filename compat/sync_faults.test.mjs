// `settee sync` when things go wrong, against real Settee nodes (sync_support.mjs has the device):
// - a sync through fault_proxy.mjs (resets, cut requests and answers, delays) converges both ways, and
//   the proxy's counters prove faults were injected;
// - a document the peer refuses is `failed` in `settee status --json` with the peer's reason and does not
//   hold back the documents after it: a design document written by a non-admin member (the node answers
//   that one document `unauthorized`), and a document over the node's max_document_size (413 for the
//   request that carries it); an edit of the refused document makes it pending again;
// - documents matching --priority reach the peer before the others when all are pending, both ways (the
//   receiving side's _changes order shows it; they were written last, so without priority they would go
//   last);
// - the outbox count after kill -9 of `settee sync` mid-push: a gate in front of the peer lets the first
//   _bulk_docs through and holds the next ones unanswered; after the kill, `settee status --json` counts
//   as pending exactly the documents the peer lacks (asked with _revs_diff), and a new sync sends them;
// - and the opposite of a fault: an idle sync with a live, silent peer (a Settee node, pouchdb-server)
//   stays idle for longer than the replicator's feed-silence limit, never reported offline.
//
// FAULT_SEED=N replays a fault mix.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import nodeHttp from 'node:http';
import { PouchDB, http, sleep, startPouchServer, startSettee, waitFor } from './helpers.mjs';
import { startFaultProxy } from './fault_proxy.mjs';
import { snapshot, withoutStatuses, assertSameDatabase } from './snapshot.mjs';
import { Device, bulkWrite, changesOrder, startNodeWithAdmin } from './sync_support.mjs';

const baseSeed = process.env.FAULT_SEED ? Number(process.env.FAULT_SEED) : Math.floor(Math.random() * 2 ** 31);
const cleanups = [];
let node;
before(async () => {
  node = await startSettee();
  cleanups.push(() => node.stop());
});
after(async () => { for (const c of cleanups.reverse()) await c(); });

let dbCounter = 0;
async function freshDb(base = node.url, headers = {}) {
  const url = `${base}/faults-${++dbCounter}`;
  const res = await http('PUT', url, undefined, { headers });
  assert.equal(res.status, 201, res.text);
  return url;
}

const docs = (prefix, n, extra = {}) => Array.from({ length: n }, (_, i) =>
  ({ _id: `${prefix}-${String(i).padStart(4, '0')}`, n: i, text: `${prefix} ${i} ✓`, ...extra }));

async function deviceWith(name, build) {
  const device = new Device(name);
  cleanups.push(() => device.cleanup());
  await device.create();
  if (build) await device.edit(build);
  return device;
}

test('a sync through a faulty link converges both ways', { timeout: 180000 }, async () => {
  const peer = await freshDb();
  await bulkWrite(peer, docs('peer', 400));
  const device = await deviceWith('faulty', async (url) => {
    await bulkWrite(url, docs('dev', 400));
    const att = { 'a.bin': { content_type: 'application/octet-stream', data: Buffer.alloc(100 * 1024, 7).toString('base64') } };
    await bulkWrite(url, [{ _id: 'with-att', _attachments: att }]);
  });
  const seed = baseSeed;
  const proxy = await startFaultProxy(node.url, {
    seed, dropRate: 0.05, truncateRate: 0.05, requestCutRate: 0.02, delayRate: 0.1, maxDelayMs: 80, maxFaults: 25,
  });
  cleanups.push(() => proxy.close());
  const viaProxy = `${proxy.url}${new URL(peer).pathname}`;
  const since = Date.now();
  device.startSync(viaProxy);
  try {
    await waitFor(async () => (await http('GET', peer)).json.doc_count === 801, 120000, 'the device\'s documents on the peer');
    await device.waitCaughtUp(viaProxy, { sinceMs: since, ms: 120000, what: 'the sync through faults' });
  } catch (e) {
    e.message += `\nFAULT_SEED=${seed}\n${proxy.describe()}`;
    throw e;
  }
  await device.stopSync(viaProxy);
  assert.ok(proxy.faults > 0, `faults were injected: ${JSON.stringify(proxy.stats)}`);
  const peerSnap = await snapshot(new PouchDB(peer, { skip_setup: true }));
  assert.equal(Object.keys(peerSnap).length, 801);
  assertSameDatabase(withoutStatuses(await device.snapshot()), withoutStatuses(peerSnap),
    `device and peer after a faulty sync (FAULT_SEED=${seed})`);
});

test('a design document a member may not write is failed with the peer\'s reason and holds back nothing',
  { timeout: 120000 }, async () => {
    const peerNode = await startNodeWithAdmin('refusing');
    cleanups.push(() => peerNode.stop());
    const auth = { headers: peerNode.auth };
    const users = await http('PUT', `${peerNode.url}/_users`, undefined, auth);
    assert.ok(users.status === 201 || users.status === 412, users.text); // a node with admins may have made it
    const user = await http('PUT', `${peerNode.url}/_users/org.couchdb.user:bob`,
      { _id: 'org.couchdb.user:bob', name: 'bob', password: 's3cret', roles: [], type: 'user' }, auth);
    assert.equal(user.status, 201, user.text);
    const peer = await freshDb(peerNode.url, peerNode.auth);
    const sec = await http('PUT', `${peer}/_security`,
      { admins: { names: [], roles: [] }, members: { names: ['bob'], roles: [] } }, auth);
    assert.equal(sec.status, 200, sec.text);

    // The design document sits between the others in the device's sequence.
    const device = await deviceWith('refused', async (url) => {
      await bulkWrite(url, docs('before', 50));
      await bulkWrite(url, [{ _id: '_design/app', views: { v: { map: 'function (doc) { emit(doc.n); }' } } }]);
      await bulkWrite(url, docs('after', 50));
    });
    const u = new URL(peer);
    const asBob = `http://bob:s3cret@${u.host}${u.pathname}`;
    device.startSync(asBob);
    await waitFor(async () => (await http('GET', peer, undefined, auth)).json.doc_count === 100, 60000,
      'the other documents on the peer').catch((e) => {
      e.message += `\n${device.syncOutput(asBob).slice(-2000)}`;
      throw e;
    });
    await waitFor(() => {
      const s = device.live(asBob);
      return s?.failed === 1 && s.pending === 0;
    }, 60000, 'the design document to be failed and nothing pending').catch((e) => {
      e.message += `\n${device.syncOutput(asBob).slice(-2000)}`;
      throw e;
    });
    await device.stopSync(asBob);
    const st = await device.status(asBob);
    assert.equal(st.failed, 1, JSON.stringify(st.raw));
    assert.equal(st.pending, 0, JSON.stringify(st.raw));
    const failed = st.failedDocs.find((d) => d.id === '_design/app');
    assert.ok(failed, `the failed list names the design document: ${JSON.stringify(st.raw)}`);
    const said = JSON.stringify(failed);
    assert.match(said, /unauthorized|forbidden/, `the peer's error: ${said}`);
    assert.match(said, /You are not a db or server admin/, `the peer's reason: ${said}`);
    assert.equal((await http('GET', `${peer}/_design/app`, undefined, auth)).status, 404);

    // Failed until it changes again: then it is pending (and the failure gone).
    await device.edit(async (url) => {
      const d = (await http('GET', `${url}/_design/app`)).json;
      assert.equal((await http('PUT', `${url}/_design/app`, { ...d, edited: true })).status, 201);
    });
    const after = await device.status(asBob);
    assert.equal(after.failed, 0, JSON.stringify(after.raw));
    assert.equal(after.pending, 1, JSON.stringify(after.raw));
  });

test('a document over the peer\'s max_document_size is failed (413) and holds back nothing', { timeout: 120000 },
  async () => {
    const peerNode = await startNodeWithAdmin('small-docs', '[couchdb]\nmax_document_size = 4096\n');
    cleanups.push(() => peerNode.stop());
    const peer = await freshDb(peerNode.url, peerNode.auth);
    const device = await deviceWith('too-large', async (url) => {
      await bulkWrite(url, docs('before', 50));
      await bulkWrite(url, [{ _id: 'huge', text: 'x'.repeat(20000) }]);
      await bulkWrite(url, docs('after', 50));
    });
    const asAdmin = `${peerNode.adminUrl}${new URL(peer).pathname}`;
    device.startSync(asAdmin);
    await waitFor(async () => (await http('GET', peer, undefined, { headers: peerNode.auth })).json.doc_count === 100,
      60000, 'the other documents on the peer').catch((e) => {
      e.message += `\n${device.syncOutput(asAdmin).slice(-2000)}`;
      throw e;
    });
    await waitFor(() => {
      const s = device.live(asAdmin);
      return s?.failed === 1 && s.pending === 0;
    }, 60000, 'the large document to be failed and nothing pending').catch((e) => {
      e.message += `\n${device.syncOutput(asAdmin).slice(-2000)}`;
      throw e;
    });
    await device.stopSync(asAdmin);
    const st = await device.status(asAdmin);
    assert.equal(st.failed, 1, JSON.stringify(st.raw));
    const failed = st.failedDocs.find((d) => d.id === 'huge');
    assert.ok(failed, `the failed list names the large document: ${JSON.stringify(st.raw)}`);
    assert.match(JSON.stringify(failed), /too_large|413/, `the peer's answer: ${JSON.stringify(failed)}`);
  });

test('--priority documents reach the other side first, both ways', { timeout: 120000 }, async () => {
  const PHOTOS = 600;
  const CONFIRMATIONS = 10;
  const peer = await freshDb();
  await bulkWrite(peer, docs('peer-photo', PHOTOS, { type: 'photo', blob: 'p'.repeat(2000) }));
  await bulkWrite(peer, docs('peer-confirmation', CONFIRMATIONS, { type: 'confirmation' }));
  // Written last on each side: their own order would send them last.
  const device = await deviceWith('priority', async (url) => {
    await bulkWrite(url, docs('dev-photo', PHOTOS, { type: 'photo', blob: 'p'.repeat(2000) }));
    await bulkWrite(url, docs('dev-confirmation', CONFIRMATIONS, { type: 'confirmation' }));
  });
  const since = Date.now();
  device.startSync(peer, ['--priority', JSON.stringify({ type: 'confirmation' })]);
  await device.waitCaughtUp(peer, { sinceMs: since, what: 'the prioritised sync' });
  await device.stopSync(peer);

  const firstOnes = (order, prefix) => {
    const arrived = order.filter((c) => c.id.startsWith(prefix)).map((c) => c.id);
    const lastConfirmation = Math.max(...arrived.map((id, i) => (id.includes('confirmation') ? i : -1)));
    return { arrived, lastConfirmation };
  };
  const pushed = firstOnes(await changesOrder(peer), 'dev-');
  assert.equal(pushed.arrived.length, PHOTOS + CONFIRMATIONS, 'every device document reached the peer');
  assert.equal(pushed.lastConfirmation, CONFIRMATIONS - 1,
    `the confirmations reached the peer before any photo: ${pushed.arrived.slice(0, 20).join(' ')}`);
  const pulled = firstOnes(await device.edit((url) => changesOrder(url)), 'peer-');
  assert.equal(pulled.arrived.length, PHOTOS + CONFIRMATIONS, 'every peer document reached the device');
  assert.equal(pulled.lastConfirmation, CONFIRMATIONS - 1,
    `the confirmations reached the device before any photo: ${pulled.arrived.slice(0, 20).join(' ')}`);
});

// An HTTP proxy that forwards everything but lets only `allow` POST .../_bulk_docs through; later ones are
// read and held unanswered (the push is mid-flight, the peer never sees them).
function bulkDocsGate(upstream, allow) {
  const up = new URL(upstream);
  const state = { passed: 0, answered: 0, held: 0, passedDocs: [] };
  const heldResponses = [];
  const server = nodeHttp.createServer((req, res) => {
    const isBulk = req.method === 'POST' && req.url.split('?')[0].endsWith('/_bulk_docs');
    if (isBulk && state.passed >= allow) {
      state.held++;
      req.resume();
      heldResponses.push(res);
      return;
    }
    if (isBulk) state.passed++;
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (isBulk) {
        try { state.passedDocs.push(...JSON.parse(body).docs.map((d) => d._id)); } catch { /* not JSON */ }
      }
      const fwd = nodeHttp.request({ host: up.hostname, port: up.port, method: req.method, path: req.url, headers: req.headers },
        (r) => {
          res.writeHead(r.statusCode, r.headers);
          r.pipe(res);
          if (isBulk) res.on('finish', () => { state.answered++; });
        });
      fwd.on('error', () => res.destroy());
      fwd.end(body);
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    url: `http://127.0.0.1:${server.address().port}`,
    state,
    close: () => new Promise((r) => {
      for (const res of heldResponses) res.destroy();
      server.closeAllConnections();
      server.close(r);
    }),
  })));
}

test('after kill -9 mid-push, the outbox count is exactly what the peer lacks; a new sync sends it',
  { timeout: 180000 }, async () => {
    const N = 3000;
    const peer = await freshDb();
    const device = await deviceWith('killed', async (url) => {
      for (let at = 0; at < N; at += 1000) await bulkWrite(url, docs('out', N).slice(at, at + 1000));
    });
    const gate = await bulkDocsGate(node.url, 1);
    cleanups.push(() => gate.close());
    const viaGate = `${gate.url}${new URL(peer).pathname}`;
    device.startSync(viaGate);
    await waitFor(() => gate.state.answered === 1 && gate.state.held > 0, 60000,
      `one _bulk_docs answered and the next held (${JSON.stringify({ ...gate.state, passedDocs: undefined })})`);
    // The answered batch's confirmation is the device's to record; give it time to commit, as an app
    // killed a moment later would have.
    await sleep(1000);
    const killed = await device.killSync(viaGate);
    assert.equal(killed.signal, 'SIGKILL');

    const onPeer = (await http('GET', peer)).json.doc_count;
    assert.ok(onPeer > 0 && onPeer < N, `mid-push: the peer has ${onPeer} of ${N}`);
    // What the peer lacks, by the protocol's own question.
    const local = await device.edit(async (url) => (await http('GET', `${url}/_changes`)).json.results);
    const diff = await http('POST', `${peer}/_revs_diff`,
      Object.fromEntries(local.map((r) => [r.id, r.changes.map((c) => c.rev)])));
    const lacking = Object.keys(diff.json).sort();
    assert.equal(lacking.length, N - onPeer);

    const st = await device.status(viaGate);
    assert.equal(st.pending, lacking.length,
      `the outbox after kill -9 counts what the peer lacks (peer has ${onPeer}, ${gate.state.passedDocs.length} sent)`);
    assert.equal(st.failed, 0);
    if (st.pendingDocs.length) {
      // The listing (maybe a first page of it) names documents the peer lacks, none it has.
      const lack = new Set(lacking);
      assert.deepEqual(st.pendingDocs.map((d) => d.id).filter((id) => !lack.has(id)), [],
        'no document the peer has is listed as pending');
    }

    // The outbox belongs to the peer key (its URL): the next sync goes through a plain proxy on the
    // gate's port, so it is the same peer.
    await gate.close();
    const sameGate = await gateOnPort(new URL(viaGate).port, node.url);
    cleanups.push(() => sameGate.close());
    const since = Date.now();
    device.startSync(viaGate);
    await device.waitCaughtUp(viaGate, { sinceMs: since, what: 'the sync after the kill' });
    await device.stopSync(viaGate);
    assert.equal((await http('GET', peer)).json.doc_count, N, 'every document reached the peer');
    const final = await device.status(viaGate);
    assert.equal(final.pending, 0);
  });

// A plain forwarding proxy on a given port (the one a killed sync used, so the peer key is the same).
function gateOnPort(port, upstream) {
  const up = new URL(upstream);
  const server = nodeHttp.createServer((req, res) => {
    const fwd = nodeHttp.request({ host: up.hostname, port: up.port, method: req.method, path: req.url, headers: req.headers },
      (r) => { res.writeHead(r.statusCode, r.headers); r.pipe(res); });
    fwd.on('error', () => res.destroy());
    req.pipe(fwd);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(port), '127.0.0.1', () => resolve({
      close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }),
    }));
  });
}

test('an idle sync with a live peer that has nothing to say stays idle, never offline', { timeout: 120000 }, async () => {
  const pouch = await startPouchServer();
  cleanups.push(() => pouch.stop());
  const peers = [await freshDb(), await freshDb(pouch.url)];
  const devices = [];
  for (const [i, peer] of peers.entries()) {
    const d = await deviceWith(`idle${i}`);
    devices.push(d);
    d.startSync(peer);
    await d.waitCaughtUp(peer, { what: `the first sync with ${peer}` });
  }
  // Past the replicator's 25 s of tolerated silence on a waiting changes feed (tuning.h feedSilence).
  await sleep(32000);
  for (const [i, d] of devices.entries()) {
    const lines = d.syncOutput(peers[i]).split('\n').filter((l) => / pending=/.test(l));
    const idleAt = lines.findIndex((l) => / idle /.test(l));
    const after = lines.slice(idleAt + 1);
    await d.stopSync(peers[i]);
    assert.deepEqual(after.filter((l) => !/ stopped /.test(l)), [],
      `${peers[i]}: no state change while idle with a live peer:\n${lines.join('\n')}`);
  }
});
