// CouchDB 3.4.3's recorded Mango answers (../shared/transcripts/couchdb-mango.txt, #1-#22) replayed in order
// against a node holding the same documents: documents, warnings, errors, index listings, the design
// document an index lives in, and `_explain`. Revisions and bookmarks are each server's own (bookmarks are
// opaque), and the name CouchDB derives for an unnamed index is a hash of its own making, so those are
// compared by shape.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSettee, http } from './helpers.mjs';
import { noRev } from './find_fixtures.mjs';

let node;
let db;
const post = (path, body) => http('POST', `${db}${path}`, body);
after(async () => { await node?.stop(); });

const order = (n) => ({
  _id: `o${String(n).padStart(3, '0')}`, type: 'order', route: `r${n % 3}`, status: n % 2 ? 'done' : 'open',
  ts: 1000 + n, tags: [[], ['a'], ['a', 'b']][n % 3], n,
});
const ORDERS = Array.from({ length: 12 }, (_, n) => order(n));
const CUSTOMERS = [{ _id: 'c1', type: 'customer', name: 'Ann' }, { _id: 'c2', type: 'customer', name: 'Bob', vip: true }];
const get = (id) => [...ORDERS, ...CUSTOMERS].find((d) => d._id === id);
const ALL_DOCS_INDEX = { ddoc: null, name: '_all_docs', type: 'special', def: { fields: [{ _id: 'asc' }] } };
const NO_INDEX = 'No matching index found, create an index to optimize query time.';
const TOO_MANY = 'The number of documents examined is high in proportion to the number of results returned. ' +
  'Consider adding a more specific index to improve this.';
let partialName; // #6's server-chosen name

before(async () => {
  node = await startSettee();
  db = `${node.url}/m`;
  assert.equal((await http('PUT', db)).status, 201);
  const res = await post('/_bulk_docs', { docs: [...ORDERS, ...CUSTOMERS] });
  assert.equal(res.status, 201, res.text);
});

// The steps share one database and run in order, as the transcript's requests did.
const step = (name, body) => test(name, body);

step('#1 a new database lists only the special _all_docs index', async () => {
  const res = await http('GET', `${db}/_index`);
  assert.equal(res.status, 200);
  assert.deepEqual(res.json, { total_rows: 1, indexes: [ALL_DOCS_INDEX] });
});

step('#2 with no index a query scans every document and warns', async () => {
  const res = await post('/_find', { selector: { type: 'order', status: 'open' }, limit: 3 });
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.json.docs.map(noRev), [get('o000'), get('o002'), get('o004')]);
  assert.equal(typeof res.json.bookmark, 'string');
  assert.equal(res.json.warning, NO_INDEX);
});

step('#3 a sort no index serves is no_usable_index', async () => {
  const res = await post('/_find', { selector: { type: 'order' }, sort: [{ ts: 'desc' }] });
  assert.equal(res.status, 400);
  assert.deepEqual(res.json, { error: 'no_usable_index', reason: 'No index exists for this sort, try indexing by the sort fields.' });
});

step('#4 #5 POST _index creates a json index once, then says it exists', async () => {
  const body = { index: { fields: ['type', 'ts'] }, name: 'type-ts', ddoc: 'orders' };
  const first = await post('/_index', body);
  assert.equal(first.status, 200, first.text);
  assert.deepEqual(first.json, { result: 'created', id: '_design/orders', name: 'type-ts' });
  const again = await post('/_index', body);
  assert.deepEqual(again.json, { result: 'exists', id: '_design/orders', name: 'type-ts' });
});

step('#6 a partial index without a name gets one, in a design document of the same name', async () => {
  const res = await post('/_index', { index: { fields: ['route'], partial_filter_selector: { status: 'open' } } });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.result, 'created');
  partialName = res.json.name;
  assert.match(partialName, /^[0-9a-f]{40}$/, 'CouchDB names it with 40 hex digits');
  assert.equal(res.json.id, `_design/${partialName}`);
});

step('#7 GET _index lists _all_docs first, then the json indexes by design document', async () => {
  // CouchDB's recorded #7 did not yet show the partial index (its design-document cache lagged; #22 and
  // #12 show it); a node lists what it has.
  const res = await http('GET', `${db}/_index`);
  const typeTs = { ddoc: '_design/orders', name: 'type-ts', type: 'json', partitioned: false, def: { fields: [{ type: 'asc' }, { ts: 'asc' }] } };
  const partial = {
    ddoc: `_design/${partialName}`, name: partialName, type: 'json', partitioned: false,
    def: { fields: [{ route: 'asc' }], partial_filter_selector: { status: { $eq: 'open' } } },
  };
  assert.deepEqual(res.json, { total_rows: 3, indexes: [ALL_DOCS_INDEX, ...[typeTs, partial].sort((a, b) => (a.ddoc < b.ddoc ? -1 : 1))] });
});

step('#8 the index lives in a design document with "language": "query"', async () => {
  const res = await http('GET', `${db}/_design/orders`);
  assert.equal(res.status, 200);
  assert.deepEqual(noRev(res.json), {
    _id: '_design/orders', language: 'query',
    views: { 'type-ts': { map: { fields: { type: 'asc', ts: 'asc' }, partial_filter_selector: {} }, reduce: '_count', options: { def: { fields: ['type', 'ts'] } } } },
  });
});

step('#9 the index serves a descending sort with fields, limit and execution_stats', async () => {
  const res = await post('/_find', {
    selector: { type: 'order', ts: { $gt: 1003 } }, sort: [{ type: 'desc' }, { ts: 'desc' }], fields: ['_id', 'ts', 'status'],
    limit: 4, execution_stats: true,
  });
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.json.docs, [
    { _id: 'o011', ts: 1011, status: 'done' }, { _id: 'o010', ts: 1010, status: 'open' },
    { _id: 'o009', ts: 1009, status: 'done' }, { _id: 'o008', ts: 1008, status: 'open' }]);
  assert.equal(res.json.warning, undefined, 'no warning when an index serves');
  const stats = res.json.execution_stats;
  assert.deepEqual(Object.keys(stats).sort(), ['execution_time_ms', 'results_returned', 'total_docs_examined',
    'total_keys_examined', 'total_quorum_docs_examined']);
  assert.equal(stats.results_returned, 4);
  // CouchDB examined 6 for 4 results; the index range must keep a node from reading the other orders.
  assert.ok(stats.total_docs_examined <= 6, `examined ${stats.total_docs_examined} documents`);
});

step('#10 #11 bookmark paging continues after the last document of the page', async () => {
  const q = { selector: { type: 'order', ts: { $gt: 1000 } }, sort: [{ type: 'asc' }, { ts: 'asc' }], limit: 3 };
  const page1 = await post('/_find', q);
  assert.deepEqual(page1.json.docs.map(noRev), ['o001', 'o002', 'o003'].map(get));
  const page2 = await post('/_find', { ...q, bookmark: page1.json.bookmark });
  assert.deepEqual(page2.json.docs.map(noRev), ['o004', 'o005', 'o006'].map(get));
  assert.notEqual(page2.json.bookmark, page1.json.bookmark);
});

step('#12 _explain shows the chosen index, the normalised selector, the options and the key range', async () => {
  const res = await post('/_explain', { selector: { type: 'order', ts: { $gt: 1003 } }, sort: [{ type: 'desc' }, { ts: 'desc' }], limit: 4 });
  assert.equal(res.status, 200, res.text);
  const e = res.json;
  assert.equal(e.dbname, 'm');
  assert.deepEqual(e.index, { ddoc: '_design/orders', name: 'type-ts', type: 'json', partitioned: false, def: { fields: [{ type: 'asc' }, { ts: 'asc' }] } });
  assert.deepEqual(e.selector, { $and: [{ type: { $eq: 'order' } }, { ts: { $gt: 1003 } }] });
  assert.deepEqual(e.opts, {
    use_index: [], bookmark: 'nil', limit: 4, skip: 0, sort: { type: 'desc', ts: 'desc' }, fields: [], partition: '', r: 1,
    conflicts: false, stale: false, update: true, stable: false, execution_stats: false, allow_fallback: true,
  });
  assert.deepEqual([e.limit, e.skip, e.fields], [4, 0, []]);
  assert.deepEqual(
    { start_key: e.mrargs.start_key, end_key: e.mrargs.end_key, direction: e.mrargs.direction, include_docs: e.mrargs.include_docs },
    { start_key: ['order', '<MAX>'], end_key: ['order', 1003], direction: 'rev', include_docs: true });
  assert.deepEqual(e.index_candidates.map((c) => [c.index.name, c.analysis.usable, c.analysis.reasons]),
    [[partialName, false, [{ name: 'is_partial' }]], ['_all_docs', false, [{ name: 'field_mismatch' }]]]);
});

step('#13 _explain of a full scan names _all_docs and the whole key range', async () => {
  const res = await post('/_explain', { selector: { name: 'Ann' } });
  const e = res.json;
  assert.deepEqual(e.index, ALL_DOCS_INDEX);
  assert.deepEqual(e.selector, { name: { $eq: 'Ann' } });
  assert.equal(e.opts.limit, 25);
  assert.deepEqual([e.mrargs.start_key, e.mrargs.end_key, e.mrargs.direction], [null, '<MAX>', 'fwd']);
});

step('#14 #15 #16 $size with $mod, $or with fields, $regex, and the warnings of a scan', async () => {
  const sizeMod = await post('/_find', { selector: { tags: { $size: 2 }, n: { $mod: [4, 2] } } });
  assert.deepEqual(sizeMod.json.docs.map(noRev), [get('o002')]);
  assert.equal(sizeMod.json.warning, `${NO_INDEX}\n${TOO_MANY}`);
  const or = await post('/_find', { selector: { $or: [{ name: 'Ann' }, { vip: true }] }, fields: ['name'] });
  assert.deepEqual(or.json.docs, [{ name: 'Ann' }, { name: 'Bob' }]);
  assert.equal(or.json.warning, NO_INDEX);
  const regex = await post('/_find', { selector: { name: { $regex: '^A' } } });
  assert.deepEqual(regex.json.docs.map(noRev), [get('c1')]);
  assert.equal(regex.json.warning, `${NO_INDEX}\n${TOO_MANY}`);
});

step('#17 use_index naming an index that cannot serve falls back, and says so', async () => {
  const res = await post('/_find', { selector: { status: 'open', route: 'r1' }, use_index: '_design/orders' });
  assert.deepEqual(res.json.docs.map(noRev), [get('o004'), get('o010')]);
  assert.equal(res.json.warning, `_design/orders was not used because it does not contain a valid index for this query.\n${NO_INDEX}`);
});

step('#18 #19 #20 bad selectors and options get CouchDB\'s errors', async () => {
  const cases = [
    [{ selector: { type: { $bogus: 1 } } }, { error: 'invalid_operator', reason: 'Invalid operator: $bogus' }],
    [{ selector: 'x' }, { error: 'invalid_selector_json', reason: 'Selector must be a JSON object, not: <<120>>' }],
    [{ selector: { type: 'order' }, limit: -1 }, { error: 'invalid_non_neg_integer', reason: '-1 is not an integer greater than or equal to zero' }],
  ];
  for (const [body, answer] of cases) {
    const res = await post('/_find', body);
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.deepEqual(res.json, answer);
  }
});

step('#21 #22 DELETE _index removes the index; the listing no longer has it', async () => {
  const res = await http('DELETE', `${db}/_index/orders/json/type-ts`);
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.json, { ok: true });
  const list = await http('GET', `${db}/_index`);
  assert.deepEqual(list.json.indexes.map((i) => i.name), ['_all_docs', partialName]);
  assert.equal((await http('GET', `${db}/_design/orders`)).status, 404, 'the emptied design document is deleted');
});
