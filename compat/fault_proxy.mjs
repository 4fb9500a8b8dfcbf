// A fault-injecting TCP proxy for HTTP/1.1 peers, for testing replication over a bad network.
//
// startFaultProxy(upstreamUrl, options) listens on 127.0.0.1 (a free port) and forwards every connection
// to the upstream host:port. It understands just enough HTTP to know where an exchange starts: the first
// bytes from the client after the previous answer begin a request, the first bytes from upstream after a
// request begin its response (clients that pipeline are not supported). For each exchange, with faults
// on, it draws from a seeded PRNG (mulberry32) whether to:
//   - cut the request: forward a prefix of its first chunk and a FIN upstream, reset the client
//     (requestCutRate);
//   - drop the connection: reset both sockets before the response's first byte or part-way through it
//     (dropRate);
//   - truncate the response: forward only part of it, then close the client side with a clean FIN
//     (truncateRate). The cut lands strictly inside the response: within its Content-Length, within
//     its first HTTP chunk when chunked, else within the first piece read; the client always misses
//     at least one byte;
//   - and, independently for each response chunk, delay it by up to maxDelayMs (delayRate), keeping order.
//   `throttleMs` (or setThrottle(ms)) delays every response by that much: a slow link, faults or not.
//
// Guarantees: a given seed gives the same sequence of decisions for the Nth connection (each connection
// has its own PRNG derived from the seed and its number); which request lands on which connection depends
// on the client's scheduling, so a seed reproduces the fault mix, not an exact timeline. `setFaults(false)`
// turns every fault off (new decisions forward faithfully); `setFaults(true | {rates})` turns them back on.
// Options: `match` (a RegExp on "METHOD /path") limits faults to those exchanges; `maxFaults` stops
// injecting after that many drops, truncations and cuts; `enabled: false` starts with faults off.
// `stats` counts connections, exchanges and each fault (`faults` sums drops, truncations and cuts);
// `requests` records {conn, method, path, status} of every request seen (bounded); `events` keeps the last
// faults as text for failure messages (`describe()`). `close()` stops listening and destroys every socket.
// Nothing here retries or buffers a whole message: bytes pass through in order.
//
// `refuseMultipart: true` plays a peer without multipart PUT (CouchDB's replicator falls back to inline
// attachments for one): a request whose Content-Type starts with multipart/related is not forwarded. Its
// head is held until complete, its body (Content-Length or chunked) read and dropped, then the proxy itself
// answers 415 {"error":"bad_content_type"} on the same connection (closed after it only when the request
// said Connection: close). Faults and throttling do not apply to these answers; `stats.refused` counts
// them and their `requests` entries carry `refused: true`. Every other request passes as without the option.
import net from 'node:net';

export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const DEFAULT_RATES = { dropRate: 0.05, truncateRate: 0.05, requestCutRate: 0.02, delayRate: 0.1, maxDelayMs: 100 };
const MAX_REQUESTS_KEPT = 20000;
const MAX_EVENTS_KEPT = 200;
const MAX_HEAD_BYTES = 64 * 1024; // refuseMultipart: a request head longer than this is forwarded unread

const REFUSAL_BODY =
  JSON.stringify({ error: 'bad_content_type', reason: 'this peer does not accept multipart/related' });

// For refuseMultipart: whether a request head (up to its blank line) is a multipart/related one, and how
// its body is framed: { state: 'length', left }, or for chunked { state: 'line' } (a chunk-size line next).
function refusal(head) {
  const type = /\r\ncontent-type:[ \t]*([^\r]*)/i.exec(head);
  if (!type || !type[1].toLowerCase().startsWith('multipart/related')) return null;
  const close = /\r\nconnection:[ \t]*[^\r]*\bclose\b/i.test(head);
  const chunked = /\r\ntransfer-encoding:[ \t]*[^\r]*chunked/i.test(head);
  if (chunked) return { state: 'line', line: '', trailer: false, close };
  const cl = /\r\ncontent-length:[ \t]*(\d+)/i.exec(head);
  return { state: 'length', left: cl ? Number(cl[1]) : 0, close };
}

// Reads the refused request's body `d` from `buf`: the bytes after its end, or null while more is due
// (`d.bad` when the chunked framing is malformed).
function skipBody(d, buf) {
  let i = 0;
  while (d.state !== 'done') {
    if (d.state === 'length' || d.state === 'data') {
      const n = Math.min(d.left, buf.length - i);
      d.left -= n;
      i += n;
      if (d.left > 0) return null;
      d.state = d.state === 'data' ? 'line' : 'done';
      continue;
    }
    // 'line': a chunk-size line, or after the last chunk a trailer line (the empty one ends the body).
    const eol = buf.indexOf('\n', i);
    if (eol < 0) {
      d.line += buf.subarray(i).toString('latin1');
      if (d.line.length > 4096) d.bad = true;
      return d.bad ? buf.subarray(buf.length) : null;
    }
    const line = (d.line + buf.subarray(i, eol).toString('latin1')).replace(/\r$/, '');
    d.line = '';
    i = eol + 1;
    if (d.trailer) {
      if (line === '') d.state = 'done';
      continue;
    }
    const size = parseInt(line, 16);
    if (!Number.isFinite(size) || size < 0) {
      d.bad = true;
      return buf.subarray(buf.length);
    }
    if (size === 0) d.trailer = true;
    else Object.assign(d, { state: 'data', left: size + 2 });
  }
  return buf.subarray(i);
}

// How many bytes of the response starting in `buf` certainly belong to it, from its head alone: the whole
// response with a Content-Length; with chunked encoding, up to the end of its first chunk (the last chunk
// still follows). Null when the head (or the first chunk's size line) is not all in `buf`.
function responseLength(buf) {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const head = buf.subarray(0, end).toString('latin1');
  const cl = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  if (cl) return end + 4 + Number(cl[1]);
  if (!/\r\ntransfer-encoding:\s*chunked/i.test(head)) return null;
  const lineEnd = buf.indexOf('\r\n', end + 4);
  if (lineEnd < 0) return null;
  const size = parseInt(buf.subarray(end + 4, lineEnd).toString('latin1'), 16);
  return Number.isFinite(size) ? lineEnd + 2 + size + 2 : null;
}

function requestLine(buf) {
  const text = buf.subarray(0, Math.min(buf.length, 2048)).toString('latin1');
  const m = /^([A-Z]+) (\S+) HTTP\/1\.[01]\r\n/.exec(text);
  return m ? { method: m[1], path: m[2] } : null;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function startFaultProxy(upstreamUrl, options = {}) {
  const upstream = new URL(upstreamUrl);
  const upstreamPort = Number(upstream.port || 80);
  const upstreamHost = upstream.hostname;
  const seed = (options.seed ?? (Math.random() * 2 ** 32)) >>> 0;
  let rates = { ...DEFAULT_RATES, ...pickRates(options) };
  let enabled = options.enabled ?? true;
  let throttleMs = options.throttleMs ?? 0;
  let match = options.match ?? null; // a RegExp on "METHOD /path": only those exchanges get faults
  let maxFaults = options.maxFaults ?? Infinity; // no drop, truncation or cut after this many
  const refuseMultipart = Boolean(options.refuseMultipart);
  const sockets = new Set();
  const stats = {
    connections: 0, requests: 0, responses: 0, drops: 0, dropsBeforeResponse: 0, truncations: 0, requestCuts: 0,
    delays: 0, refused: 0,
  };
  const requests = [];
  const events = [];
  let connectionNumber = 0;

  function note(text) {
    events.push(text);
    if (events.length > MAX_EVENTS_KEPT) events.shift();
  }

  function handle(client) {
    const conn = connectionNumber++;
    stats.connections++;
    // Golden-ratio spacing keeps neighbouring connections' streams unrelated.
    const rng = mulberry32((seed ^ Math.imul(conn + 1, 0x9e3779b1)) >>> 0);
    const server = net.connect(upstreamPort, upstreamHost);
    sockets.add(client);
    sockets.add(server);
    let phase = 'idle'; // 'request' after client bytes, 'response' after upstream bytes
    let current = '?'; // "METHOD /path" of the exchange in progress
    let record = null; // its entry in `requests`
    let fate = null; // for the response in progress: { mode, budget, forwarded, total }
    let dead = false;
    const queue = []; // upstream chunks (or null for end) waiting to go to the client, in order
    let pumping = false;
    let ended = false; // upstream ended cleanly and the client was sent a FIN

    // A reset (RST) only while no FIN is under way: resetAndDestroy() racing a pending shutdown leaves
    // the TCP handle referenced and node spins at exit.
    const resetClient = () => {
      if (!client.writableEnded && !client.destroyed) client.resetAndDestroy();
      else client.destroy();
    };
    // Stops forwarding for good: from here on nothing more passes either way.
    const stop = () => {
      dead = true;
      queue.length = 0;
    };
    const kill = (reset) => {
      if (dead) return;
      stop();
      if (reset) resetClient();
      else client.destroy();
      server.destroy();
    };

    let heldHead = null; // refuseMultipart: the start of a request whose head is not all here yet
    let refused = null; // refuseMultipart: the refused request whose body is being dropped

    // The next request is multipart/related: nothing of it goes upstream; once its body is read, 415.
    function refuse(buf, headEnd, how) {
      stats.requests++;
      stats.refused++;
      const line = requestLine(buf);
      const entry = { conn, method: line?.method, path: line?.path, status: 415, refused: true };
      if (requests.length < MAX_REQUESTS_KEPT) requests.push(entry);
      note(`conn ${conn}: refused ${entry.method} ${entry.path} (multipart/related) with 415`);
      refused = how;
      return buf.subarray(headEnd + 4);
    }

    function answerRefusal() {
      const { close, bad } = refused;
      refused = null;
      const head = `HTTP/1.1 415 Unsupported Media Type\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(REFUSAL_BODY)}\r\n${close || bad ? 'Connection: close\r\n' : ''}\r\n`;
      if (close || bad) {
        stop();
        client.end(head + REFUSAL_BODY);
        server.destroy();
      } else {
        client.write(head + REFUSAL_BODY);
      }
    }

    // refuseMultipart: sees each request's head before anything of it is forwarded. Returns the bytes to
    // handle as usual (null: none now).
    function screen(chunk) {
      while (chunk && chunk.length) {
        if (refused) {
          chunk = skipBody(refused, chunk);
          if (!chunk) return null;
          answerRefusal();
          if (dead) return null;
          continue;
        }
        if (heldHead) {
          chunk = Buffer.concat([heldHead, chunk]);
          heldHead = null;
        }
        const end = chunk.indexOf('\r\n\r\n');
        if (end < 0 && chunk.length < MAX_HEAD_BYTES) {
          heldHead = chunk;
          return null;
        }
        const how = end < 0 ? null : refusal(chunk.subarray(0, end).toString('latin1'));
        if (!how) return chunk;
        chunk = refuse(chunk, end, how);
        if (how.state === 'length' && how.left === 0) {
          how.state = 'done';
          answerRefusal();
          if (dead) return null;
        }
      }
      return null;
    }

    client.on('data', (chunk) => {
      if (dead) return;
      if (refuseMultipart && phase !== 'request') {
        chunk = screen(chunk);
        if (!chunk) return;
      }
      if (phase !== 'request') {
        phase = 'request';
        fate = null;
        stats.requests++;
        const line = requestLine(chunk);
        current = line ? `${line.method} ${line.path}` : '?';
        record = { conn, method: line?.method, path: line?.path, status: undefined };
        if (requests.length < MAX_REQUESTS_KEPT) requests.push(record);
        if (faulty() && rng() < rates.requestCutRate) {
          const keep = Math.floor(rng() * chunk.length);
          stats.requestCuts++;
          note(`conn ${conn}: cut request ${current} after ${keep}/${chunk.length} bytes`);
          // Upstream gets the prefix and then a FIN, as from a client that died; the client gets a reset.
          stop();
          server.end(chunk.subarray(0, keep));
          resetClient();
          return;
        }
      }
      server.write(chunk);
    });

    server.on('data', (chunk) => {
      if (dead) return;
      queue.push(chunk);
      if (queue.length > 4) server.pause();
      pump();
    });

    async function pump() {
      if (pumping) return;
      pumping = true;
      while (queue.length && !dead) {
        const chunk = queue.shift();
        if (chunk === null) {
          ended = true;
          client.end(); // upstream closed after its answer: so do we, once the client has every byte
          break;
        }
        if (phase !== 'response') {
          phase = 'response';
          stats.responses++;
          const status = /^HTTP\/1\.[01] (\d{3})/.exec(chunk.subarray(0, 16).toString('latin1'));
          if (record && status) record.status = Number(status[1]);
          fate = drawFate(chunk);
          if (throttleMs > 0) await sleep(throttleMs);
        }
        if (faulty() && rng() < rates.delayRate) {
          const ms = Math.floor(rng() * rates.maxDelayMs);
          stats.delays++;
          await sleep(ms);
        }
        if (dead) break;
        forward(chunk);
      }
      pumping = false;
      if (!dead && queue.length < 2) server.resume();
    }

    function faulty() {
      return enabled && stats.drops + stats.truncations + stats.requestCuts < maxFaults && (!match || match.test(current));
    }

    function drawFate(first) {
      if (!faulty()) return { mode: 'pass' };
      const known = responseLength(first);
      const total = known ?? first.length;
      const r = rng();
      if (r < rates.dropRate) {
        const before = rng() < 0.5 || total < 2;
        return { mode: 'drop', budget: before ? 0 : 1 + Math.floor(rng() * (total - 1)), forwarded: 0, total };
      }
      if (r < rates.dropRate + rates.truncateRate && total >= 2) {
        return { mode: 'truncate', budget: 1 + Math.floor(rng() * (total - 1)), forwarded: 0, total };
      }
      return { mode: 'pass' };
    }

    function forward(chunk) {
      if (!fate || fate.mode === 'pass') {
        client.write(chunk);
        return;
      }
      const room = fate.budget - fate.forwarded;
      if (room >= chunk.length && fate.forwarded + chunk.length < fate.total) {
        fate.forwarded += chunk.length;
        client.write(chunk);
        return;
      }
      const part = chunk.subarray(0, Math.max(0, Math.min(room, chunk.length)));
      const what = `${current} after ${fate.forwarded + part.length}/${fate.total} bytes of the response`;
      if (fate.mode === 'drop') {
        stats.drops++;
        if (fate.forwarded + part.length === 0) stats.dropsBeforeResponse++;
        note(`conn ${conn}: dropped ${what}`);
        stop();
        server.destroy();
        if (part.length) client.write(part, resetClient);
        else resetClient();
      } else {
        stats.truncations++;
        note(`conn ${conn}: truncated ${what}`);
        stop();
        server.destroy();
        client.end(part);
      }
    }

    server.on('end', () => {
      if (dead) return;
      queue.push(null);
      pump();
    });
    client.on('end', () => { if (!dead) server.end(); });
    const gone = () => {
      sockets.delete(client);
      sockets.delete(server);
      // Upstream went away: after a clean end the client keeps what was queued for it; otherwise both go.
      if (!dead && !ended && !queue.includes(null)) kill(false);
    };
    client.on('close', () => kill(false));
    server.on('close', gone);
    client.on('error', () => kill(false));
    server.on('error', () => kill(false));
  }

  const listener = net.createServer(handle);
  await new Promise((resolve, reject) => {
    listener.once('error', reject);
    listener.listen(0, '127.0.0.1', resolve);
  });
  const { port } = listener.address();

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    seed,
    stats,
    requests,
    events,
    get faults() { return stats.drops + stats.truncations + stats.requestCuts; },
    get enabled() { return enabled; },
    // false: forward faithfully from now on; true or {dropRate, ..., match}: inject (with these rates).
    setFaults(on) {
      if (on && typeof on === 'object') {
        rates = { ...rates, ...pickRates(on) };
        if ('match' in on) match = on.match;
        if ('maxFaults' in on) maxFaults = on.maxFaults;
      }
      enabled = Boolean(on);
    },
    setThrottle(ms) { throttleMs = ms; },
    describe() {
      return `fault proxy seed=${seed} rates=${JSON.stringify(rates)} stats=${JSON.stringify(stats)}\n` +
        `match=${match ?? 'all'}\n` +
        `  last faults:\n    ${events.slice(-20).join('\n    ')}`;
    },
    close() {
      return new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        sockets.clear();
        listener.close(() => resolve());
      });
    },
  };
}

function pickRates(o) {
  const out = {};
  for (const k of Object.keys(DEFAULT_RATES)) if (o[k] !== undefined) out[k] = o[k];
  return out;
}
