// `settee replicate` runs for the benchmarks, timed and checked:
// - timedSettee(args, timeoutMs, groups, { wrap }): runs `settee ARGS` under /usr/bin/time -v (timedRun in
//   bench_util.mjs; `wrap`, e.g. ['perf', 'record', '-g', '-o', FILE, '--'], goes between time and settee,
//   and then the peak RSS is the larger of the wrapper's and settee's); throws unless it exits 0. Returns
//   timedRun's { seconds, rssKb, cpu, stderr } and, from the last "STATE: N written, F failed" line,
//   { state, written, failed }.
// - localDocCount(dataDir, db, groups): how many documents local database `db` under `dataDir` holds, asked
//   of a short-lived `settee serve` on that directory.
// - setteePull(source, target, n, groups, { dataDir, targetUrl, wrap, extra }): `settee replicate SOURCE TARGET
//   --create-target EXTRA...` (with --data DIR for a local target) whose result is checked: it completed with n
//   written and none failed, and the target then holds n documents (targetUrl's doc_count, or
//   localDocCount). Returns { rate (n / wall seconds, process start included), seconds, rssKb, cpu }.
// `groups` is the caller's Set of process groups still running, which its exit handler kills.
import { spawn } from 'node:child_process';
import { freePort, setteeBinary, sleep } from '../../compat/helpers.mjs';
import { docCount } from './bench_docs.mjs';
import { timedRun } from './bench_util.mjs';

export async function timedSettee(args, timeoutMs, groups, { wrap = [] } = {}) {
  const command = wrap.length ? wrap[0] : setteeBinary();
  const all = wrap.length ? [...wrap.slice(1), setteeBinary(), ...args] : args;
  const r = await timedRun(command, all, timeoutMs, groups);
  const done = [...r.stderr.matchAll(/(\w+): (\d+) written, (\d+) failed/g)].pop();
  return {
    seconds: r.seconds, rssKb: r.rssKb, cpu: r.cpu, state: done?.[1], written: done ? Number(done[2]) : NaN,
    failed: done ? Number(done[3]) : NaN, stderr: r.stderr,
  };
}

export async function localDocCount(dataDir, db, groups) {
  const port = await freePort();
  const child = spawn(setteeBinary(), ['serve', '--bind', '127.0.0.1', '--port', String(port), '--data', dataDir,
    '--log-level', 'none'], { stdio: ['ignore', 'ignore', 'pipe'] });
  groups.add(child.pid);
  const exited = new Promise((r) => child.once('exit', r));
  try {
    const deadline = Date.now() + 30000;
    for (;;) {
      try {
        return await docCount(`http://127.0.0.1:${port}/${db}`);
      } catch (e) {
        if (Date.now() > deadline) throw new Error(`settee serve --data ${dataDir}: no answer for /${db}: ${e.message}`);
        await sleep(50);
      }
    }
  } finally {
    try { process.kill(child.pid, 'SIGTERM'); } catch { /* gone */ }
    if (!(await Promise.race([exited.then(() => true), sleep(10000)]))) {
      try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ }
      await Promise.race([exited, sleep(5000)]);
    }
    groups.delete(child.pid);
  }
}

export async function setteePull(source, target, n, groups, { dataDir, targetUrl, wrap, extra = [] } = {}) {
  const args = ['replicate', source, target, '--create-target', ...extra];
  if (dataDir) args.push('--data', dataDir);
  const timeoutMs = Math.max(600000, n * 5); // at least 200 docs/s, else it counts as a hang
  const r = await timedSettee(args, timeoutMs, groups, { wrap });
  if (r.written !== n || r.failed !== 0 || r.state !== 'completed') {
    throw new Error(`settee ${args.join(' ')}: last line says ${r.state}: ${r.written} written, ${r.failed} failed; ` +
      `expected completed: ${n} written\nstderr:\n${r.stderr}`);
  }
  const count = targetUrl ? await docCount(targetUrl) : await localDocCount(dataDir, target, groups);
  if (count !== n) throw new Error(`after settee ${args.join(' ')}: target has doc_count ${count}, expected ${n}`);
  return { rate: n / r.seconds, seconds: r.seconds, rssKb: r.rssKb, cpu: r.cpu };
}
