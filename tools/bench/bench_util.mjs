// Helpers shared by the benchmark scripts:
// - parseOptions(argv, opts, usage, option): walks argv; `--help`/`-h` prints `usage: USAGE` and exits 0; every
//   other argument A goes to option(A, take), where take.value() consumes the next argument (throws when there
//   is none) and take.int() consumes it as a positive integer (throws otherwise); option returns false for an
//   argument it does not know, which throws. Returns opts (which option fills in).
// - median(xs) of a non-empty array of numbers; fmt(x): a number for a report ('-' for null or NaN).
// - timedRun(command, args, timeoutMs, groups): runs COMMAND ARGS under `/usr/bin/time -v` in its own process
//   group (its pid in the Set `groups` while it runs, for the caller's exit handler to kill), bounded by
//   timeoutMs; throws unless it exits 0. Returns { seconds (wall, measured here), rssKb, cpu (user + sys s),
//   stdout, stderr } (stdout and stderr: their last 16 KiB).
// - runTimedBench(name, body): checks that the settee binary (SETTEE_BINARY) and /usr/bin/time exist, prints
//   the binary, the cores and the load average, awaits body(), then prints the load average and total seconds.
// - loadavg(): the 1, 5 and 15 minute load averages as text.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setteeBinary, tempDir } from '../../compat/helpers.mjs';

const timeDirs = new Set(); // temp dirs of the timed runs under way, removed on exit too
process.on('exit', () => {
  for (const d of timeDirs) fs.rmSync(d, { recursive: true, force: true });
});

export function parseOptions(argv, opts, usage, option) {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') {
      console.log(`usage: ${usage}`);
      process.exit(0);
    }
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    const int = () => {
      const v = value();
      const n = Number(v);
      if (!Number.isInteger(n) || n <= 0) throw new Error(`${a}: not a positive integer: ${v}`);
      return n;
    };
    if (!option(a, { value, int })) throw new Error(`unknown option ${a}`);
  }
  return opts;
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

export const loadavg = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');

export async function runTimedBench(name, body) {
  const bin = setteeBinary();
  if (!fs.existsSync(bin)) throw new Error(`settee binary not found at ${bin} (set SETTEE_BINARY)`);
  if (!fs.existsSync('/usr/bin/time')) throw new Error('/usr/bin/time is missing (apt-get install time)');
  const t0 = performance.now();
  console.log(`${name}: ${bin} (built ${fs.statSync(bin).mtime.toISOString()}), ${os.cpus().length} cores, ` +
    `node ${process.version}`);
  console.log(`load average at start: ${loadavg()}`);
  await body();
  console.log(`\nload average at end: ${loadavg()}; total ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}

export const fmt = (x) => (x == null || Number.isNaN(x) ? '-' : x >= 100 ? x.toFixed(0) : x.toFixed(1));

export async function timedRun(command, args, timeoutMs, groups) {
  const dir = tempDir('bench-time');
  timeDirs.add(dir);
  const timeFile = path.join(dir, 'time.txt');
  const cmd = `${path.basename(command)} ${args.join(' ')}`;
  try {
    const t0 = performance.now();
    const child = spawn('/usr/bin/time', ['-v', '-o', timeFile, command, ...args],
      { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    if (child.pid !== undefined) groups.add(child.pid);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout = (stdout + d).slice(-16384); });
    child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-16384); });
    let timer;
    const result = await new Promise((resolve) => {
      child.once('error', (e) => resolve({ error: e }));
      child.once('close', (code, signal) => resolve({ code, signal }));
      timer = setTimeout(() => {
        try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
        resolve({ timedOut: true });
      }, timeoutMs);
    });
    clearTimeout(timer);
    const seconds = (performance.now() - t0) / 1000;
    groups.delete(child.pid);
    if (result.error) throw new Error(`${cmd}: could not start /usr/bin/time: ${result.error.message}`);
    if (result.timedOut) throw new Error(`${cmd}: no result within ${timeoutMs / 1000} s (killed); stderr:\n${stderr}`);
    const timeText = fs.existsSync(timeFile) ? fs.readFileSync(timeFile, 'utf8') : '';
    const rss = /Maximum resident set size \(kbytes\):\s*(\d+)/.exec(timeText);
    const exit = /Exit status:\s*(\d+)/.exec(timeText);
    const user = /User time \(seconds\):\s*([\d.]+)/.exec(timeText);
    const sys = /System time \(seconds\):\s*([\d.]+)/.exec(timeText);
    const code = exit ? Number(exit[1]) : result.code;
    if (code !== 0 || result.signal) {
      throw new Error(`${cmd}: exit ${code} ${result.signal ?? ''}\nstdout:\n${stdout}\nstderr:\n${stderr}\n` +
        `${timeText.split('\n').slice(0, 3).join('\n')}`);
    }
    if (!rss) throw new Error(`${cmd}: /usr/bin/time printed no maximum RSS:\n${timeText}`);
    const cpu = user && sys ? Number(user[1]) + Number(sys[1]) : NaN;
    return { seconds, rssKb: Number(rss[1]), cpu, stdout, stderr };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    timeDirs.delete(dir);
  }
}
