// The benchmarks' documents: makeDoc(i) gives ~1 KB of JSON, deterministic, so every server under test
// holds identical bytes; loadDocs() creates a database and fills it with makeDoc(0..n-1) by POST
// _bulk_docs in batches, checks doc_count, and returns the seconds it took.
import { http } from '../../compat/helpers.mjs';

export function makeDoc(i) {
  const words = ['settee', 'couch', 'pouch', 'revision', 'replica', 'sequence', 'attachment', 'conflict'];
  let text = '';
  let x = (i * 2654435761) >>> 0;
  while (text.length < 820) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    text += words[x % words.length] + ' ';
  }
  return {
    _id: `doc-${String(i).padStart(7, '0')}`,
    type: ['note', 'task', 'event'][i % 3],
    n: i,
    tags: [`t${i % 10}`, `g${i % 7}`],
    created: new Date(1700000000000 + i * 1000).toISOString(),
    text,
  };
}

export async function docCount(url) {
  const info = await http('GET', url, undefined, { timeoutMs: 120000 });
  if (info.status !== 200) throw new Error(`GET ${url}: ${info.status} ${info.text.slice(0, 300)}`);
  return info.json?.doc_count;
}

export async function loadDocs(url, n, batch) {
  const create = await http('PUT', url);
  if (create.status !== 201) throw new Error(`PUT ${url}: ${create.status} ${create.text}`);
  const t0 = performance.now();
  for (let start = 0; start < n; start += batch) {
    const docs = [];
    for (let i = start; i < Math.min(n, start + batch); i++) docs.push(makeDoc(i));
    const res = await http('POST', `${url}/_bulk_docs`, { docs }, { timeoutMs: 300000 });
    if (res.status !== 201 || !Array.isArray(res.json) || res.json.some((r) => r.error)) {
      throw new Error(`_bulk_docs into ${url} at ${start}: ${res.status} ${res.text.slice(0, 300)}`);
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  const count = await docCount(url);
  if (count !== n) throw new Error(`${url} has doc_count ${count}, expected ${n}`);
  return seconds;
}
