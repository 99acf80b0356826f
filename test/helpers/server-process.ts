// Spawns the real `node dist/main.js` in an empty directory and reads its JSON lines, for tests of the process itself.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { API_KEY } from './harness.js';
import { acquireStartSlot } from './start-slots.js';
import { JWT_SECRET } from './tokens.js';

const MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));
/**
 * A bound for a broken build, not a timing claim: a cold start takes about a second of CPU, and
 * several seconds on a 2-core machine that other work loads too (starts have a slot of their own).
 */
export const WAIT_LIMIT_MS = 30_000;
/** For tests that start processes (a start may first queue for its slot) and wait on them more than once. */
export const PROCESS_TEST_TIMEOUT_MS = 4 * WAIT_LIMIT_MS;

export type LogLine = Record<string, unknown>;

/** A configuration that starts against `upstreamUrl` on a free loopback port, logging at info; `extra` over it. */
export function serverEnv(upstreamUrl: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    NTROPY_API_KEY: API_KEY,
    NTROPY_BASE_URL: upstreamUrl,
    JWT_SECRET,
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'info',
    ...extra,
  };
}

export interface SpawnOptions {
  /** Files written into the fresh working directory before the process starts (e.g. `.env`). */
  files?: Record<string, string>;
}

export interface ServerProcess {
  child: ChildProcess;
  /** The working directory it was started in (fresh, and empty but for `files`: no .env unless given). */
  cwd: string;
  /** stdout's lines so far, parsed (a line that is not JSON is kept as `{ unparsed }`). */
  lines: LogLine[];
  /** stdout's text so far, as written. */
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  hasExited(): boolean;
  /** Resolves with the first line (so far or to come) that matches; rejects once the process exits without one. */
  waitForLine(matches: (line: LogLine) => boolean): Promise<LogLine>;
}

export async function waitUntil(isDone: () => boolean, what: string): Promise<void> {
  const giveUpAt = performance.now() + WAIT_LIMIT_MS;
  while (!isDone()) {
    if (performance.now() > giveUpAt) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function parseLine(text: string): LogLine {
  try {
    return JSON.parse(text) as LogLine;
  } catch {
    return { unparsed: text };
  }
}

/** Starts processes and remembers them, so `cleanUp` (afterEach) kills any left running and removes their directories. */
export function createServerProcesses() {
  const children: ChildProcess[] = [];
  const dirs: string[] = [];

  function spawnServer(env: Record<string, string>, options: SpawnOptions = {}): ServerProcess {
    const cwd = mkdtempSync(join(tmpdir(), 'ntropy-bff-process-'));
    dirs.push(cwd);
    for (const [name, text] of Object.entries(options.files ?? {})) writeFileSync(join(cwd, name), text);
    const child = spawn(process.execPath, [MAIN], {
      cwd,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let hasExited = false;
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => {
        hasExited = true;
        resolve({ code, signal });
      }),
    );
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const lines: LogLine[] = [];
    // Waiting is event-driven: each new line is offered to the waiters, and the end of stdout fails those left.
    const waiters = new Set<(line: LogLine | undefined) => void>();
    const reader = createInterface({ input: child.stdout });
    reader.on('line', (text) => {
      const line = parseLine(text);
      lines.push(line);
      for (const offer of waiters) offer(line);
    });
    let isStdoutClosed = false;
    reader.once('close', () => {
      isStdoutClosed = true;
      for (const offer of waiters) offer(undefined);
    });

    function waitForLine(matches: (line: LogLine) => boolean): Promise<LogLine> {
      const seen = lines.find(matches);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const fail = (why: string) => {
          waiters.delete(offer);
          clearTimeout(timer);
          reject(new Error(`${why}; stderr: ${stderr}`));
        };
        const offer = (line: LogLine | undefined) => {
          if (line === undefined) return fail('the server closed its stdout without the expected line');
          if (!matches(line)) return;
          waiters.delete(offer);
          clearTimeout(timer);
          resolve(line);
        };
        const timer = setTimeout(() => fail('timed out waiting for a log line'), WAIT_LIMIT_MS);
        if (isStdoutClosed) return fail('the server closed its stdout without the expected line');
        waiters.add(offer);
      });
    }

    return {
      child,
      cwd,
      lines,
      stdout: () => stdout,
      stderr: () => stderr,
      exited,
      hasExited: () => hasExited,
      waitForLine,
    };
  }

  /** Spawns once a start slot is free, and frees it once the process listens or ends (its costly part is over). */
  async function launchServer(
    env: Record<string, string>,
    options: SpawnOptions = {},
  ): Promise<ServerProcess> {
    const freeSlot = await acquireStartSlot();
    const server = spawnServer(env, options);
    server
      .waitForLine((line) => line.msg === 'listening')
      .catch(() => undefined)
      .finally(freeSlot);
    return server;
  }

  return {
    /** Spawns at once, outside the start slots: prefer launchServer. */
    spawnServer,
    launchServer,
    /** Launches and resolves with the port of its `listening` line. */
    async startServer(
      env: Record<string, string>,
      options: SpawnOptions = {},
    ): Promise<ServerProcess & { port: number }> {
      const server = await launchServer(env, options);
      const listening = await server.waitForLine((line) => line.msg === 'listening');
      return { ...server, port: Number(listening.port) };
    },
    async cleanUp(): Promise<void> {
      for (const child of children.splice(0)) {
        if (child.exitCode === null && child.signalCode === null) {
          const gone = new Promise((resolve) => child.once('exit', resolve));
          child.kill('SIGKILL');
          await gone;
        }
      }
      for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export type ServerProcesses = ReturnType<typeof createServerProcesses>;
