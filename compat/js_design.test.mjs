// JavaScript design documents over replication: PouchDB pushing INTO a Settee database whose
// validate_doc_update refuses some documents (the replication completes, counts them in
// doc_write_failures, and the rest arrive), and PouchDB pulling FROM Settee with a filter function
// (filter: 'ddoc/name', with query_params) gets only the documents it passes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PouchDB, startSettee, http, localDb, withTimeout } from './helpers.mjs';

const cleanups = [];
let settee;
after(async () => { for (const c of cleanups.reverse()) await c(); });

before(async () => {
  settee = await startSettee();
  cleanups.push(() => settee.stop());
});

// COMPAT_SERVER=pouchdb-server runs no validate_doc_update.
const noJs = process.env.COMPAT_SERVER === 'pouchdb-server' && 'pouchdb-server does not run validate_doc_update';

test('a push into a database whose validate_doc_update refuses some documents counts them and writes the rest',
  { timeout: 60000, skip: noJs }, async () => {
    const url = `${settee.url}/guarded`;
    assert.equal((await http('PUT', url)).status, 201);
    const ddoc = {
      _id: '_design/guard',
      validate_doc_update: "function(newDoc){ if (!newDoc._deleted && !newDoc.type) throw({forbidden: 'a document needs a type'}); }",
    };
    assert.equal((await http('PUT', `${url}/_design/guard`, ddoc)).status, 201);
    const local = localDb('push-src');
    cleanups.push(local.cleanup);
    const docs = [];
    for (let i = 0; i < 30; i++) docs.push(i % 3 === 0 ? { _id: `untyped-${i}`, n: i } : { _id: `typed-${i}`, type: 'note', n: i });
    await local.bulkDocs(docs);
    const res = await withTimeout(PouchDB.replicate(local, url), 45000, 'push into guarded');
    assert.equal(res.ok, true);
    assert.equal(res.docs_written, 20);
    assert.equal(res.doc_write_failures, 10);
    const remote = new PouchDB(url);
    const all = await remote.allDocs();
    const ids = all.rows.map((r) => r.id).filter((id) => !id.startsWith('_design/'));
    assert.deepEqual(ids.sort(), docs.filter((d) => d.type).map((d) => d._id).sort());
  });

test('a pull with filter: ddoc/name and query_params gets only the documents the filter passes',
  { timeout: 60000 }, async () => {
    const url = `${settee.url}/filtered_js`;
    assert.equal((await http('PUT', url)).status, 201);
    const remote = new PouchDB(url);
    await remote.put({
      _id: '_design/app',
      filters: { byStatus: "function(doc, req){ return doc.status === (req.query.status || 'open'); }" },
    });
    const docs = [];
    for (let i = 0; i < 40; i++) docs.push({ _id: `doc-${String(i).padStart(2, '0')}`, status: i % 4 === 0 ? 'done' : 'open' });
    await remote.bulkDocs(docs);
    const local = localDb('pull-dst');
    cleanups.push(local.cleanup);
    const res = await withTimeout(
      PouchDB.replicate(remote, local, { filter: 'app/byStatus', query_params: { status: 'done' } }),
      45000, 'filtered pull');
    assert.equal(res.ok, true);
    const got = (await local.allDocs()).rows.map((r) => r.id);
    assert.deepEqual(got, docs.filter((d) => d.status === 'done').map((d) => d._id));
  });
