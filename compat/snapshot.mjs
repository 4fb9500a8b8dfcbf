// What "the same database" means in these tests: a snapshot of every document a PouchDB (local or over
// HTTP) holds, built only through PouchDB's public API, so it compares a Settee node, pouchdb-server and
// a local LevelDB PouchDB on equal terms.
//
// Per document: the winning rev and whether it is deleted (from _all_docs with keys, which also answers
// for deleted documents), every leaf with its full path (open_revs=all, revs=true) and body, attachment
// stubs (content_type, digest, length; not revpos: PouchDB's
// own adapters reset revpos to the receiving revision's generation for every attachment that arrives with
// data, so it does not survive replication into PouchDB), and for live winners _conflicts and _revs_info.
import assert from 'node:assert/strict';

function stubs(atts) {
  if (!atts) return undefined;
  const out = {};
  for (const name of Object.keys(atts).sort()) {
    const a = atts[name];
    out[name] = { content_type: a.content_type, digest: a.digest, length: a.length };
  }
  return out;
}

function leaf(doc) {
  const { _attachments, _revisions, _rev, _id, _deleted, ...body } = doc;
  return { rev: _rev, deleted: Boolean(_deleted), revisions: _revisions, body, attachments: stubs(_attachments) };
}

// Every document id the database has ever had (deleted ones included), from the changes feed.
export async function allIds(db) {
  const ids = new Set();
  let since = 0;
  for (;;) {
    const res = await db.changes({ since, limit: 500, style: 'all_docs' });
    for (const row of res.results) ids.add(row.id);
    if (res.results.length < 500) break;
    since = res.last_seq;
  }
  return [...ids].sort();
}

export async function snapshot(db) {
  const ids = await allIds(db);
  const snap = {};
  if (ids.length === 0) return snap;
  const all = await db.allDocs({ keys: ids });
  for (const row of all.rows) {
    assert.ok(row.value, `_all_docs with keys has no value for ${row.key}: ${JSON.stringify(row)}`);
    const id = row.key;
    const openRevs = await db.get(id, { open_revs: 'all', revs: true });
    const leaves = openRevs.map((r) => {
      assert.ok(r.ok, `open_revs=all for ${id} answered ${JSON.stringify(r)}`);
      return leaf(r.ok);
    }).sort((a, b) => (a.rev < b.rev ? -1 : a.rev > b.rev ? 1 : 0));
    const entry = { winner: row.value.rev, deleted: Boolean(row.value.deleted), leaves };
    if (!entry.deleted) {
      // PouchDB's get() knows no deleted_conflicts (its HTTP adapter drops the option); deleted losing
      // leaves are in `leaves`.
      const doc = await db.get(id, { conflicts: true, revs_info: true });
      assert.equal(doc._rev, entry.winner, `GET ${id} and _all_docs disagree on the winner`);
      entry.conflicts = (doc._conflicts || []).slice().sort();
      entry.revsInfo = doc._revs_info.map((r) => [r.rev, r.status]);
    }
    snap[id] = entry;
  }
  return snap;
}

// The same snapshot without revs_info statuses: a database that wrote a revision itself keeps the bodies
// of its ancestors ("available") where a replica only ever received the leaves ("missing").
export function withoutStatuses(snap) {
  const out = structuredClone(snap);
  for (const e of Object.values(out)) if (e.revsInfo) e.revsInfo = e.revsInfo.map(([rev]) => rev);
  return out;
}

export function assertSameDatabase(actual, expected, message) {
  const a = Object.keys(actual);
  const e = Object.keys(expected);
  assert.deepEqual(a, e, `${message}: document ids differ`);
  for (const id of e) assert.deepEqual(actual[id], expected[id], `${message}: document ${id} differs`);
}
