// Shared by the Mango compat tests (find*.test.mjs): PouchDB with the pouchdb-find plugin, the documents the
// queries run on, and small helpers to compare answers.
import { createRequire } from 'node:module';
import { PouchDB } from './helpers.mjs';

const require = createRequire(import.meta.url);
PouchDB.plugin(require('pouchdb-find'));
export { PouchDB };

// Orders shaped like the transcript's (../shared/transcripts/couchdb-mango.txt), customers whose names
// test string collation, and documents whose `v` has every JSON type (collation across types, $type).
export function findFixture() {
  const docs = [];
  for (let n = 0; n < 20; n++) {
    docs.push({
      _id: `o${String(n).padStart(3, '0')}`,
      type: 'order',
      route: `r${n % 3}`,
      status: n % 2 ? 'done' : 'open',
      ts: 1000 + n,
      n,
      tags: [[], ['a'], ['a', 'b']][n % 3],
      lines: n % 4 === 0 ? [] : [{ sku: `s${n % 4}`, qty: (n % 5) + 1 }, { sku: `s${(n + 1) % 4}`, qty: 2 }],
      scores: [n % 7, (n % 7) + 5],
    });
  }
  const names = ['Ann', 'ann', 'Bob', 'Émile', 'zoe'];
  names.forEach((name, i) => docs.push({
    _id: `c${i + 1}`, type: 'customer', name, address: { city: i % 2 ? 'Lyon' : 'Paris', zip: `6900${i}` },
    ...(i === 1 ? { vip: true } : {}), ...(i === 3 ? { vip: false } : {}),
  }));
  const values = [null, false, true, -1, 2.5, 7, 'str', [1, 2], [1], { a: 1 }, {}];
  values.forEach((v, i) => docs.push({ _id: `m${String(i).padStart(2, '0')}`, type: 'misc', v }));
  return docs;
}

// The docs of a find answer without the fields that legitimately differ between two databases holding
// the same documents: none, since the local copy is replicated from the node (same _rev).
export const ids = (res) => res.docs.map((d) => d._id);
export const byId = (docs) => [...docs].sort((a, b) => (a._id < b._id ? -1 : a._id > b._id ? 1 : 0));

// A document with `_rev` taken out (the transcript's revisions are CouchDB's, ours are our own).
export const noRev = (d) => {
  const { _rev, ...rest } = d;
  return rest;
};

// Rejects unless `promise` fails with this HTTP status and CouchDB error name; returns {status, error, reason}.
export async function rejectsWith(promise, status, name) {
  try {
    const res = await promise;
    throw new Error(`expected ${status} ${name}, got ${JSON.stringify(res).slice(0, 300)}`);
  } catch (e) {
    // pouchdb-find's errors carry CouchDB's `error` and `reason`; PouchDB core's name the error `name`.
    const error = e.error ?? e.name;
    if (e.status !== status || error !== name) {
      throw new Error(`expected ${status} ${name}, got ${e.status} ${error}: ${e.reason ?? e.message}`);
    }
    return { ...e, error, reason: e.reason ?? e.message };
  }
}
