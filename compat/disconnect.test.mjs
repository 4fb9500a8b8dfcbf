// Clients go away mid-response all the time (a cancelled live replication, a closed browser tab, a load
// tester finishing its run). The server must carry on: writing to a socket the peer has closed must not
// kill the process (SIGPIPE), and later requests must be served.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startSettee, http, sleep, pseudoRandomBytes } from './helpers.mjs';

let settee;
after(async () => { await settee?.stop(); });

// Sends `count` pipelined GETs of `path` and closes the socket as soon as the first bytes arrive; with
// answers still unread, the client's kernel resets the connection and the server's next write fails (EPIPE).
function requestThenVanish(port, path, count) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    const timer = setTimeout(() => { sock.destroy(); resolve(); }, 5000);
    sock.on('connect', () => {
      sock.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`.repeat(count));
    });
    sock.once('data', () => {
      sock.destroy();
      clearTimeout(timer);
      resolve();
    });
    sock.on('error', () => { clearTimeout(timer); resolve(); });
  });
}

test('a client that disconnects mid-response does not stop the server', { timeout: 60000 }, async () => {
  settee = await startSettee();
  const port = Number(new URL(settee.url).port);
  assert.equal((await http('PUT', `${settee.url}/gone`)).status, 201);
  const big = pseudoRandomBytes(2 * 1024 * 1024, 7);
  const put = await http('PUT', `${settee.url}/gone/doc/blob.bin`, big, { headers: { 'Content-Type': 'application/octet-stream' } });
  assert.equal(put.status, 201, put.text);
  let dead = false;
  settee.exited.then(() => { dead = true; });
  for (let i = 0; i < 10 && !dead; i++) {
    await requestThenVanish(port, '/gone/doc/blob.bin', 4);
    await requestThenVanish(port, '/gone/_all_docs?include_docs=true', 50);
  }
  await sleep(300);
  const exited = await Promise.race([settee.exited, sleep(100).then(() => null)]);
  assert.equal(exited, null, `settee died: ${JSON.stringify(exited)}`);
  const up = await http('GET', `${settee.url}/`);
  assert.equal(up.status, 200);
});
