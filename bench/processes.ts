// Starts, pins, probes and stops the benchmark's child processes: servers on core 0, load generators on core 1.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

/** The repository root (this file runs as dist/bench/processes.js). */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BENCH_DIR = `${ROOT}bench/`;
export const RESULTS_DIR = `${BENCH_DIR}results/`;
const COMPILED_DIR = fileURLToPath(new URL('.', import.meta.url));
mkdirSync(RESULTS_DIR, { recursive: true });

const CLOCK_TICKS_PER_S = Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim()) || 100;
export const SERVER_CORE = 0;
export const LOAD_CORE = 1;
export const hasTaskset = spawnSync('taskset', ['-p', String(process.pid)]).status === 0;

const children = new Set<ChildProcess>();
// Whatever ends this process (an error, Ctrl-C), no server or wrk may outlive it.
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

/** Which code is measured: others may be editing src/ while the benchmark runs. */
export function describeSource(): { commit: string; uncommitted: string[] } {
  const git = (args: string[]) => spawnSync('git', args, { cwd: ROOT }).stdout?.toString().trimEnd() ?? '';
  const uncommitted = git(['status', '--porcelain', '--', 'src', 'package.json', 'package-lock.json']);
  return {
    commit: git(['rev-parse', '--short', 'HEAD']) || 'unknown',
    uncommitted: uncommitted === '' ? [] : uncommitted.split('\n').map((line) => line.slice(3)),
  };
}

/** `npm run build`: the proxy is always measured as built, `node dist/main.js`. */
export function buildProxy(): void {
  const build = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
  if (build.status !== 0) throw new Error('npm run build failed');
}

/** Runs this process (and so the Node load clients it hosts) on the load core. */
export function pinSelfToLoadCore(): void {
  if (hasTaskset) spawnSync('taskset', ['-p', '-c', String(LOAD_CORE), String(process.pid)]);
}

/** Spawns `command args`, pinned to `core` when taskset exists, tracked for cleanup. */
export function spawnPinned(
  core: number,
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; stdout?: 'ignore' | 'pipe' } = {},
): ChildProcess {
  const [file, argv] = hasTaskset ? ['taskset', ['-c', String(core), command, ...args]] : [command, args];
  const child = spawn(file, argv, {
    // Not the repository root: the proxy would read a developer's .env there (SPEC "Running").
    cwd: RESULTS_DIR,
    env: options.env ?? { PATH: process.env.PATH },
    stdio: ['ignore', options.stdout ?? 'ignore', 'pipe'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

export async function findFreePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no free port');
  return address.port;
}

export interface Server {
  name: string;
  url: string;
  child: ChildProcess;
  pid: number;
  stop(): Promise<void>;
}

/**
 * Starts a Node server process on the server core and waits until `readyPath` answers 200.
 * Its stdout (the proxy's audit log) goes to /dev/null; its stderr is kept for error messages.
 */
export async function startServer(options: {
  name: string;
  script: string;
  args?: string[];
  nodeArgs?: string[];
  env?: Record<string, string>;
  readyPath: string;
}): Promise<Server> {
  const port = await findFreePort();
  const script = options.script.startsWith('/') ? options.script : `${COMPILED_DIR}${options.script}`;
  const child = spawnPinned(
    SERVER_CORE,
    process.execPath,
    [...(options.nodeArgs ?? []), script, ...(options.args ?? [])],
    { env: { PATH: process.env.PATH ?? '', PORT: String(port), HOST: '127.0.0.1', ...options.env } },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const url = `http://127.0.0.1:${port}`;
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`${options.name} exited (${code}): ${stderr.trim()}`))),
  );
  // Once started, its exit (our own stop()) is no error.
  exited.catch(() => {});
  await Promise.race([waitForOk(url + options.readyPath), exited]);
  return {
    name: options.name,
    url,
    child,
    pid: child.pid ?? 0,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(timer);
    },
  };
}

async function waitForOk(url: string, timeoutMs = 10_000): Promise<void> {
  const giveUpAt = Date.now() + timeoutMs;
  for (;;) {
    try {
      const response = await fetch(url);
      await response.arrayBuffer();
      if (response.status === 200) return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > giveUpAt) throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** CPU time (user + system) a process has used so far, in seconds. */
export function readCpuSeconds(pid: number): number {
  // /proc/<pid>/stat: utime and stime are fields 14 and 15, after the parenthesised command name.
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_S;
}

/** VmRSS (now) and VmHWM (peak so far) of a process, in MB. */
export function readMemoryMb(pid: number): { rssMb: number; peakRssMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMb: kb('VmRSS') / 1024, peakRssMb: kb('VmHWM') / 1024 };
}
