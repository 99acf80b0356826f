// SPEC "Running"/"Shutdown" on the real process: config errors before listening, .env, the port, SIGTERM.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { closedPortUrl, freePort } from './helpers/problem.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MAIN = join(ROOT, 'dist', 'main.js');
const API_KEY = 'ntropy-startup-key-4b8e1d';
const SECRET = 'startup-test-secret-of-at-least-32-bytes';
const GOOD_ENV = { NTROPY_API_KEY: API_KEY, JWT_SECRET: SECRET, HOST: '127.0.0.1', PORT: '0' };
const START_TIMEOUT_MS = 8000;

interface Running {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const spawned: ChildProcess[] = [];
let cwd: string;

// dist/ is built once for the whole suite by test/global-setup.ts.

beforeEach(() => {
  // A fresh working directory, so no stray .env is read.
  cwd = mkdtempSync(join(tmpdir(), 'ntropy-bff-startup-'));
});

afterEach(async () => {
  for (const child of spawned.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await gone;
    }
  }
  rmSync(cwd, { recursive: true, force: true });
});

/** Starts `node dist/main.js` with only PATH and `env`, in the test's fresh working directory. */
function startServer(env: Record<string, string>): Running {
  const child = spawn(process.execPath, [MAIN], {
    cwd,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  spawned.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

function logRecords(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** The port from the server's 'listening' log line. */
function listeningPort(server: Running): Promise<number> {
  return waitFor('the listening line', () => {
    if (server.child.exitCode !== null) throw new Error(`server exited early:\n${server.stderr()}`);
    const line = logRecords(server.stdout()).find((record) => record.msg === 'listening');
    return typeof line?.port === 'number' ? line.port : undefined;
  });
}

function getStatus(port: number, path: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', () => resolve(undefined));
  });
}

describe('startup — invalid configuration', () => {
  it('exits non-zero before listening, naming every offending variable and printing no secret', async () => {
    const apiKey = 'ntropy-key-never-printed-9d1f';
    const shortSecret = 'short-jwt-secret-never-printed';
    const server = startServer({
      NTROPY_API_KEY: apiKey,
      JWT_SECRET: shortSecret,
      PORT: String(await freePort()),
      HOST: '127.0.0.1',
      CACHE_TTL_MS: 'abc',
      LOG_LEVEL: 'loud',
      CORS_ORIGINS: '*',
    });
    const { code } = await server.exited;
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    for (const name of ['JWT_SECRET', 'CACHE_TTL_MS', 'LOG_LEVEL', 'CORS_ORIGINS']) {
      expect(server.stderr()).toContain(name);
    }
    const output = server.stdout() + server.stderr();
    expect(output).not.toContain(apiKey);
    expect(output).not.toContain(shortSecret);
    expect(server.stdout()).not.toContain('listening');
  });

  it('with no configuration at all, names NTROPY_API_KEY and the three JWT key variables', async () => {
    const server = startServer({});
    const { code } = await server.exited;
    expect(code).not.toBe(0);
    for (const name of ['NTROPY_API_KEY', 'JWT_SECRET', 'JWT_PUBLIC_KEY', 'JWT_JWKS_URL']) {
      expect(server.stderr()).toContain(name);
    }
    expect(server.stdout()).not.toContain('listening');
  });

  it('names an unusable NTROPY_BASE_URL rather than failing on it', async () => {
    const server = startServer({ ...GOOD_ENV, NTROPY_BASE_URL: 'not a url', PORT: 'x' });
    const { code } = await server.exited;
    expect(code).not.toBe(0);
    expect(server.stderr()).toContain('NTROPY_BASE_URL');
    expect(server.stderr()).toContain('PORT');
  });

  it('does not print a PEM given as JWT_PUBLIC_KEY alongside another key source', async () => {
    const body = 'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEnotarealkeynotarealkey';
    const pem = `-----BEGIN PUBLIC KEY-----\n${body}\n-----END PUBLIC KEY-----`;
    const server = startServer({ ...GOOD_ENV, JWT_PUBLIC_KEY: pem });
    const { code } = await server.exited;
    expect(code).not.toBe(0);
    expect(server.stderr()).toContain('JWT_PUBLIC_KEY');
    expect(server.stderr()).not.toContain('BEGIN PUBLIC KEY');
    expect(server.stderr()).not.toContain('notarealkey');
    expect(server.stderr()).not.toContain(SECRET);
  });
});

describe('startup — .env in the working directory', () => {
  it('is read when present', async () => {
    writeFileSync(
      join(cwd, '.env'),
      `NTROPY_API_KEY=${API_KEY}\nJWT_SECRET=${SECRET}\nHOST=127.0.0.1\nPORT=0\n`,
    );
    const server = startServer({});
    const port = await listeningPort(server);
    expect(await getStatus(port, '/healthz')).toBe(200);
  });

  it('reports a bad value that came from it', async () => {
    writeFileSync(join(cwd, '.env'), `NTROPY_API_KEY=${API_KEY}\nJWT_SECRET=${SECRET}\nPORT=abc\n`);
    const server = startServer({});
    const { code } = await server.exited;
    expect(code).not.toBe(0);
    expect(server.stderr()).toContain('PORT');
  });

  it('loses to the real environment', async () => {
    writeFileSync(
      join(cwd, '.env'),
      `NTROPY_API_KEY=${API_KEY}\nJWT_SECRET=${SECRET}\nPORT=abc\nLOG_LEVEL=loud\n`,
    );
    const server = startServer({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info' });
    const port = await listeningPort(server);
    expect(await getStatus(port, '/healthz')).toBe(200);
  });
});

describe('startup — a good configuration', () => {
  it('with PORT=0 logs a JSON line with the chosen port, which then answers /healthz', async () => {
    const server = startServer(GOOD_ENV);
    const port = await listeningPort(server);
    expect(port).toBeGreaterThan(0);
    expect(await getStatus(port, '/healthz')).toBe(200);
    expect(await getStatus(port, '/v3/batches')).toBe(401);
    for (const record of logRecords(server.stdout())) expect(record).toHaveProperty('level');
    expect(server.stdout() + server.stderr()).not.toContain(API_KEY);
    expect(server.stdout() + server.stderr()).not.toContain(SECRET);
  });

  it('with LOG_LEVEL=warn still logs the listening line, and no other line below warn', async () => {
    const server = startServer({ ...GOOD_ENV, LOG_LEVEL: 'warn' });
    const port = await listeningPort(server);
    expect(await getStatus(port, '/healthz')).toBe(200);
    const records = logRecords(server.stdout());
    expect(records.filter((record) => record.msg === 'listening')).toEqual([
      expect.objectContaining({ level: 30, port }),
    ]);
    const quieter = records.filter((record) => record.msg !== 'listening' && Number(record.level) < 40);
    expect(quieter).toEqual([]);
  });
});

describe('startup — a port that is taken', () => {
  it('METRICS_PORT taken: exits non-zero before serving, naming METRICS_PORT', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    try {
      const taken = (blocker.address() as AddressInfo).port;
      const server = startServer({ ...GOOD_ENV, METRICS_PORT: String(taken) });
      const { code } = await server.exited;
      expect(code).toBe(1);
      expect(server.stderr()).toContain('METRICS_PORT');
      expect(server.stdout()).not.toContain('listening');
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });
});

describe('startup — touches no network', () => {
  let upstream: Server;
  let upstreamPort: number;
  let connections = 0;
  beforeAll(async () => {
    upstream = createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    upstreamPort = (upstream.address() as AddressInfo).port;
  });
  afterAll(() => new Promise((resolve) => upstream.close(resolve)));

  it('starts with NTROPY_BASE_URL pointing at a closed local port', async () => {
    const server = startServer({ ...GOOD_ENV, NTROPY_BASE_URL: await closedPortUrl() });
    const port = await listeningPort(server);
    expect(await getStatus(port, '/healthz')).toBe(200);
  });

  it('opens no connection to the upstream or the JWKS endpoint while starting', async () => {
    const origin = `http://127.0.0.1:${upstreamPort}`;
    const server = startServer({
      NTROPY_API_KEY: API_KEY,
      HOST: '127.0.0.1',
      PORT: '0',
      NTROPY_BASE_URL: origin,
      JWT_JWKS_URL: `${origin}/.well-known/jwks.json`,
    });
    const port = await listeningPort(server);
    expect(await getStatus(port, '/healthz')).toBe(200);
    expect(connections).toBe(0);
  });
});

describe('startup — signals', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)('%s → exit code 0', async (signal) => {
    const server = startServer(GOOD_ENV);
    const port = await listeningPort(server);
    expect(await getStatus(port, '/healthz')).toBe(200);
    server.child.kill(signal);
    expect(await server.exited).toEqual({ code: 0, signal: null });
    expect(logRecords(server.stdout()).map((record) => record.msg)).toContain('shut down');
  });
});
