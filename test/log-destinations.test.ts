// SPEC "Request IDs and audit log" on the real process: AUDIT_LOG_FILE (appended, reopened on SIGHUP, complete on exit) and a destination that fails.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { openLogDestinations } from '../src/log-destinations.js';
import { itWithProcesses } from './helpers/process-test.js';
import {
  PROCESS_TEST_TIMEOUT_MS,
  WAIT_LIMIT_MS,
  serverEnv,
  waitUntil,
  type LogLine,
} from './helpers/server-process.js';
import { bearer } from './helpers/tokens.js';

// Each process test has its own process and upstream (fixtures of itWithProcesses), so they run concurrently.

function env(upstreamUrl: string, extra: Record<string, string> = {}): Record<string, string> {
  return serverEnv(upstreamUrl, {
    CACHE_TTL_MS: '0',
    // Long: a request in flight is never cut short by the grace period on a loaded machine.
    SHUTDOWN_GRACE_MS: String(3 * WAIT_LIMIT_MS),
    ...extra,
  });
}

/** GET on a fresh connection; resolves with the status, or the connection error's code. */
function getStatus(
  port: number,
  path: string,
  headers: Record<string, string> = {},
): Promise<number | string> {
  return new Promise((resolve) => {
    const req = get({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve('aborted'));
    });
    req.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
  });
}

function jsonLines(text: string): LogLine[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as LogLine);
}

/** The JSON lines of a text that also holds plain ones (stderr: the failure message and the kept log lines). */
const jsonLinesAmong = (text: string) =>
  jsonLines(
    text
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .join('\n'),
  );

const requestIdsOf = (lines: LogLine[]) =>
  lines.filter((line) => line.audit === true).map((line) => line.request_id);

describe.concurrent('AUDIT_LOG_FILE', { timeout: PROCESS_TEST_TIMEOUT_MS }, () => {
  itWithProcesses(
    'gets the audit lines, appended, at LOG_LEVEL=silent too, goes on in a new file after SIGHUP, and holds every line after SIGTERM',
    async ({ processes, upstream, expect }) => {
      const server = await processes.launchServer(
        env(upstream.url, { LOG_LEVEL: 'silent', AUDIT_LOG_FILE: 'audit.log' }),
        { files: { 'audit.log': '{"earlier":true}\n' } },
      );
      const file = join(server.cwd, 'audit.log');
      const port = Number((await server.waitForLine((line) => line.msg === 'listening')).port);

      const statuses = [await getStatus(port, '/v3/batches', { 'X-Request-ID': 'before-rotation' })];
      // logrotate: rename, then SIGHUP. Lines written in between still go to the renamed file.
      renameSync(file, `${file}.1`);
      statuses.push(
        await getStatus(port, '/v3/batches?limit=2', {
          'X-Request-ID': 'after-rename',
          Authorization: bearer(),
        }),
      );
      server.child.kill('SIGHUP');
      await waitUntil(() => existsSync(file), 'the reopened file');
      statuses.push(await getStatus(port, '/v3/batches', { 'X-Request-ID': 'after-sighup' }));
      statuses.push(await getStatus(port, '/healthz', { 'X-Request-ID': 'not-audited' }));
      server.child.kill('SIGTERM');
      const exit = await server.exited;

      expect(statuses).toEqual([401, 200, 401, 200]);
      expect(exit).toEqual({ code: 0, signal: null });
      const rotated = jsonLines(readFileSync(`${file}.1`, 'utf8'));
      expect(rotated[0]).toEqual({ earlier: true });
      expect(requestIdsOf(rotated)).toEqual(['before-rotation', 'after-rename']);
      const current = jsonLines(readFileSync(file, 'utf8'));
      expect(requestIdsOf(current)).toEqual(['after-sighup']);
      expect([...rotated.slice(1), ...current].every((line) => line.audit === true)).toBe(true);
      expect(server.lines.map((line) => line.msg)).toEqual(['listening']);
      expect(server.stderr()).toBe('');
    },
  );

  itWithProcesses(
    'that cannot be opened stops the start with a message naming AUDIT_LOG_FILE',
    async ({ processes, held, expect }) => {
      const server = await processes.launchServer(
        env(held.url, { AUDIT_LOG_FILE: 'no/such/directory/audit.log' }),
      );
      const exit = await server.exited;

      expect(exit.code).toBe(1);
      expect(server.stderr()).toContain('AUDIT_LOG_FILE');
      expect(server.stderr()).not.toContain('no/such/directory');
      expect(server.lines.filter((line) => line.msg === 'listening')).toEqual([]);
    },
  );
});

describe.concurrent('a log destination that cannot be written', { timeout: PROCESS_TEST_TIMEOUT_MS }, () => {
  itWithProcesses(
    'stdout closed by its reader: said on stderr, the audit line kept there, and the process exits 1',
    async ({ processes, held, expect }) => {
      const server = await processes.startServer(env(held.url));
      server.child.stdout?.destroy();

      const status = await getStatus(server.port, '/v3/batches', { 'X-Request-ID': 'after-close' });
      const exit = await server.exited;

      expect(status).toBe(401);
      expect(exit).toEqual({ code: 1, signal: null });
      expect(server.stderr()).toMatch(/cannot write log lines to stdout \(EPIPE\)/);
      expect(jsonLinesAmong(server.stderr()).filter((line) => line.audit === true)).toEqual([
        expect.objectContaining({ request_id: 'after-close', status: 401 }),
      ]);
    },
  );

  itWithProcesses.skipIf(!existsSync('/dev/full'))(
    'AUDIT_LOG_FILE on a full disk (/dev/full): no more requests taken, the one in flight answered, audit lines on stderr, exit 1',
    async ({ processes, held, expect }) => {
      const server = await processes.startServer(env(held.url, { AUDIT_LOG_FILE: '/dev/full' }));
      const inFlight = getStatus(server.port, '/v3/batches?limit=3', {
        'X-Request-ID': 'in-flight',
        Authorization: bearer(),
      });
      await held.arrivals(1);

      const failing = await getStatus(server.port, '/v3/batches', { 'X-Request-ID': 'fails-to-audit' });
      await waitUntil(() => server.stderr().includes('cannot write'), 'the failure on stderr');
      const refused = await waitForRefusal(server.port);
      // Held until now, so the request is still in flight while the listener closes.
      held.release();
      const [answered, exit] = [await inFlight, await server.exited];

      expect(failing).toBe(401);
      expect(refused).toBe(true);
      expect(answered).toBe(200);
      expect(exit).toEqual({ code: 1, signal: null });
      expect(server.stderr()).toMatch(/cannot write log lines to AUDIT_LOG_FILE \(ENOSPC\)/);
      expect(requestIdsOf(jsonLinesAmong(server.stderr())).sort()).toEqual(['fails-to-audit', 'in-flight']);
    },
  );
});

/** True once a new connection is refused (the listener has closed), false if it is still accepted. */
async function waitForRefusal(port: number): Promise<boolean> {
  const isRefused = () =>
    new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(false);
      });
      socket.once('error', () => resolve(true));
    });
  const giveUpAt = performance.now() + WAIT_LIMIT_MS;
  while (performance.now() < giveUpAt) {
    if (await isRefused()) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return false;
}

describe('openLogDestinations — a reopen that fails', () => {
  it('reports the failure once (ENOENT when the directory is gone) and does not claim to have reopened', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ntropy-bff-reopen-'));
    try {
      mkdirSync(join(dir, 'logs'));
      const logs = openLogDestinations(join(dir, 'logs', 'audit.log'));
      const failures: string[] = [];
      logs.onFailure((target, error) => failures.push(`${target} ${error.code}`));
      rmSync(join(dir, 'logs'), { recursive: true });

      expect(logs.reopenAuditFile()).toBe(false);
      expect(logs.reopenAuditFile()).toBe(false);
      await new Promise((resolve) => setTimeout(resolve, 10));

      expect(failures).toEqual(['AUDIT_LOG_FILE ENOENT']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
