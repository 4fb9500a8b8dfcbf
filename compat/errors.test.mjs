// PouchDB's HTTP adapter turns CouchDB's {"error","reason"} answers into its errors, and its replicator
// branches on them (404 = no checkpoint, 409 on a checkpoint, per-document errors in _bulk_docs). These
// check that Settee's refusals reach PouchDB as CouchDB's would, and that a refused write changed nothing.
// (pouchdb-server itself differs from CouchDB here: reason "missing" for a deleted doc, bad_request for an
// illegal id, so COMPAT_SERVER=pouchdb-server fails those on purpose.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PouchDB, startSettee, http } from './helpers.mjs';

let settee;
let db;
let base;
before(async () => {
  settee = await startSettee();
  base = `${settee.url}/errors`;
  db = new PouchDB(base);
  await db.info();
});
after(async () => { await settee?.stop(); });

const is = (status, name) => (e) => {
  assert.equal(e.status, status, JSON.stringify(e));
  assert.equal(e.name, name, JSON.stringify(e));
  return true;
};

test('a missing and a deleted document are 404 not_found with reason missing / deleted', async () => {
  await assert.rejects(db.get('nope'), is(404, 'not_found'));
  const missing = await http('GET', `${base}/nope`);
  assert.deepEqual(missing.json, { error: 'not_found', reason: 'missing' });
  const { rev } = await db.put({ _id: 'gone' });
  await db.remove('gone', rev);
  await assert.rejects(db.get('gone'), is(404, 'not_found'));
  assert.deepEqual((await http('GET', `${base}/gone`)).json, { error: 'not_found', reason: 'deleted' });
});

test('a stale or missing _rev is 409 conflict, in put and in bulkDocs, and changes nothing', async () => {
  const first = await db.put({ _id: 'c', v: 1 });
  await db.put({ _id: 'c', _rev: first.rev, v: 2 });
  await assert.rejects(db.put({ _id: 'c', _rev: first.rev, v: 3 }), is(409, 'conflict'));
  await assert.rejects(db.put({ _id: 'c', v: 4 }), is(409, 'conflict'));
  const [res] = await db.bulkDocs([{ _id: 'c', _rev: first.rev, v: 5 }]);
  // The HTTP adapter hands back the server's per-document row as it came.
  assert.equal(res.error, 'conflict', JSON.stringify(res));
  assert.equal(res.id, 'c');
  const doc = await db.get('c', { conflicts: true });
  assert.equal(doc.v, 2);
  assert.ok(doc._rev.startsWith('2-'));
  assert.equal(doc._conflicts, undefined);
});

test('_local docs: 0-N revs, a stale _rev is 409, deleting makes them 404', async () => {
  const a = await db.put({ _id: '_local/cp', last_seq: 1 });
  assert.equal(a.rev, '0-1');
  const b = await db.put({ _id: '_local/cp', _rev: a.rev, last_seq: 2 });
  assert.equal(b.rev, '0-2');
  await assert.rejects(db.put({ _id: '_local/cp', _rev: a.rev, last_seq: 3 }), is(409, 'conflict'));
  assert.equal((await db.get('_local/cp')).last_seq, 2);
  // Both spellings of the path reach the same document.
  assert.equal((await http('GET', `${base}/_local%2Fcp`)).json?.last_seq, 2);
  await db.remove('_local/cp', b.rev);
  await assert.rejects(db.get('_local/cp'), is(404, 'not_found'));
  const changes = await db.changes();
  assert.ok(changes.results.every((r) => !r.id.startsWith('_local/')), '_local docs are not in _changes');
});

test('raw bad requests are 400 with CouchDB error names and leave the database unchanged', async () => {
  const before = (await http('GET', base)).json;
  const cases = [
    ['PUT', `${base}/_notreserved`, { a: 1 }, 400, 'illegal_docid'],
    ['PUT', `${base}/bad-json`, '{"a":', 400, 'bad_request'],
    ['PUT', `${base}/array-body`, '[1,2]', 400, 'bad_request'],
    ['POST', `${base}/_bulk_docs`, '{"docs":{}}', 400, 'bad_request'],
    ['POST', `${base}/_bulk_docs`, 'not json', 400, 'bad_request'],
    ['POST', `${base}/_revs_diff`, '[]', 400, 'bad_request'],
    ['POST', `${base}/_bulk_get`, '{"docs":"x"}', 400, 'bad_request'],
    ['GET', `${base}/_changes?since=banana`, undefined, 400, 'bad_request'],
    ['GET', `${base}/c?open_revs=notjson`, undefined, 400, 'bad_request'],
    ['GET', `${settee.url}/no_such_db/x`, undefined, 404, 'not_found'],
  ];
  const wrong = [];
  for (const [method, url, body, status, error] of cases) {
    const res = await http(method, url, body);
    if (res.status !== status || res.json?.error !== error || typeof res.json?.reason !== 'string') {
      wrong.push(`${method} ${url.replace(settee.url, '')} ${typeof body === 'string' ? body : JSON.stringify(body ?? '')}` +
        ` -> ${res.status} ${res.text.slice(0, 200)} (expected ${status} ${error})`);
    }
  }
  assert.deepEqual(wrong, []);
  const afterInfo = (await http('GET', base)).json;
  assert.equal(afterInfo.doc_count, before.doc_count);
  assert.equal(afterInfo.update_seq, before.update_seq);
});
