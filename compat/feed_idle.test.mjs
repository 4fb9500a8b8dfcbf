// A continuous `settee replicate` from an idle pouchdb-server stays idle: pouchdb-server answers a
// waiting longpoll that asked for heartbeats with newlines for ever (it ignores `timeout`, as CouchDB
// does once `heartbeat` is given) and, when the client accepts gzip, holds those newlines in its
// compressor. The replicator must hear the heartbeats (no gzip on a waiting feed) and take a wait that
// reaches its deadline while still heard from as "nothing new", never as a failure. The run lasts past
// both limits of tuning.h (25 s of silence, a 40 s deadline per wait) with the default 10 s heartbeat;
// then a document written on the peer still arrives.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { http, sleep, spawnSettee, startPouchServer, startSettee, waitFor } from './helpers.mjs';

const cleanups = [];
after(async () => { for (const c of cleanups.reverse()) await c(); });

test('a continuous pull from an idle pouchdb-server never leaves idle, and a later document arrives',
  { timeout: 120000 }, async () => {
    const [pouch, settee] = await Promise.all([startPouchServer(), startSettee()]);
    cleanups.push(() => pouch.stop(), () => settee.stop());
    assert.equal((await http('PUT', `${pouch.url}/idle`)).status, 201);
    assert.equal((await http('PUT', `${pouch.url}/idle/first`, { n: 1 })).status, 201);
    const live = spawnSettee(['replicate', `${pouch.url}/idle`, `${settee.url}/idle`, '--continuous', '--create-target']);
    cleanups.push(() => live.stop());
    await waitFor(async () => /^idle:/m.test(live.output()), 20000, 'the first catch-up');
    const caughtUp = live.output();
    assert.equal((await http('GET', `${settee.url}/idle`)).json.doc_count, 1, caughtUp);

    await sleep(48000);
    const quiet = live.output().slice(caughtUp.length).split('\n').filter((l) => l && !/^idle:/.test(l));
    assert.deepEqual(quiet, [], `no state change and no error while the peer is idle:\n${live.output()}`);

    assert.equal((await http('PUT', `${pouch.url}/idle/later`, { n: 2 })).status, 201);
    await waitFor(async () => (await http('GET', `${settee.url}/idle/later`)).status === 200, 10000,
      `the later document (settee replicate said: ${live.output()})`);
    assert.doesNotMatch(live.output(), /retrying|failed:|replication failed/i, live.output());
    assert.equal(live.child.exitCode, null, 'the continuous replication is still running');
  });
