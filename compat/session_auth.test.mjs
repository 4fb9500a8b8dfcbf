// `settee replicate` with credentials in a URL logs in the way CouchDB's replicator does: one
// POST /_session, then the AuthSession cookie on every request instead of the password; a peer without
// a usable /_session gets Basic auth on every request instead. A recording proxy in front of the source
// node sees every request the replicator makes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import nodeHttp from 'node:http';
import { startSettee, runSettee, http } from './helpers.mjs';

let node;

// Forwards to `upstreamPort`, recording method, path and headers; answers /_session itself with 404
// when `noSession` is set.
function recordingProxy(upstreamPort, { noSession = false } = {}) {
  const seen = [];
  const server = nodeHttp.createServer((req, res) => {
    seen.push({ method: req.method, url: req.url, headers: req.headers });
    if (noSession && req.url.startsWith('/_session')) {
      req.resume();
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end('{"error":"not_found","reason":"missing"}');
      return;
    }
    const up = nodeHttp.request({ host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers: req.headers },
      (r) => { res.writeHead(r.statusCode, r.headers); r.pipe(res); });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({
      seen, port: server.address().port, close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }),
    }));
  });
}

const replicate = (args) => runSettee(['replicate', ...args]);

before(async () => {
  node = await startSettee();
  await http('PUT', `${node.url}/_users`);  // as CouchDB's single-node setup creates it
  const user = await http('PUT', `${node.url}/_users/org.couchdb.user:bob`,
    { _id: 'org.couchdb.user:bob', name: 'bob', password: 's3cret', roles: [], type: 'user' });
  assert.equal(user.status, 201, user.text);
  assert.equal((await http('PUT', `${node.url}/src`)).status, 201);
  const docs = Array.from({ length: 300 }, (_, i) => ({ _id: `d${i}`, n: i }));
  assert.equal((await http('POST', `${node.url}/src/_bulk_docs`, { docs })).status, 201);
  const sec = await http('PUT', `${node.url}/src/_security`, { admins: { names: [], roles: [] }, members: { names: ['bob'], roles: [] } });
  assert.equal(sec.status, 200, sec.text);
});

after(async () => { await node?.stop(); });

test('credentials in the URL: one POST /_session, then the AuthSession cookie on every request', async () => {
  const proxy = await recordingProxy(new URL(node.url).port);
  try {
    const run = await replicate([`http://bob:s3cret@127.0.0.1:${proxy.port}/src`, `${node.url}/copy1`, '--create-target']);
    assert.equal(run.code, 0, run.out);
    assert.equal((await http('GET', `${node.url}/copy1`)).json.doc_count, 300);
    const logins = proxy.seen.filter((r) => r.url.startsWith('/_session'));
    assert.equal(logins.length, 1, JSON.stringify(proxy.seen.map((r) => `${r.method} ${r.url}`)));
    assert.equal(logins[0].method, 'POST');
    assert.equal(logins[0].headers.authorization, undefined, 'the login itself sends no Basic header');
    const rest = proxy.seen.filter((r) => !r.url.startsWith('/_session'));
    assert.ok(rest.length >= 4, `too few requests seen: ${rest.length}`);
    for (const r of rest) {
      assert.match(r.headers.cookie ?? '', /^AuthSession=./, `${r.method} ${r.url} without the session cookie`);
      assert.equal(r.headers.authorization, undefined, `${r.method} ${r.url} still sends the password`);
    }
  } finally {
    await proxy.close();
  }
});

test('a peer without /_session gets Basic auth on every request', async () => {
  const proxy = await recordingProxy(new URL(node.url).port, { noSession: true });
  try {
    const run = await replicate([`http://bob:s3cret@127.0.0.1:${proxy.port}/src`, `${node.url}/copy2`, '--create-target']);
    assert.equal(run.code, 0, run.out);
    assert.equal((await http('GET', `${node.url}/copy2`)).json.doc_count, 300);
    const rest = proxy.seen.filter((r) => !r.url.startsWith('/_session'));
    const basic = `Basic ${Buffer.from('bob:s3cret').toString('base64')}`;
    for (const r of rest) assert.equal(r.headers.authorization, basic, `${r.method} ${r.url}`);
    assert.equal(proxy.seen.filter((r) => r.url.startsWith('/_session')).length, 1, 'asks once, then stops asking');
  } finally {
    await proxy.close();
  }
});

test('wrong credentials stop the replication with unauthorized', async () => {
  const run = await replicate([`${node.url.replace('http://', 'http://bob:wrong@')}/src`, `${node.url}/copy3`, '--create-target']);
  assert.notEqual(run.code, 0);
  assert.match(run.out, /401|nauthorized|Name or password/i);
  assert.equal((await http('GET', `${node.url}/copy3`)).status, 404, 'nothing created');
});
