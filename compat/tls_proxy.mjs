// HTTPS in front of a plain `settee serve` for the TLS tests: makeCertificates() writes a throw-away CA and
// server certificates with the `openssl` command, and startTlsProxy() terminates TLS on a free 127.0.0.1
// port and pipes each connection, byte for byte, to a plain HTTP port on loopback.
//
// Guarantees: the certificates live only in the directory given (the caller removes it); the proxy counts
// handshakes that completed and ones that failed, so a test can tell that traffic really went through TLS
// and that a refused client never got a session; close() destroys every open socket and resolves within
// a bounded time, and a proxy left open is closed when the process exits.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { freePort, sleep } from './helpers.mjs';

function openssl(args, cwd) {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], timeout: 30000 });
  } catch (e) {
    throw new Error(`openssl ${args.join(' ')} failed: ${e.stderr?.toString() || e.message}`);
  }
}

// A CA and one leaf certificate per entry of `leaves` ({name: [subjectAltName entries]}), all P-256 and
// valid for two days. Returns { ca: path of ca.pem, [name]: { key, cert } (paths) }. A private config file
// keeps the result independent of the system's openssl.cnf.
export function makeCertificates(dir, leaves) {
  fs.writeFileSync(path.join(dir, 'ca.cnf'), [
    '[req]', 'distinguished_name = dn', 'prompt = no', 'x509_extensions = v3_ca',
    '[dn]', 'CN = Settee compat test CA',
    '[v3_ca]', 'basicConstraints = critical, CA:TRUE', 'keyUsage = critical, keyCertSign, cRLSign',
    'subjectKeyIdentifier = hash', '',
  ].join('\n'));
  openssl(['req', '-x509', '-config', 'ca.cnf', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2'], dir);
  const out = { ca: path.join(dir, 'ca.pem') };
  for (const [name, sans] of Object.entries(leaves)) {
    fs.writeFileSync(path.join(dir, `${name}.cnf`), [
      '[req]', 'distinguished_name = dn', 'prompt = no',
      '[dn]', `CN = ${name}`,
      '[leaf]', 'basicConstraints = CA:FALSE', 'keyUsage = critical, digitalSignature',
      'extendedKeyUsage = serverAuth', `subjectAltName = ${sans.join(', ')}`,
      'subjectKeyIdentifier = hash', 'authorityKeyIdentifier = keyid, issuer', '',
    ].join('\n'));
    openssl(['req', '-new', '-config', `${name}.cnf`, '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-keyout', `${name}.key`, '-out', `${name}.csr`], dir);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key',
      '-set_serial', `0x${crypto.randomBytes(8).toString('hex')}`, '-days', '2',
      '-extfile', `${name}.cnf`, '-extensions', 'leaf', '-out', `${name}.pem`], dir);
    out[name] = { key: path.join(dir, `${name}.key`), cert: path.join(dir, `${name}.pem`) };
  }
  return out;
}

const open = new Set();
process.on('exit', () => { for (const p of open) p.destroyAll(); });

class TlsProxy {
  constructor(server, port) {
    this.server = server;
    this.port = port;
    this.url = `https://127.0.0.1:${port}`;
    this.handshakes = 0;     // TLS sessions established
    this.tlsErrors = [];     // messages of handshakes that failed (a client refusing our certificate)
    this.sockets = new Set();
  }

  destroyAll() {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  async close() {
    open.delete(this);
    const closed = new Promise((resolve) => this.server.close(resolve));
    this.destroyAll();
    await Promise.race([closed, sleep(5000)]);
  }
}

// Listens on a free 127.0.0.1 port with `key`/`cert` (paths) and forwards to 127.0.0.1:`targetPort`.
export async function startTlsProxy({ key, cert, targetPort }) {
  const server = tls.createServer({ key: fs.readFileSync(key), cert: fs.readFileSync(cert) });
  const port = await freePort();
  const proxy = new TlsProxy(server, port);
  server.on('secureConnection', (front) => {
    proxy.handshakes++;
    const back = net.connect(targetPort, '127.0.0.1');
    proxy.sockets.add(front);
    proxy.sockets.add(back);
    const end = () => { front.destroy(); back.destroy(); proxy.sockets.delete(front); proxy.sockets.delete(back); };
    front.on('error', end).on('close', end);
    back.on('error', end).on('close', end);
    front.pipe(back);
    back.pipe(front);
  });
  server.on('tlsClientError', (e) => { proxy.tlsErrors.push(e.message); });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  open.add(proxy);
  return proxy;
}
