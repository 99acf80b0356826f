// SPEC "Running" on the real process: config errors before listening, .env, the port, no network at startup.
import { get } from 'node:http';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { afterAll, beforeAll, describe } from 'vitest';
import { closedPortUrl, freePort } from './helpers/problem.js';
import { itWithProcesses as it } from './helpers/process-test.js';
import { PROCESS_TEST_TIMEOUT_MS, type ServerProcess } from './helpers/server-process.js';

const API_KEY = 'ntropy-startup-key-4b8e1d';
const SECRET = 'startup-test-secret-of-at-least-32-bytes';
const GOOD_ENV = { NTROPY_API_KEY: API_KEY, JWT_SECRET: SECRET, HOST: '127.0.0.1', PORT: '0' };

// dist/ is built once for the whole suite by test/global-setup.ts. Each test starts its own process in
// a fresh, empty working directory (so no stray .env is read). The tests run concurrently; the start
// slots (test/helpers/start-slots.ts) bound how many processes start at once.

/** The port from the server's 'listening' log line. */
async function listeningPort(server: ServerProcess): Promise<number> {
  const line = await server.waitForLine((record) => record.msg === 'listening');
  if (typeof line.port !== 'number')
    throw new Error(`no port in the listening line: ${JSON.stringify(line)}`);
  return line.port;
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

describe.concurrent('startup — invalid configuration', { timeout: PROCESS_TEST_TIMEOUT_MS }, () => {
  it('exits non-zero before listening, naming every offending variable and printing no secret', async ({
    processes,
    expect,
  }) => {
    const apiKey = 'ntropy-key-never-printed-9d1f';
    const shortSecret = 'short-jwt-secret-never-printed';
    const server = await processes.launchServer({
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

  it('with no configuration at all, names NTROPY_API_KEY and the three JWT key variables', async ({
    processes,
    expect,
  }) => {
    const server = await processes.launchServer({});
    const { code } = await server.exited;
    expect(code).not.toBe(0);
    for (const name of ['NTROPY_API_KEY', 'JWT_SECRET', 'JWT_PUBLIC_KEY', 'JWT_JWKS_URL']) {
      expect(server.stderr()).toContain(name);
    }
    expect(server.stdout()).not.toContain('listening');
  });

  it('names an unusable NTROPY_BASE_URL rather than failing on it', async ({ processes, expect }) => {
    const server = await processes.launchServer({ ...GOOD_ENV, NTROPY_BASE_URL: 'not a url', PORT: 'x' });
    const { code } = await server.exited;
    expect(code).not.toBe(0);
    expect(server.stderr()).toContain('NTROPY_BASE_URL');
    expect(server.stderr()).toContain('PORT');
  });

  it('does not print a PEM given as JWT_PUBLIC_KEY alongside another key source', async ({
    processes,
    expect,
  }) => {
    const body = 'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEnotarealkeynotarealkey';
    const pem = `-----BEGIN PUBLIC KEY-----\n${body}\n-----END PUBLIC KEY-----`;
    const server = await processes.launchServer({ ...GOOD_ENV, JWT_PUBLIC_KEY: pem });
    const { code } = await server.exited;
    expect(code).not.toBe(0);
    expect(server.stderr()).toContain('JWT_PUBLIC_KEY');
    expect(server.stderr()).not.toContain('BEGIN PUBLIC KEY');
    expect(server.stderr()).not.toContain('notarealkey');
    expect(server.stderr()).not.toContain(SECRET);
  });

  it('a METRICS_PORT that is taken: exits non-zero before serving, naming METRICS_PORT', async ({
    processes,
    expect,
  }) => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    try {
      const taken = (blocker.address() as AddressInfo).port;
      const server = await processes.launchServer({ ...GOOD_ENV, METRICS_PORT: String(taken) });
      const { code } = await server.exited;
      expect(code).toBe(1);
      expect(server.stderr()).toContain('METRICS_PORT');
      expect(server.stdout()).not.toContain('listening');
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });
});

describe.concurrent('startup — .env in the working directory', { timeout: PROCESS_TEST_TIMEOUT_MS }, () => {
  it('is read when present', async ({ processes, expect }) => {
    const server = await processes.launchServer(
      {},
      { files: { '.env': `NTROPY_API_KEY=${API_KEY}\nJWT_SECRET=${SECRET}\nHOST=127.0.0.1\nPORT=0\n` } },
    );
    const port = await listeningPort(server);
    expect(await getStatus(port, '/healthz')).toBe(200);
  });

  it('reports a bad value that came from it', async ({ processes, expect }) => {
    const server = await processes.launchServer(
      {},
      { files: { '.env': `NTROPY_API_KEY=${API_KEY}\nJWT_SECRET=${SECRET}\nPORT=abc\n` } },
    );
    const { code } = await server.exited;
    expect(code).not.toBe(0);
    expect(server.stderr()).toContain('PORT');
  });

  it('loses to the real environment', async ({ processes, expect }) => {
    const server = await processes.launchServer(
      { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info' },
      { files: { '.env': `NTROPY_API_KEY=${API_KEY}\nJWT_SECRET=${SECRET}\nPORT=abc\nLOG_LEVEL=loud\n` } },
    );
    const port = await listeningPort(server);
    expect(await getStatus(port, '/healthz')).toBe(200);
  });
});

describe.concurrent('startup — a good configuration', { timeout: PROCESS_TEST_TIMEOUT_MS }, () => {
  it('with PORT=0 logs a JSON line with the chosen port, which then answers /healthz', async ({
    processes,
    expect,
  }) => {
    const server = await processes.launchServer(GOOD_ENV);
    const port = await listeningPort(server);
    expect(port).toBeGreaterThan(0);
    expect(await getStatus(port, '/healthz')).toBe(200);
    expect(await getStatus(port, '/v3/batches')).toBe(401);
    for (const record of server.lines) expect(record).toHaveProperty('level');
    expect(server.stdout() + server.stderr()).not.toContain(API_KEY);
    expect(server.stdout() + server.stderr()).not.toContain(SECRET);
  });

  it('with LOG_LEVEL=warn still logs the listening line, and no other line below warn', async ({
    processes,
    expect,
  }) => {
    const server = await processes.launchServer({ ...GOOD_ENV, LOG_LEVEL: 'warn' });
    const port = await listeningPort(server);
    expect(await getStatus(port, '/healthz')).toBe(200);
    expect(server.lines.filter((record) => record.msg === 'listening')).toEqual([
      expect.objectContaining({ level: 30, port }),
    ]);
    const quieter = server.lines.filter((record) => record.msg !== 'listening' && Number(record.level) < 40);
    expect(quieter).toEqual([]);
  });
});

describe.concurrent('startup — touches no network', { timeout: PROCESS_TEST_TIMEOUT_MS }, () => {
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

  it('starts with NTROPY_BASE_URL pointing at a closed local port', async ({ processes, expect }) => {
    const server = await processes.launchServer({ ...GOOD_ENV, NTROPY_BASE_URL: await closedPortUrl() });
    const port = await listeningPort(server);
    expect(await getStatus(port, '/healthz')).toBe(200);
  });

  it('opens no connection to the upstream or the JWKS endpoint while starting', async ({
    processes,
    expect,
  }) => {
    const origin = `http://127.0.0.1:${upstreamPort}`;
    const server = await processes.launchServer({
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

// SIGTERM and SIGINT (exit code 0, the 'shut down' line) are tested with the drain, in shutdown.test.ts.
