// SPEC variables HTTP_HEADERS_TIMEOUT_MS and HTTP_KEEP_ALIVE_TIMEOUT_MS: a slowloris gets 408 and loses its connection; idle ones close on time.
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../src/server.js';
import { listenHarness, startHarness, type Harness } from './helpers/harness.js';
import { bearer } from './helpers/tokens.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** The smallest value config allows: the tests wait this long, never Node's defaults. */
const TIMEOUT_MS = 1000;
const GIVE_UP_MS = 10_000;

interface Started {
  h: Harness;
  running: RunningServer;
  port: number;
}

async function start(env: Record<string, string>): Promise<Started> {
  const h = await startHarness({ env });
  const running = await listenHarness(h);
  return { h, running, port: Number(new URL(running.url).port) };
}

async function stop({ h, running }: Started): Promise<void> {
  await new Promise<void>((resolve) => {
    running.server.close(() => resolve());
    running.server.closeAllConnections();
  });
  await h.close();
}

/** A raw connection that collects what comes back and notes when the server closed it. */
async function openConnection(port: number) {
  const socket: Socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.on('error', () => undefined);
  const openedAtMs = performance.now();
  let received = '';
  let closedAtMs: number | undefined;
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
  const closed = new Promise<number>((resolve) =>
    socket.once('close', () => {
      closedAtMs = performance.now();
      resolve(closedAtMs - openedAtMs);
    }),
  );
  return { socket, openedAtMs, closed, received: () => received, isClosed: () => closedAtMs !== undefined };
}

async function waitFor(isDone: () => boolean): Promise<void> {
  const giveUpAt = performance.now() + GIVE_UP_MS;
  while (!isDone() && performance.now() < giveUpAt) await new Promise((resolve) => setTimeout(resolve, 10));
}

function headOf(raw: string): { status: number; headers: Record<string, string>; body: string } {
  const headEnd = raw.indexOf('\r\n\r\n');
  const [statusLine = '', ...lines] = raw.slice(0, headEnd).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body: raw.slice(headEnd + 4) };
}

const countResponses = (raw: string) => raw.split('HTTP/1.1 ').length - 1;

/** The id of the one request a side-by-side test below completes on the same server. */
const COMPLETED_IN_TIME_ID = 'headers-completed-in-time';

// Each test waits on the clock, not the CPU: they run side by side.
describe.concurrent('server timeouts', () => {
  describe('HTTP_HEADERS_TIMEOUT_MS', () => {
    let s: Started;
    beforeAll(async () => {
      s = await start({ HTTP_HEADERS_TIMEOUT_MS: String(TIMEOUT_MS) });
    });
    afterAll(() => stop(s));

    it('a client dribbling header lines gets 408 request_timeout problem+json and its connection closed, and no audit line, while an idle keep-alive connection stays', async () => {
      const auditLinesHere = () =>
        s.h.logs.auditLines().filter((record) => record.request_id !== COMPLETED_IN_TIME_ID);
      const auditedBefore = auditLinesHere().length;
      const idle = await openConnection(s.port);
      idle.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      await waitFor(() => countResponses(idle.received()) === 1);

      const slow = await openConnection(s.port);
      slow.socket.write('GET /v3/batches HTTP/1.1\r\nHost: x\r\n');
      let line = 0;
      const drip = setInterval(() => slow.socket.write(`X-Drip-${(line += 1)}: 1\r\n`), 100);
      const closedAfterMs = await Promise.race([
        slow.closed,
        new Promise<number>((resolve) => setTimeout(() => resolve(Infinity), GIVE_UP_MS)),
      ]);
      clearInterval(drip);

      expect(closedAfterMs).toBeGreaterThanOrEqual(TIMEOUT_MS * 0.9);
      // Node's defaults (60 s, checked every 30 s) would still be waiting.
      expect(closedAfterMs).toBeLessThan(TIMEOUT_MS + 4000);
      const answer = headOf(slow.received());
      expect(answer.status).toBe(408);
      expect(answer.headers['content-type']).toBe('application/problem+json');
      expect(answer.headers.connection).toBe('close');
      expect(answer.headers['x-request-id']).toMatch(UUID);
      const problem = JSON.parse(answer.body) as Record<string, unknown>;
      expect(problem).toMatchObject({ status: 408, code: 'request_timeout' });
      expect(problem.request_id).toBe(answer.headers['x-request-id']);
      // SPEC "Anything else": a request the server answers before it was parsed produces no audit line.
      expect(auditLinesHere()).toHaveLength(auditedBefore);
      expect(s.h.logs.auditLines().map((record) => record.request_id)).not.toContain(problem.request_id);

      // An idle keep-alive connection is governed by the keep-alive timeout, not the headers timeout.
      expect(idle.isClosed()).toBe(false);
      idle.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      await waitFor(() => countResponses(idle.received()) === 2);
      expect(idle.received()).toMatch(/HTTP\/1\.1 200 OK[\s\S]*HTTP\/1\.1 200 OK/);
      idle.socket.destroy();
    });

    it('headers that arrive slowly but complete within the timeout are answered as usual', async () => {
      const client = await openConnection(s.port);
      client.socket.write('GET /v3/batches?limit=2 HTTP/1.1\r\nHost: x\r\n');
      for (const header of ['X-A: 1', 'X-B: 2', `Authorization: ${bearer()}`]) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        client.socket.write(`${header}\r\n`);
      }
      client.socket.write(`X-Request-ID: ${COMPLETED_IN_TIME_ID}\r\nConnection: close\r\n\r\n`);
      await client.closed;
      expect(headOf(client.received()).status).toBe(200);
    });
  });

  describe('HTTP_KEEP_ALIVE_TIMEOUT_MS', () => {
    it('is 65 s by default, announced in Keep-Alive', async () => {
      const s = await start({});
      try {
        const client = await openConnection(s.port);
        client.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
        await waitFor(() => countResponses(client.received()) === 1);
        expect(headOf(client.received()).headers['keep-alive']).toBe('timeout=65');
        client.socket.destroy();
      } finally {
        await stop(s);
      }
    });

    it('closes an idle keep-alive connection once the configured time has passed', async () => {
      const s = await start({ HTTP_KEEP_ALIVE_TIMEOUT_MS: String(TIMEOUT_MS) });
      try {
        const client = await openConnection(s.port);
        client.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
        await waitFor(() => countResponses(client.received()) === 1);
        const answeredAtMs = performance.now();
        expect(headOf(client.received()).headers['keep-alive']).toBe('timeout=1');

        await client.closed;
        const idleMs = performance.now() - answeredAtMs;
        expect(idleMs).toBeGreaterThanOrEqual(TIMEOUT_MS * 0.9);
        // Node's default (5 s, plus its 1 s grace for the client) would still be waiting.
        expect(idleMs).toBeLessThan(4500);
      } finally {
        await stop(s);
      }
    });
  });
});
