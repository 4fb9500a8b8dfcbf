// Map/reduce views as PouchDB's http adapter uses them: db.query against a Settee node with reduce,
// group, group_level, keys (a POST), include_docs, key ranges, descending, skip and limit, built-in and
// JavaScript reduces, the errors PouchDB surfaces, and a pull replication with filter: '_view'.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PouchDB, startSettee, http, localDb, withTimeout } from './helpers.mjs';

const cleanups = [];
let settee;
let remote;
after(async () => { for (const c of cleanups.reverse()) await c(); });

const docs = [];
for (let i = 0; i < 60; i++) {
  docs.push({ _id: `doc-${String(i).padStart(2, '0')}`, type: ['apple', 'pear', 'plum'][i % 3], n: i, tags: i % 5 === 0 ? ['five'] : [] });
}

before(async () => {
  settee = await startSettee();
  cleanups.push(() => settee.stop());
  const url = `${settee.url}/fruit`;
  assert.equal((await http('PUT', url)).status, 201);
  remote = new PouchDB(url);
  await remote.put({
    _id: '_design/app',
    views: {
      byType: { map: 'function(doc){ if (doc.type) emit([doc.type, doc.n], doc.n); }', reduce: '_sum' },
      count: { map: 'function(doc){ if (doc.type) emit(doc.type, null); }', reduce: '_count' },
      stats: { map: 'function(doc){ if (doc.type) emit(doc.type, doc.n); }', reduce: '_stats' },
      jsMax: { map: 'function(doc){ if (doc.type) emit(doc.type, doc.n); }', reduce: 'function(keys, values){ return Math.max.apply(null, values); }' },
      byTag: { map: 'function(doc){ (doc.tags || []).forEach(function(t){ emit(t, {_id: doc._id}); }); }' },
    },
  });
  await remote.bulkDocs(docs);
});

test('map rows with a key range, descending, skip and limit', { timeout: 60000 }, async () => {
  const res = await remote.query('app/byType', { reduce: false, startkey: ['pear'], endkey: ['pear', {}], limit: 3, skip: 1 });
  assert.equal(res.total_rows, 60);
  assert.deepEqual(res.rows.map((r) => r.id), ['doc-04', 'doc-07', 'doc-10']);
  const desc = await remote.query('app/byType', { reduce: false, descending: true, limit: 2 });
  assert.deepEqual(desc.rows.map((r) => r.key), [['plum', 59], ['plum', 56]]);
  const one = await remote.query('app/byType', { reduce: false, key: ['apple', 3] });
  assert.deepEqual(one.rows, [{ id: 'doc-03', key: ['apple', 3], value: 3 }]);
});

test('reduces: _sum, _count, _stats and a JavaScript reduce, grouped and not', { timeout: 60000 }, async () => {
  const total = await remote.query('app/byType');
  assert.deepEqual(total.rows, [{ key: null, value: (59 * 60) / 2 }]);
  const byType = await remote.query('app/byType', { group_level: 1 });
  assert.deepEqual(byType.rows.map((r) => r.key), [['apple'], ['pear'], ['plum']]);
  const counts = await remote.query('app/count', { group: true });
  assert.deepEqual(counts.rows, [{ key: 'apple', value: 20 }, { key: 'pear', value: 20 }, { key: 'plum', value: 20 }]);
  const stats = await remote.query('app/stats', { group: true, keys: ['plum'] });
  assert.equal(stats.rows.length, 1);
  assert.equal(stats.rows[0].value.count, 20);
  assert.equal(stats.rows[0].value.min, 2);
  assert.equal(stats.rows[0].value.max, 59);
  const jsMax = await remote.query('app/jsMax', { group: true });
  assert.deepEqual(jsMax.rows.map((r) => r.value), [57, 58, 59]);
});

test('keys (a POST) and include_docs, following an emitted {_id}', { timeout: 60000 }, async () => {
  const res = await remote.query('app/byType', { reduce: false, keys: [['plum', 5], ['apple', 0], ['none', 1]], include_docs: true });
  assert.deepEqual(res.rows.map((r) => r.id), ['doc-05', 'doc-00']);
  assert.equal(res.rows[0].doc.n, 5);
  const tagged = await remote.query('app/byTag', { key: 'five', include_docs: true });
  assert.equal(tagged.rows.length, 12);
  assert.deepEqual(tagged.rows.map((r) => r.doc._id), tagged.rows.map((r) => r.id));
});

test('query errors come back as PouchDB errors with CouchDB\'s names', { timeout: 60000 }, async () => {
  await assert.rejects(remote.query('app/nope'), (e) => e.status === 404 && e.reason === 'missing_named_view');
  await assert.rejects(remote.query('app/byTag', { group: true }),
    (e) => e.status === 400 && e.name === 'query_parse_error');
});

test('a pull with filter: _view gets the documents the view emits for', { timeout: 60000 }, async () => {
  const local = localDb('view-pull');
  cleanups.push(local.cleanup);
  const res = await withTimeout(PouchDB.replicate(remote, local, { filter: '_view', view: 'app/byTag' }), 45000, '_view pull');
  assert.equal(res.ok, true);
  const got = (await local.allDocs()).rows.map((r) => r.id);
  assert.deepEqual(got, docs.filter((d) => d.tags.length).map((d) => d._id));
});
