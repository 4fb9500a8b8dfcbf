// Index definitions travel as design documents ("language": "query"), so they replicate like any other
// document, and a node must build and use an index that arrives that way:
// - created by PouchDB (pouchdb-find, memory adapter) and pushed to the node;
// - created on one Settee node and replicated to a second one by `settee replicate`;
// - a design document of CouchDB's shape (transcript #8) PUT directly;
// - and the other way: an index made on the node, pulled into PouchDB, is one pouchdb-find uses there.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSettee, localDb, http, runSettee } from './helpers.mjs';
import { PouchDB, findFixture, ids } from './find_fixtures.mjs';
import { check } from './fixtures.mjs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

const docs = findFixture();
const ROUTE_QUERY = { selector: { route: 'r1', ts: { $gt: 1002 } }, sort: [{ route: 'asc' }, { ts: 'asc' }], fields: ['_id', 'ts'], limit: 100 };
const ROUTE_ANSWER = docs.filter((d) => d.route === 'r1' && d.ts > 1002).sort((a, b) => a.ts - b.ts).map((d) => ({ _id: d._id, ts: d.ts }));

async function node() {
  const s = await startSettee();
  cleanups.push(() => s.stop());
  return s;
}

// Asserts that `db` (remote) serves ROUTE_QUERY from the index ddoc/name and answers it rightly.
async function servedBy(db, ddoc, name) {
  const explained = await db.explain(ROUTE_QUERY);
  assert.equal(explained.index.ddoc, ddoc);
  assert.equal(explained.index.name, name);
  const res = await db.find(ROUTE_QUERY);
  assert.deepEqual(res.docs, ROUTE_ANSWER);
  assert.equal(res.warning, undefined);
}

test('an index created in PouchDB and replicated to the node is built and used by its _find', async () => {
  const settee = await node();
  const local = localDb('pouch-index', { adapter: 'memory' });
  cleanups.push(local.cleanup);
  check(await local.bulkDocs(docs));
  await local.createIndex({ index: { fields: ['route', 'ts'] }, ddoc: 'from-pouch', name: 'route-ts' });
  assert.ok(ROUTE_ANSWER.length >= 4);
  assert.deepEqual((await local.find(ROUTE_QUERY)).docs, ROUTE_ANSWER, 'PouchDB answers it so itself');

  const remote = new PouchDB(`${settee.url}/from-pouch`);
  const rep = await PouchDB.replicate(local, remote);
  assert.equal(rep.docs_written, docs.length + 1, 'the documents and the index\'s design document');
  const listed = await remote.getIndexes();
  assert.deepEqual(listed.indexes.map((i) => [i.ddoc, i.name, i.def.fields]),
    [[null, '_all_docs', [{ _id: 'asc' }]], ['_design/from-pouch', 'route-ts', [{ route: 'asc' }, { ts: 'asc' }]]]);
  await servedBy(remote, '_design/from-pouch', 'route-ts');

  // Writes replicated after the index arrived are in it too.
  check(await local.bulkDocs([{ _id: 'late', type: 'order', route: 'r1', ts: 1003 }]));
  await PouchDB.replicate(local, remote);
  const res = await remote.find(ROUTE_QUERY);
  assert.deepEqual(ids(res), ['late', ...ROUTE_ANSWER.map((d) => d._id)], 'ts 1003 comes first');
});

test('an index created on one Settee node and replicated to another is built and used there', async () => {
  const [a, b] = await Promise.all([node(), node()]);
  const source = new PouchDB(`${a.url}/src`);
  check(await source.bulkDocs(docs));
  const made = await http('POST', `${a.url}/src/_index`, { index: { fields: ['route', 'ts'] }, ddoc: 'routes', name: 'route-ts' });
  assert.equal(made.status, 200, made.text);
  const run = await runSettee(['replicate', `${a.url}/src`, `${b.url}/dst`, '--create-target'], { timeoutMs: 60000 });
  assert.equal(run.code, 0, run.out);
  const target = new PouchDB(`${b.url}/dst`);
  await servedBy(target, '_design/routes', 'route-ts');

  // Deleting the index on the source deletes its design document; replicated, the index goes on b too.
  assert.equal((await http('DELETE', `${a.url}/src/_index/routes/json/route-ts`)).status, 200);
  const again = await runSettee(['replicate', `${a.url}/src`, `${b.url}/dst`], { timeoutMs: 60000 });
  assert.equal(again.code, 0, again.out);
  assert.deepEqual((await target.getIndexes()).indexes.map((i) => i.name), ['_all_docs']);
  const sorted = await http('POST', `${b.url}/dst/_find`, ROUTE_QUERY);
  assert.equal(sorted.status, 400);
  assert.equal(sorted.json.error, 'no_usable_index');
});

test('a design document of CouchDB\'s shape PUT directly is an index', async () => {
  const settee = await node();
  const remote = new PouchDB(`${settee.url}/put-ddoc`);
  check(await remote.bulkDocs(docs));
  // Transcript #8: what CouchDB 3.4.3 stores for POST _index {"fields": ["route", "ts"]}.
  await remote.put({
    _id: '_design/by-hand', language: 'query',
    views: { 'route-ts': { map: { fields: { route: 'asc', ts: 'asc' }, partial_filter_selector: {} }, reduce: '_count', options: { def: { fields: ['route', 'ts'] } } } },
  });
  await servedBy(remote, '_design/by-hand', 'route-ts');
  // A design document of another language is no Mango index.
  await remote.put({ _id: '_design/js', language: 'javascript', views: { v: { map: 'function (doc) { emit(doc.route); }' } } });
  assert.deepEqual((await remote.getIndexes()).indexes.map((i) => i.name), ['_all_docs', 'route-ts']);
});

test('an index made on the node and pulled into PouchDB is used by pouchdb-find there', async () => {
  const settee = await node();
  const remote = new PouchDB(`${settee.url}/to-pouch`);
  check(await remote.bulkDocs(docs));
  assert.equal((await remote.createIndex({ index: { fields: ['route', 'ts'] }, ddoc: 'routes', name: 'route-ts' })).result, 'created');
  const local = localDb('pulled-index', { adapter: 'memory' });
  cleanups.push(local.cleanup);
  await PouchDB.replicate(remote, local);
  const explained = await local.explain(ROUTE_QUERY);
  assert.equal(explained.index.ddoc, '_design/routes');
  assert.equal(explained.index.name, 'route-ts');
  assert.deepEqual((await local.find(ROUTE_QUERY)).docs, ROUTE_ANSWER);
});
