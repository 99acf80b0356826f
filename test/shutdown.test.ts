// SPEC "Shutdown": the real server process on SIGTERM/SIGINT — readiness, in-flight requests, idle connections, grace.
import { connect, type Socket } from 'node:net';
import { describe, expect } from 'vitest';
import type { HeldUpstream } from './helpers/held-upstream.js';
import { itWithProcesses } from './helpers/process-test.js';
import { settlesWithin } from './helpers/settles-within.js';
import {
  PROCESS_TEST_TIMEOUT_MS,
  WAIT_LIMIT_MS,
  serverEnv,
  waitUntil,
  type LogLine,
  type ServerProcess,
  type ServerProcesses,
} from './helpers/server-process.js';
import { signToken } from './helpers/tokens.js';

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Spawns `node dist/main.js` in an empty directory (no .env) and resolves once it logs its port. */
function startServer(processes: ServerProcesses, upstreamUrl: string, shutdownGraceMs: number) {
  return processes.startServer(
    serverEnv(upstreamUrl, { SHUTDOWN_GRACE_MS: String(shutdownGraceMs), CACHE_TTL_MS: '0' }),
  );
}

/** A raw keep-alive connection that parses the HTTP/1.1 responses coming back on it, in order. */
async function openConnection(port: number) {
  const socket: Socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.on('error', () => {});
  const responses: RawResponse[] = [];
  let buffered = Buffer.alloc(0);
  let isClosed = false;
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    for (;;) {
      const headEnd = buffered.indexOf('\r\n\r\n');
      if (headEnd < 0) return;
      const [statusLine = '', ...headerLines] = buffered
        .subarray(0, headEnd)
        .toString('latin1')
        .split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of headerLines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      const length = Number(headers['content-length'] ?? 0);
      if (buffered.length < headEnd + 4 + length) return;
      const body = buffered.subarray(headEnd + 4, headEnd + 4 + length).toString('utf8');
      buffered = buffered.subarray(headEnd + 4 + length);
      responses.push({ status: Number(statusLine.split(' ')[1]), headers, body });
    }
  });
  const closed = new Promise<void>((resolve) =>
    socket.once('close', () => {
      isClosed = true;
      resolve();
    }),
  );
  return {
    socket,
    responses,
    closed,
    isClosed: () => isClosed,
    send(method: string, path: string, headers: Record<string, string> = {}): void {
      const lines = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1'];
      for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    },
    async waitForResponses(count: number): Promise<RawResponse[]> {
      await waitUntil(() => responses.length >= count || isClosed, `${count} responses`);
      return responses;
    },
  };
}

type Connection = Awaited<ReturnType<typeof openConnection>>;

/**
 * Each test has its own process, held upstream and connection, so the tests run concurrently. The upstream
 * holds every call until the test releases it: "in flight when the signal comes" never depends on how
 * fast a loaded machine delivers the signal.
 */
const it = itWithProcesses.extend<{
  /** Starts the server with this grace period, against `held`, and opens a keep-alive connection to it. */
  serve: (shutdownGraceMs: number) => Promise<{ server: ServerProcess; connection: Connection }>;
}>({
  serve: async ({ processes, held }, use) => {
    const sockets: Socket[] = [];
    try {
      await use(async (shutdownGraceMs) => {
        const server = await startServer(processes, held.url, shutdownGraceMs);
        const connection = await openConnection(server.port);
        sockets.push(connection.socket);
        return { server, connection };
      });
    } finally {
      for (const socket of sockets) socket.destroy();
    }
  },
});

/** Long enough that only a broken rule makes a test wait for it to run out. */
const LONG_GRACE_MS = 3 * WAIT_LIMIT_MS;

const isGraceOverLine = (line: LogLine) => String(line.msg).includes('grace period over');

describe.concurrent('Shutdown — SIGTERM', { timeout: PROCESS_TEST_TIMEOUT_MS }, () => {
  it('lets an in-flight request finish with 200, answers /readyz 503 on a still-open connection, then exits 0', async ({
    serve,
    held,
    expect,
  }) => {
    const { server, connection } = await serve(LONG_GRACE_MS);
    connection.send('GET', '/v3/batches', { Authorization: `Bearer ${signToken()}` });
    await held.arrivals(1);

    server.child.kill('SIGTERM');
    await server.waitForLine((line) => line.msg === 'shutting down');
    const answeredBeforeSignal = connection.responses.length;
    // Pipelined behind the in-flight request, so the connection is busy (not idle) when /readyz arrives.
    connection.send('GET', '/readyz');
    held.release();
    const [batches, readyz] = await connection.waitForResponses(2);
    const exit = await server.exited;

    expect(answeredBeforeSignal).toBe(0);
    expect(batches?.status).toBe(200);
    expect(JSON.parse(batches?.body ?? '{}')).toHaveProperty('data');
    expect(readyz?.status).toBe(503);
    expect(readyz?.headers['content-type']).toBe('application/problem+json');
    const problem = JSON.parse(readyz?.body ?? '{}') as Record<string, unknown>;
    expect(problem.status).toBe(503);
    expect(typeof problem.code).toBe('string');
    expect(exit).toEqual({ code: 0, signal: null });
    const audit = server.lines.filter((line) => line.audit === true);
    expect(audit).toEqual([expect.objectContaining({ status: 200, upstream_status: 200 })]);
    expect(server.lines.some(isGraceOverLine)).toBe(false);
  });

  it('closes idle keep-alive connections promptly and exits 0 well within the grace period', async ({
    serve,
    expect,
  }) => {
    const { server, connection } = await serve(LONG_GRACE_MS);
    connection.send('GET', '/healthz');
    const [health] = await connection.waitForResponses(1);
    expect(health?.status).toBe(200);
    expect(health?.headers.connection).not.toBe('close');

    server.child.kill('SIGTERM');
    // Far below the grace period, far above what a loaded machine needs: waiting out the grace fails.
    const isClosedPromptly = await settlesWithin(connection.closed, WAIT_LIMIT_MS);
    const hasExitedPromptly = await settlesWithin(server.exited, WAIT_LIMIT_MS);

    expect(isClosedPromptly).toBe(true);
    expect(hasExitedPromptly).toBe(true);
    expect(await server.exited).toEqual({ code: 0, signal: null });
    expect(server.lines.map((line) => line.msg)).toContain('shut down');
    expect(connection.responses).toHaveLength(1);
    expect(server.lines.some(isGraceOverLine)).toBe(false);
  });

  it('when the grace period runs out, closes the remaining connection, logs how many, and still exits 0', async ({
    serve,
    held,
    expect,
  }) => {
    const { server, connection } = await startWithRequestStuckUpstream(serve, held, 200);

    server.child.kill('SIGTERM');
    await connection.closed;
    const exit = await server.exited;

    expect(connection.responses).toHaveLength(0);
    expect(exit).toEqual({ code: 0, signal: null });
    expectClosedAtGraceOver(server.lines);
    expect(server.stderr()).toBe('');
  });

  it('a second SIGTERM is not ignored: it ends the grace period at once, with the same 499 lines, and exits 0', async ({
    serve,
    held,
    expect,
  }) => {
    const { server, connection } = await startWithRequestStuckUpstream(serve, held, LONG_GRACE_MS);

    server.child.kill('SIGTERM');
    await server.waitForLine((line) => line.msg === 'shutting down');
    server.child.kill('SIGTERM');
    const isClosedPromptly = await settlesWithin(connection.closed, WAIT_LIMIT_MS);
    const exit = await server.exited;

    expect(isClosedPromptly).toBe(true);
    expect(exit).toEqual({ code: 0, signal: null });
    expectClosedAtGraceOver(server.lines);
  });
});

/** A server whose one request waits on an upstream that never answers. */
async function startWithRequestStuckUpstream(
  serve: (shutdownGraceMs: number) => Promise<{ server: ServerProcess; connection: Connection }>,
  held: HeldUpstream,
  shutdownGraceMs: number,
) {
  const { server, connection } = await serve(shutdownGraceMs);
  connection.send('GET', '/v3/batches', { Authorization: `Bearer ${signToken()}` });
  await held.arrivals(1);
  return { server, connection };
}

/** The count is logged, and the request cut short is an ordinary 499 (SPEC "Request IDs and audit log"), not an error. */
function expectClosedAtGraceOver(lines: LogLine[]): void {
  expect(lines.find(isGraceOverLine)).toMatchObject({ connections: 1 });
  expect(lines.filter((line) => line.audit === true)).toEqual([
    expect.objectContaining({ status: 499, code: 'client_closed_request', reason: 'shutdown_grace_over' }),
  ]);
  expect(lines.filter((line) => Number(line.level) >= 50)).toEqual([]);
}

describe.concurrent('Shutdown — SIGINT', { timeout: PROCESS_TEST_TIMEOUT_MS }, () => {
  it('behaves like SIGTERM: the in-flight request finishes with 200 and the process exits 0', async ({
    serve,
    held,
    expect,
  }) => {
    const { server, connection } = await serve(LONG_GRACE_MS);
    connection.send('GET', '/v3/batches', { Authorization: `Bearer ${signToken()}` });
    await held.arrivals(1);

    server.child.kill('SIGINT');
    const shuttingDown = await server.waitForLine((line) => line.msg === 'shutting down');
    held.release();
    const [batches] = await connection.waitForResponses(1);
    await connection.closed;
    const exit = await server.exited;

    expect(shuttingDown).toMatchObject({ signal: 'SIGINT' });
    expect(batches?.status).toBe(200);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(server.lines.map((line) => line.msg)).toContain('shut down');
  });
});
