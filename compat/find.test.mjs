// pouchdb-find over HTTP against a live node, every operator family, sort, fields, limit/skip, bookmark
// paging, use_index, explain, index deletion and errors. The reference is PouchDB's own in-memory Mango
// matcher run on a copy of the same documents (replicated from the node, so revisions are equal too): the
// two must answer alike. Where CouchDB 3.4 and PouchDB differ, CouchDB's answer is asserted instead and the
// difference is named in a comment (find_couchdb.test.mjs replays CouchDB's recorded answers).
//
// The reference copy has no index on purpose: PouchDB 9's index paths are not a faithful reference. On an
// index it returns documents that lack the indexed field for $lt/$lte and sorts them in, and an exclusive
// range start ($gt) takes a place of `limit` and `skip` (limit 3 gives 2 rows). So the reference matches
// with PouchDB's matcher over every document, then sorts with PouchDB's collation (pouchdb-collate, which
// is CouchDB's except for strings: see the ICU test), skips, limits and projects here.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { startSettee, localDb, http } from './helpers.mjs';
import { PouchDB, findFixture, ids, byId, rejectsWith } from './find_fixtures.mjs';
import { check } from './fixtures.mjs';

const { collate } = createRequire(import.meta.url)('pouchdb-collate');

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

let node; // the Settee server
let remote; // PouchDB over http on the node's database
let local; // PouchDB in memory with the same documents, no index
const docs = findFixture();

const INDEXES = [
  { index: { fields: ['type', 'ts'] }, ddoc: 'orders', name: 'type-ts' },
  { index: { fields: ['n'] }, ddoc: 'by-n', name: 'n' },
  { index: { fields: ['v'] }, ddoc: 'by-v', name: 'v' },
  { index: { fields: ['name'] }, ddoc: 'by-name', name: 'name' },
];

before(async () => {
  node = await startSettee();
  cleanups.push(() => node.stop());
  remote = new PouchDB(`${node.url}/find`);
  check(await remote.bulkDocs(docs));
  local = localDb('find-ref', { adapter: 'memory' });
  cleanups.push(local.cleanup);
  const rep = await PouchDB.replicate(remote, local);
  assert.equal(rep.docs_written, docs.length);
  for (const def of INDEXES) {
    const made = await remote.createIndex(def);
    assert.deepEqual(made, { result: 'created', id: `_design/${def.ddoc}`, name: def.name });
  }
});

const fieldOf = (s) => (typeof s === 'string' ? s : Object.keys(s)[0]);
const descending = (s) => typeof s !== 'string' && Object.values(s)[0] === 'desc';
const valueAt = (doc, path) => path.split('.').reduce((v, k) => (v == null ? undefined : v[k]), doc);

// `fields` as CouchDB projects them: each path that exists, nested as in the document.
function project(doc, fields) {
  const out = {};
  for (const path of fields) {
    const v = valueAt(doc, path);
    if (v === undefined) continue;
    const keys = path.split('.');
    let at = out;
    for (const k of keys.slice(0, -1)) at = (at[k] ??= {});
    at[keys.at(-1)] = v;
  }
  return out;
}

// The reference answer: PouchDB's matcher, then sort (index order: the sort fields, then the id, all in the
// one direction), skip, limit and fields.
async function reference(req) {
  const matched = (await local.find({ selector: req.selector, limit: 100000 })).docs;
  if (req.sort) {
    const dir = descending(req.sort[0]) ? -1 : 1;
    matched.sort((a, b) => {
      for (const s of req.sort) {
        const c = collate(valueAt(a, fieldOf(s)), valueAt(b, fieldOf(s)));
        if (c) return dir * c;
      }
      return dir * collate(a._id, b._id);
    });
  }
  const rows = matched.slice(req.skip ?? 0, (req.skip ?? 0) + req.limit);
  return req.fields ? rows.map((d) => project(d, req.fields)) : rows;
}

// Runs `request` on the node and the reference. Unsorted answers come in the order of the index the node
// chose (explain tests check that choice), so they are compared as sets; sorted ones as sequences.
async function sameAnswer(request, what) {
  const req = { limit: 100, ...request };
  const [got, want] = await Promise.all([remote.find(req), reference(req)]);
  assert.deepEqual(req.sort ? got.docs : byId(got.docs), req.sort ? want : byId(want), `${what}: ${JSON.stringify(request)}`);
  return got;
}

const OPERATORS = [
  ['$eq', { type: 'order', n: { $eq: 4 } }],
  ['implicit $eq on a nested field', { 'address.city': 'Lyon' }],
  ['$eq on an array value', { tags: ['a', 'b'] }],
  // PouchDB throws on the documents whose `v` is null; CouchDB reads {"v": {"a": 1}} as {"v.a": 1}.
  ['an object value is a selector on its sub-fields', { v: { a: 1 } }, ['m09']],
  ['$gt', { n: { $gt: 15 } }],
  ['$gte', { n: { $gte: 15 } }],
  ['$lt', { n: { $lt: 3 } }],
  ['$lte', { n: { $lte: 3 } }],
  ['$gt and $lt together', { ts: { $gt: 1004, $lt: 1009 } }],
  ['$gt across types (numbers < strings < arrays < objects)', { v: { $gt: 7 } }],
  ['$lt across types (null < false < true < numbers)', { v: { $lt: 0 } }],
  ['$ne on a field every document has', { type: { $ne: 'order' } }],
  ['$in', { route: { $in: ['r0', 'r2'] } }],
  ['$in on an array field matches any element', { tags: { $in: ['b'] } }],
  ['$nin', { type: 'order', route: { $nin: ['r0'] } }],
  ['$exists: true', { vip: { $exists: true } }],
  ['$exists: false', { type: 'customer', vip: { $exists: false } }],
  ['$type null', { v: { $type: 'null' } }],
  ['$type boolean', { v: { $type: 'boolean' } }],
  ['$type number', { v: { $type: 'number' } }],
  ['$type string', { v: { $type: 'string' } }],
  ['$type array', { v: { $type: 'array' } }],
  ['$type object', { v: { $type: 'object' } }],
  ['$regex', { name: { $regex: '^[AB]' } }],
  ['$regex on a non-string field matches nothing', { n: { $regex: '1' } }],
  ['$size', { tags: { $size: 2 } }],
  ['$size and $mod (transcript #14)', { tags: { $size: 2 }, n: { $mod: [4, 2] } }],
  ['$mod skips fractions', { v: { $mod: [2, 1] } }],
  ['$elemMatch on objects', { lines: { $elemMatch: { sku: 's1', qty: { $gte: 2 } } } }],
  ['$elemMatch on numbers', { scores: { $elemMatch: { $gte: 10 } } }],
  ['$allMatch', { scores: { $allMatch: { $gte: 3 } } }],
  ['$all', { tags: { $all: ['a', 'b'] } }],
  ['$or', { $or: [{ name: 'Ann' }, { vip: true }] }],
  ['$or with ranges', { $or: [{ n: { $lt: 2 } }, { n: { $gt: 18 } }] }],
  ['$nor on fields every order has', { type: 'order', $nor: [{ route: 'r0' }, { status: 'done' }] }],
  ['$not on a field every order has', { type: 'order', $not: { route: 'r1' } }],
  // PouchDB has no $not inside a field ("unknown operator"); CouchDB negates the condition.
  ['$not inside a field', { type: 'order', n: { $not: { $gt: 3 } } }, ['o000', 'o001', 'o002', 'o003']],
  // CouchDB 3.4's operators PouchDB 9 does not have.
  ['$beginsWith', { name: { $beginsWith: 'A' } }, ['c1']],
  ['$keyMapMatch', { address: { $keyMapMatch: { $eq: 'zip' } }, name: { $lt: 'b' } }, ['c1', 'c2']],
  ['explicit $and', { $and: [{ type: 'order' }, { n: { $lt: 5 } }, { status: 'open' }] }],
  ['nested $or inside $and', { $and: [{ type: 'order' }, { $or: [{ route: 'r1' }, { n: 0 }] }] }],
];

for (const [name, selector, couchdbIds] of OPERATORS) {
  test(`${name} answers as ${couchdbIds ? 'CouchDB' : 'PouchDB\'s own Mango'} does`, async () => {
    if (couchdbIds) {
      assert.deepEqual(ids(await remote.find({ selector, limit: 100 })).sort(), couchdbIds);
      return;
    }
    const got = await sameAnswer({ selector }, name);
    assert.ok(got.docs.length > 0 || name.includes('nothing'), `${name}: the fixture has matches`);
  });
}

const SORTED = [
  ['sort ascending on an indexed pair, with fields and limit (transcript #10)',
    { selector: { type: 'order', ts: { $gt: 1000 } }, sort: [{ type: 'asc' }, { ts: 'asc' }], limit: 3 }],
  ['sort descending on an indexed pair (transcript #9)',
    { selector: { type: 'order', ts: { $gt: 1003 } }, sort: [{ type: 'desc' }, { ts: 'desc' }], fields: ['_id', 'ts', 'status'], limit: 4 }],
  ['sort by a single field given as a string', { selector: { n: { $gte: 5 } }, sort: ['n'] }],
  ['sort descending on one field', { selector: { n: { $gte: 0 } }, sort: [{ n: 'desc' }] }],
  ['sort across JSON types in collation order', { selector: { v: { $gte: null } }, sort: ['v'] }],
  ['sort across JSON types, descending', { selector: { v: { $gte: null } }, sort: [{ v: 'desc' }] }],
  ['skip and limit', { selector: { n: { $gt: 0 } }, sort: ['n'], skip: 3, limit: 5 }],
  ['skip past the end', { selector: { n: { $gt: 0 } }, sort: ['n'], skip: 50 }],
  ['fields with a nested path', { selector: { type: 'customer' }, fields: ['_id', 'name', 'address.city'] }],
];

for (const [name, request] of SORTED) {
  test(`${name} answers as PouchDB's own Mango does`, async () => {
    await sameAnswer(request, name);
  });
}

// CouchDB collates strings with ICU ("a" < "A" < "b", accents beside their base letter); PouchDB compares
// JavaScript code units (every capital before every small letter, "É" after "z").
test('strings compare by ICU collation, as CouchDB does (PouchDB differs)', async () => {
  const sorted = await remote.find({ selector: { name: { $gt: null } }, sort: ['name'], fields: ['name'] });
  assert.deepEqual(sorted.docs.map((d) => d.name), ['ann', 'Ann', 'Bob', 'Émile', 'zoe']);
  const range = await remote.find({ selector: { name: { $gt: 'B' } }, sort: ['name'], fields: ['name'] });
  assert.deepEqual(range.docs.map((d) => d.name), ['Bob', 'Émile', 'zoe']);
  const below = await remote.find({ selector: { type: 'customer', name: { $lt: 'b' } }, fields: ['_id'] });
  assert.deepEqual(ids(below).sort(), ['c1', 'c2']);
});

// CouchDB: a field a document lacks fails every operator but $exists:false, and $not/$nor are pushed
// down onto the fields ({"$not": {"f": 1}} is {"f": {"$ne": 1}}), so they need the field too. PouchDB's
// $ne, $not and $nor match documents without the field.
test('a missing field fails $ne, $nin, $not and $nor, as in CouchDB (PouchDB differs)', async () => {
  const withVip = docs.filter((d) => 'vip' in d).map((d) => d._id);
  const ne = await remote.find({ selector: { vip: { $ne: true } }, limit: 100 });
  assert.deepEqual(ids(ne), docs.filter((d) => 'vip' in d && d.vip !== true).map((d) => d._id));
  const nin = await remote.find({ selector: { vip: { $nin: [true] } }, limit: 100 });
  assert.deepEqual(ids(nin), ids(ne));
  const not = await remote.find({ selector: { $not: { vip: true } }, limit: 100 });
  assert.deepEqual(ids(not), ids(ne));
  const nor = await remote.find({ selector: { $nor: [{ vip: true }] }, limit: 100 });
  assert.deepEqual(ids(nor), ids(ne));
  assert.ok(withVip.length === 2 && ne.docs.length === 1);
  // PouchDB's $in and $nin skip null values; CouchDB compares null like any value.
  const inNull = await remote.find({ selector: { v: { $in: [null, 7] } }, limit: 100 });
  assert.deepEqual(ids(inNull), ['m00', 'm05']);
});

test('without a limit the node answers 25 documents (CouchDB\'s default)', async () => {
  const res = await remote.find({ selector: { type: { $gt: null } } });
  assert.equal(res.docs.length, 25);
  assert.ok(docs.length > 25);
});

test('bookmark paging walks a sorted query page by page to its end', async () => {
  const request = { selector: { type: 'order', ts: { $gt: 1000 } }, sort: [{ type: 'asc' }, { ts: 'asc' }], limit: 3 };
  const all = await remote.find({ ...request, limit: 100 });
  const seen = [];
  let bookmark;
  for (let page = 0; page < 20; page++) {
    const res = await remote.find(bookmark ? { ...request, bookmark } : request);
    assert.ok(typeof res.bookmark === 'string' && res.bookmark.length > 0, 'every page has a bookmark');
    if (res.docs.length === 0) break;
    seen.push(...ids(res));
    bookmark = res.bookmark;
  }
  assert.deepEqual(seen, ids(all));
  assert.equal(seen.length, 19);
});

test('bookmark paging works on a full scan too', async () => {
  const request = { selector: { type: 'order' }, limit: 7 };
  const seen = [];
  let bookmark;
  for (let page = 0; page < 10; page++) {
    const res = await remote.find(bookmark ? { ...request, bookmark } : request);
    if (res.docs.length === 0) break;
    seen.push(...ids(res));
    bookmark = res.bookmark;
  }
  assert.deepEqual(seen, docs.filter((d) => d.type === 'order').map((d) => d._id));
});

test('a bookmark that is not one is invalid_bookmark', async () => {
  await rejectsWith(remote.find({ selector: { type: 'order' }, bookmark: 'not-a-bookmark' }), 400, 'invalid_bookmark');
});

test('getIndexes lists _all_docs, then every json index by design document', async () => {
  const res = await remote.getIndexes();
  const json = INDEXES.map((i) => ({
    ddoc: `_design/${i.ddoc}`, name: i.name, type: 'json', partitioned: false, def: { fields: i.index.fields.map((f) => ({ [f]: 'asc' })) },
  })).sort((a, b) => (a.ddoc < b.ddoc ? -1 : 1));
  assert.deepEqual(res, {
    total_rows: INDEXES.length + 1,
    indexes: [{ ddoc: null, name: '_all_docs', type: 'special', def: { fields: [{ _id: 'asc' }] } }, ...json],
  });
});

test('explain names the index that serves the selector and the sort', async () => {
  const sorted = await remote.explain({ selector: { type: 'order', ts: { $gt: 1003 } }, sort: [{ ts: 'asc' }] });
  assert.equal(sorted.index.ddoc, '_design/orders');
  assert.equal(sorted.index.name, 'type-ts');
  const byN = await remote.explain({ selector: { n: { $gt: 3 } } });
  assert.equal(byN.index.name, 'n');
  const scan = await remote.explain({ selector: { status: 'open' } });
  assert.equal(scan.index.name, '_all_docs');
});

test('use_index picks among usable indexes, and falls back with a warning when it cannot serve', async () => {
  const named = await remote.explain({ selector: { type: 'order', n: { $gt: 3 }, ts: { $gt: 0 } }, use_index: ['by-n', 'n'] });
  assert.equal(named.index.name, 'n');
  const other = await remote.explain({ selector: { type: 'order', n: { $gt: 3 }, ts: { $gt: 0 } }, use_index: '_design/orders' });
  assert.equal(other.index.name, 'type-ts');
  const fallback = await remote.find({ selector: { status: 'open', route: 'r1' }, use_index: '_design/orders' });
  assert.deepEqual(ids(fallback), ['o004', 'o010', 'o016']);
  // 36 documents read for 3 results: above CouchDB's ratio of 10, so its third warning too.
  assert.equal(fallback.warning, '_design/orders was not used because it does not contain a valid index for this query.\n' +
    'No matching index found, create an index to optimize query time.\n' +
    'The number of documents examined is high in proportion to the number of results returned. ' +
    'Consider adding a more specific index to improve this.');
  await rejectsWith(remote.find({ selector: { status: 'open' }, use_index: '_design/orders', allow_fallback: false }),
    400, 'no_usable_index');
});

test('errors: an unindexed sort is no_usable_index, an unknown operator invalid_operator', async () => {
  const e = await rejectsWith(remote.find({ selector: { type: 'order' }, sort: [{ status: 'desc' }] }), 400, 'no_usable_index');
  assert.equal(e.reason, 'No index exists for this sort, try indexing by the sort fields.');
  const op = await http('POST', `${node.url}/find/_find`, { selector: { type: { $bogus: 1 } } });
  assert.equal(op.status, 400);
  assert.deepEqual(op.json, { error: 'invalid_operator', reason: 'Invalid operator: $bogus' });
  const mixed = await http('POST', `${node.url}/find/_find`, { selector: { type: 'order' }, sort: [{ type: 'asc' }, { ts: 'desc' }] });
  assert.equal(mixed.status, 400);
  assert.equal(mixed.json.error, 'unsupported_mixed_sort');
});

test('deleteIndex removes the index and its design document; its sort is then no_usable_index', async () => {
  const def = { index: { fields: ['status', 'ts'] }, ddoc: 'temp', name: 'status-ts' };
  assert.equal((await remote.createIndex(def)).result, 'created');
  assert.equal((await remote.createIndex(def)).result, 'exists');
  const request = { selector: { status: 'open' }, sort: ['status', 'ts'], limit: 2 };
  assert.deepEqual(ids(await remote.find(request)), ['o000', 'o002']);
  assert.deepEqual(await remote.deleteIndex({ ddoc: 'temp', name: 'status-ts' }), { ok: true });
  assert.ok(!(await remote.getIndexes()).indexes.some((i) => i.name === 'status-ts'));
  await rejectsWith(remote.get('_design/temp'), 404, 'not_found');
  await rejectsWith(remote.find(request), 400, 'no_usable_index');
  await rejectsWith(remote.deleteIndex({ ddoc: 'temp', name: 'status-ts' }), 404, 'not_found');
});

test('the index stays exact through updates and deletions', async () => {
  const doc = await remote.get('o005');
  check(await remote.bulkDocs([{ ...doc, ts: 2000 }, { _id: 'o100', type: 'order', ts: 999, n: 100 }]));
  await remote.remove(await remote.get('o006'));
  const res = await remote.find({ selector: { type: 'order', ts: { $gt: 0 } }, sort: ['type', 'ts'], fields: ['_id', 'ts'], limit: 100 });
  assert.equal(res.docs[0]._id, 'o100');
  assert.deepEqual(res.docs.at(-1), { _id: 'o005', ts: 2000 });
  assert.ok(!ids(res).includes('o006'));
  assert.equal(res.docs.length, 20);
});

test('conflicts: true adds each document\'s _conflicts; execution_stats reports what was read', async () => {
  const db = new PouchDB(`${node.url}/find-conflicts`);
  check(await db.bulkDocs([
    { _id: 'k1', _rev: '1-aaaa', type: 'k', n: 1 }, { _id: 'k1', _rev: '1-bbbb', type: 'k', n: 2 }, { _id: 'k2', _rev: '1-cccc', type: 'k', n: 3 },
  ], { new_edits: false }));
  const res = await db.find({ selector: { type: 'k' }, conflicts: true, execution_stats: true });
  assert.deepEqual(res.docs.map((d) => [d._id, d._rev, d._conflicts]), [['k1', '1-bbbb', ['1-aaaa']], ['k2', '1-cccc', undefined]]);
  assert.equal(res.execution_stats.results_returned, 2);
  assert.equal(res.execution_stats.total_docs_examined, 2);
  const plain = await db.find({ selector: { type: 'k' } });
  assert.ok(plain.docs.every((d) => !('_conflicts' in d)));
});
