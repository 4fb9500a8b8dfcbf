// The documents the replication tests move around: plain docs, updates, deletions, a re-created
// tombstone, a design doc, a _local doc, attachments (text and binary, updated as stubs), and
// concurrent branches made with new_edits:false (live and deleted conflicts).
import crypto from 'node:crypto';
import { pseudoRandomBytes } from './helpers.mjs';

// A 32-hex revision hash derived from a label, so branches are reproducible.
export function h(label) {
  return crypto.createHash('md5').update(label).digest('hex');
}

// Writes one branch {start, ids newest first} ending in `body` with new_edits:false.
export function branch(id, labels, body = {}, extra = {}) {
  const ids = labels.map(h).reverse();
  return { _id: id, _rev: `${labels.length}-${ids[0]}`, _revisions: { start: labels.length, ids }, ...body, ...extra };
}

export const SMALL_TEXT = 'hello, settee\n';

// Fills `db` with the common fixture. `bigBytes` sets the binary attachment's size (0 = none).
export async function populate(db, { bigBytes = 3 * 1024 * 1024, prefix = '' } = {}) {
  const p = (s) => prefix + s;
  const big = bigBytes ? pseudoRandomBytes(bigBytes, 99) : null;

  const plain = [];
  for (let i = 0; i < 30; i++) plain.push({ _id: p(`d${String(i).padStart(2, '0')}`), type: i % 2 ? 'odd' : 'even', n: i, text: `doc ${i} é ✓` });
  check(await db.bulkDocs(plain));

  for (let i = 0; i < 10; i++) {
    for (let k = 0; k < 2; k++) {
      const doc = await db.get(p(`d0${i}`));
      doc.n += 100;
      doc.edits = (doc.edits || 0) + 1;
      await db.put(doc);
    }
  }
  for (let i = 10; i < 15; i++) await db.remove(await db.get(p(`d${i}`)));
  // Deleted, then written again with no _rev: the new revision extends the tombstone.
  await db.remove(await db.get(p('d15')));
  await db.put({ _id: p('d15'), reborn: true });

  await db.put({ _id: p('_design/app'), language: 'javascript', views: { byType: { map: 'function (doc) { emit(doc.type); }' } } });
  await db.put({ _id: p('_local/secret'), note: 'must not travel' });

  await db.put({ _id: p('att-small'), kind: 'attachment', _attachments: { 'hello.txt': { content_type: 'text/plain', data: Buffer.from(SMALL_TEXT).toString('base64') } } });
  let doc = await db.get(p('att-small'));
  doc.kind = 'attachment, edited';
  await db.put(doc); // the attachment goes along as a stub and keeps revpos 1
  doc = await db.get(p('att-small'));
  doc._attachments['notes.txt'] = { content_type: 'text/plain', data: Buffer.from('second attachment').toString('base64') };
  await db.put(doc);
  if (big) {
    await db.put({ _id: p('att-big'), kind: 'binary', _attachments: { 'blob.bin': { content_type: 'application/octet-stream', data: big.toString('base64') } } });
  }

  check(await db.bulkDocs([
    branch(p('conflicted'), ['a', 'b'], { side: 'b' }),
    branch(p('conflicted'), ['a', 'c'], { side: 'c' }),
    branch(p('conflicted'), ['a', 'c', 'd'], {}, { _deleted: true }),
    branch(p('conflicted2'), ['e', 'f'], { side: 'f' }),
    branch(p('conflicted2'), ['e', 'g'], { side: 'g' }),
    branch(p('conflicted-att'), ['h', 'i'], { side: 'i' }, { _attachments: { 'x.txt': { content_type: 'text/plain', data: Buffer.from('branch i').toString('base64') } } }),
    branch(p('conflicted-att'), ['h', 'j'], { side: 'j' }),
    branch(p('all-deleted'), ['k', 'l'], {}, { _deleted: true }),
    branch(p('all-deleted'), ['k', 'm'], {}, { _deleted: true }),
  ], { new_edits: false }));
  return { big };
}

// bulkDocs answers per-document errors in its array instead of rejecting.
export function check(results) {
  const bad = (results || []).filter((r) => r.error);
  if (bad.length) throw new Error(`bulkDocs failed: ${JSON.stringify(bad)}`);
  return results;
}
