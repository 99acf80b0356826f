// SPEC "Request IDs and audit log" on the real process: AUDIT_LOG_FILE (appended, reopened on SIGHUP, complete on exit) and a destination that fails.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startSimulatedNtropy, type SimulatedNtropy } from '../src/demo/simulated-ntropy.js';
import { openLogDestinations } from '../src/log-destinations.js';
import { API_KEY } from './helpers/harness.js';
import { createServerProcesses, waitUntil, type LogLine } from './helpers/server-process.js';
import { JWT_SECRET, bearer } from './helpers/tokens.js';

const TEST_TIMEOUT_MS = 20_000;

let upstream: SimulatedNtropy;
const processes = createServerProcesses();
beforeAll(async () => {
  upstream = await startSimulatedNtropy({ apiKey: API_KEY });
});
afterAll(() => upstream.close());
beforeEach(() => upstream.reset());
afterEach(() => processes.cleanUp());

function env(extra: Record<string, string> = {}): Record<string, string> {
  return {
    NTROPY_API_KEY: API_KEY,
    NTROPY_BASE_URL: upstream.url,
    JWT_SECRET,
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'info',
    CACHE_TTL_MS: '0',
    SHUTDOWN_GRACE_MS: '5000',
    ...extra,
  };
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

describe('AUDIT_LOG_FILE', { timeout: TEST_TIMEOUT_MS }, () => {
  it('gets the audit lines, appended, at LOG_LEVEL=silent too, goes on in a new file after SIGHUP, and holds every line after SIGTERM', async () => {
    const server = processes.spawnServer(env({ LOG_LEVEL: 'silent', AUDIT_LOG_FILE: 'audit.log' }));
    const file = join(server.cwd, 'audit.log');
    writeFileSync(file, '{"earlier":true}\n');
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
  });

  it('that cannot be opened stops the start with a message naming AUDIT_LOG_FILE', async () => {
    const server = processes.spawnServer(env({ AUDIT_LOG_FILE: 'no/such/directory/audit.log' }));
    const exit = await server.exited;

    expect(exit.code).toBe(1);
    expect(server.stderr()).toContain('AUDIT_LOG_FILE');
    expect(server.stderr()).not.toContain('no/such/directory');
    expect(server.lines.filter((line) => line.msg === 'listening')).toEqual([]);
  });
});

describe('a log destination that cannot be written', { timeout: TEST_TIMEOUT_MS }, () => {
  it('stdout closed by its reader: said on stderr, the audit line kept there, and the process exits 1', async () => {
    const server = await processes.startServer(env());
    server.child.stdout?.destroy();

    const status = await getStatus(server.port, '/v3/batches', { 'X-Request-ID': 'after-close' });
    const exit = await server.exited;

    expect(status).toBe(401);
    expect(exit).toEqual({ code: 1, signal: null });
    expect(server.stderr()).toMatch(/cannot write log lines to stdout \(EPIPE\)/);
    expect(jsonLinesAmong(server.stderr()).filter((line) => line.audit === true)).toEqual([
      expect.objectContaining({ request_id: 'after-close', status: 401 }),
    ]);
  });

  it.skipIf(!existsSync('/dev/full'))(
    'AUDIT_LOG_FILE on a full disk (/dev/full): no more requests taken, the one in flight answered, audit lines on stderr, exit 1',
    async () => {
      upstream.enqueue({ delayMs: 600 });
      const server = await processes.startServer(env({ AUDIT_LOG_FILE: '/dev/full' }));
      const inFlight = getStatus(server.port, '/v3/batches?limit=3', {
        'X-Request-ID': 'in-flight',
        Authorization: bearer(),
      });
      await waitUntil(() => upstream.received.length === 1, 'the upstream call');

      const failing = await getStatus(server.port, '/v3/batches', { 'X-Request-ID': 'fails-to-audit' });
      await waitUntil(() => server.stderr().includes('cannot write'), 'the failure on stderr');
      const refused = await waitForRefusal(server.port);
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
  for (let tries = 0; tries < 50; tries += 1) {
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
