// Spawns the real `node dist/main.js` in an empty directory and reads its JSON lines, for tests of the process itself.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));
/** Generous: a cold start takes about a second of CPU, more on a busy machine. */
export const WAIT_LIMIT_MS = 8000;

export type LogLine = Record<string, unknown>;

export interface ServerProcess {
  child: ChildProcess;
  /** The working directory it was started in (fresh and empty: no .env). */
  cwd: string;
  /** stdout's lines so far, parsed (a line that is not JSON is kept as `{ unparsed }`). */
  lines: LogLine[];
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  hasExited(): boolean;
  waitForLine(matches: (line: LogLine) => boolean): Promise<LogLine>;
}

export async function waitUntil(isDone: () => boolean, what: string): Promise<void> {
  const giveUpAt = performance.now() + WAIT_LIMIT_MS;
  while (!isDone()) {
    if (performance.now() > giveUpAt) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Starts processes and remembers them, so `cleanUp` (afterEach) kills any left running and removes their directories. */
export function createServerProcesses() {
  const children: ChildProcess[] = [];
  const dirs: string[] = [];

  function spawnServer(env: Record<string, string>): ServerProcess {
    const cwd = mkdtempSync(join(tmpdir(), 'ntropy-bff-process-'));
    dirs.push(cwd);
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
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const lines: LogLine[] = [];
    createInterface({ input: child.stdout }).on('line', (text) => {
      try {
        lines.push(JSON.parse(text) as LogLine);
      } catch {
        lines.push({ unparsed: text });
      }
    });
    return {
      child,
      cwd,
      lines,
      stderr: () => stderr,
      exited,
      hasExited: () => hasExited,
      async waitForLine(matches) {
        await waitUntil(() => lines.some(matches) || hasExited, 'a log line');
        const line = lines.find(matches);
        if (line === undefined)
          throw new Error(`the server exited without the expected line; stderr: ${stderr}`);
        return line;
      },
    };
  }

  return {
    spawnServer,
    /** Spawns and resolves with the port of its `listening` line. */
    async startServer(env: Record<string, string>): Promise<ServerProcess & { port: number }> {
      const server = spawnServer(env);
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
