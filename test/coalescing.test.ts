// SPEC "Caching and coalescing": concurrent identical requests share one upstream call; cache lookup metrics.
import {
  createServer,
  request as httpRequest,
  type ClientRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunningServer } from '../src/server.js';
import { auditOf } from './helpers/audit-lines.js';
import { listenHarness, startHarness, type Harness, type HarnessOptions } from './helpers/harness.js';
import { bearer, signToken } from './helpers/tokens.js';

const MISS = 'ntropy-bff; fwd=uri-miss; fwd-status=200';
const MISS_STORED = `${MISS}; stored`;

/**
 * A real HTTP hop between the proxy and the simulated Ntropy that holds every request until `open()`,
 * so that "concurrent" never depends on how fast a loaded machine delivers the requests.
 */
interface UpstreamGate {
  url: string;
  /** Requests that reached the gate. */
  arrived: number;
  /** Upstream connections the proxy has closed. */
  socketsClosed: number;
  target: string;
  open(): void;
  close(): Promise<void>;
}

const FORWARDED_REQUEST_HEADERS = ['x-api-key', 'accept', 'user-agent', 'x-request-id'];
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding']);

async function startUpstreamGate(): Promise<UpstreamGate> {
  const held: [IncomingMessage, ServerResponse][] = [];
  let isOpen = false;

  async function forward(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (res.destroyed) return;
    const headers: Record<string, string> = {};
    for (const name of FORWARDED_REQUEST_HEADERS) {
      const value = req.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    const answer = await fetch(`${gate.target}${req.url ?? ''}`, { headers });
    const body = Buffer.from(await answer.arrayBuffer());
    const answerHeaders = [...answer.headers].filter(([name]) => !HOP_BY_HOP.has(name));
    if (!res.destroyed) res.writeHead(answer.status, Object.fromEntries(answerHeaders)).end(body);
  }

  // An upstream that fails mid-call (a hung answer cut at close) ends the proxy's call too.
  const pass = (req: IncomingMessage, res: ServerResponse) => {
    forward(req, res).catch(() => res.destroy());
  };

  const server = createServer((req, res) => {
    gate.arrived += 1;
    req.socket.once('close', () => (gate.socketsClosed += 1));
    if (isOpen) pass(req, res);
    else held.push([req, res]);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const gate: UpstreamGate = {
    url: `http://127.0.0.1:${port}`,
    arrived: 0,
    socketsClosed: 0,
    target: '',
    open() {
      isOpen = true;
      for (const [req, res] of held.splice(0)) pass(req, res);
    },
    close: () => closeServer(server),
  };
  return gate;
}

async function closeServer(server: Server): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  await closed;
}

interface GatedHarness {
  h: Harness;
  gate: UpstreamGate;
}

/** A fresh harness (empty cache, no flights) whose upstream calls pass the gate, for every test. */
function useGatedHarness(options: HarnessOptions = {}): () => GatedHarness {
  let current: GatedHarness | undefined;
  beforeEach(async () => {
    const gate = await startUpstreamGate();
    const h = await startHarness({ ...options, env: { ...options.env, NTROPY_BASE_URL: gate.url } });
    gate.target = h.upstream.url;
    current = { h, gate };
  });
  afterEach(async () => {
    await current?.h.close();
    await current?.gate.close();
    current = undefined;
  });
  return () => {
    if (current === undefined) throw new Error('harness not started');
    return current;
  };
}

function get(h: Harness, target = '', token: string = signToken()) {
  return h.request.get(`/v3/batches${target}`).set('Authorization', bearer(token));
}

/** Requests waiting on an upstream call, from /metrics: each has looked the page up and joined a call. */
async function waitingRequests(h: Harness): Promise<number> {
  const text = await h.service.metrics.registry.metrics();
  return Number(/^ntropy_bff_upstream_waiting_requests (\d+)$/m.exec(text)?.[1] ?? NaN);
}

function readLookups(metricsText: string, result: 'hit' | 'miss'): number {
  const line = new RegExp(`^ntropy_bff_cache_lookups_total\\{result="${result}"\\} (\\d+)$`, 'm');
  return Number(line.exec(metricsText)?.[1] ?? 0);
}

async function waitUntil(condition: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const giveUpAt = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > giveUpAt) throw new Error('condition not met in time');
    await sleep(5);
  }
}

/** Sends `count` identical requests, waits until every one waits on the upstream call, then opens the gate. */
async function sendTogether(harness: GatedHarness, count: number, target = '') {
  const { h, gate } = harness;
  const token = signToken();
  const responses = Promise.all(Array.from({ length: count }, () => get(h, target, token)));
  await waitUntil(async () => (await waitingRequests(h)) === count);
  expect(gate.arrived).toBe(1);
  gate.open();
  return responses;
}

interface RawResponse {
  status: number;
  body: string;
}

/** A GET on its own socket, so that destroying it disconnects exactly one client. */
function rawGet(url: string, target = ''): { client: ClientRequest; response: Promise<RawResponse> } {
  const client = httpRequest(`${url}/v3/batches${target}`, {
    agent: false,
    headers: { authorization: bearer() },
  });
  const response = new Promise<RawResponse>((resolve, reject) => {
    client.once('error', reject);
    client.once('response', (res: IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.once('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.once('error', reject);
    });
  });
  response.catch(() => undefined);
  client.end();
  return { client, response };
}

function clientsGone(h: Harness): number {
  return h.logs.auditLines().filter((line) => line.code === 'client_closed_request').length;
}

function countCacheStatuses(responses: { headers: Record<string, string> }[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const res of responses) {
    const value = res.headers['cache-status'] ?? '(none)';
    counts.set(value, (counts.get(value) ?? 0) + 1);
  }
  return counts;
}

describe('GET /v3/batches — coalescing identical requests', () => {
  const harness = useGatedHarness();

  it('serves 30 concurrent identical requests from exactly one upstream call', async () => {
    const gated = harness();
    const { h } = gated;
    h.upstream.enqueue({ headers: { 'x-request-id': 'up-shared' } });

    const responses = await sendTogether(gated, 30, '?status=completed');

    expect(h.upstream.received).toHaveLength(1);
    expect(responses.map((res) => res.status)).toEqual(Array(30).fill(200));
    expect(new Set(responses.map((res) => res.text)).size).toBe(1);
    expect(responses.map((res) => res.headers['x-cache'])).toEqual(Array(30).fill('MISS'));
    expect(responses.map((res) => res.headers['x-upstream-request-id'])).toEqual(Array(30).fill('up-shared'));
    expect(countCacheStatuses(responses)).toEqual(
      new Map([
        [MISS_STORED, 1],
        [`${MISS_STORED}; collapsed`, 29],
      ]),
    );
    // The call carries the id of the request that started it: the one that did not join.
    const starter = responses.find((res) => res.headers['cache-status'] === MISS_STORED);
    expect(h.upstream.received[0]?.headers['x-request-id']).toBe(starter?.headers['x-request-id']);
  });

  it('delivers an upstream error to every waiter, and never caches it', async () => {
    const gated = harness();
    const { h } = gated;
    h.upstream.enqueue({ status: 500, headers: { 'x-request-id': 'up-broken' } });

    const failed = await sendTogether(gated, 10);
    const next = await get(h);

    expect(failed.map((res) => res.status)).toEqual(Array(10).fill(502));
    const problems = failed.map((res) => res.body as { code?: string; upstream_request_id?: string });
    expect(problems.map((problem) => problem.code)).toEqual(Array(10).fill('upstream_error'));
    expect(problems.map((problem) => problem.upstream_request_id)).toEqual(Array(10).fill('up-broken'));
    expect(countCacheStatuses(failed)).toEqual(
      new Map([
        ['ntropy-bff; fwd=uri-miss; fwd-status=500', 1],
        ['ntropy-bff; fwd=uri-miss; fwd-status=500; collapsed', 9],
      ]),
    );
    expect(next.status).toBe(200);
    expect(next.headers['cache-status']).toBe(MISS_STORED);
    expect(h.upstream.received).toHaveLength(2);
    // One failed call, one warning: not one per waiter.
    const warnings = h.logs.records().filter((record) => record.msg === 'upstream call failed');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ level: 40, code: 'upstream_error', upstream_status: 500 });
  });

  it('does not coalesce distinct queries, even while they are all in flight', async () => {
    const { h, gate } = harness();
    const targets = ['?limit=5', '?limit=6', '?status=completed', '?status=error'];

    const pending = Promise.all(targets.map((target) => get(h, target)));
    await waitUntil(() => gate.arrived === targets.length);
    gate.open();
    const responses = await pending;

    expect(h.upstream.received).toHaveLength(targets.length);
    expect(responses.map((res) => res.headers['cache-status'])).toEqual(targets.map(() => MISS_STORED));
  });
});

describe('GET /v3/batches — coalescing with CACHE_TTL_MS=0', () => {
  const harness = useGatedHarness({ env: { CACHE_TTL_MS: '0' } });

  it('still serves 30 concurrent identical requests from one upstream call, storing nothing', async () => {
    const gated = harness();
    const { h } = gated;

    const responses = await sendTogether(gated, 30);
    const after = await get(h);

    expect(responses.map((res) => res.status)).toEqual(Array(30).fill(200));
    expect(new Set(responses.map((res) => res.text)).size).toBe(1);
    expect(countCacheStatuses(responses)).toEqual(
      new Map([
        [MISS, 1],
        [`${MISS}; collapsed`, 29],
      ]),
    );
    expect(after.headers['cache-status']).toBe(MISS);
    expect(h.upstream.received).toHaveLength(2);
  });
});

describe('GET /v3/batches — coalesced waiters that disconnect', () => {
  const harness = useGatedHarness({ env: { REQUEST_DEADLINE_MS: '3000' } });
  let running: RunningServer | undefined;
  afterEach(async () => {
    if (running) await closeServer(running.server);
    running = undefined;
  });

  it('keeps serving the other waiters when one of them disconnects', async () => {
    const { h, gate } = harness();
    running = await listenHarness(h);
    const url = running.url;

    const [leaver, ...stayers] = [rawGet(url), rawGet(url), rawGet(url)];
    await waitUntil(async () => (await waitingRequests(h)) === 3);
    leaver?.client.destroy();
    await waitUntil(() => clientsGone(h) === 1);
    gate.open();

    const answers = await Promise.all(stayers.map((request) => request.response));
    expect(answers.map((answer) => answer.status)).toEqual([200, 200]);
    expect(answers[0]?.body).toBe(answers[1]?.body);
    expect(h.upstream.received).toHaveLength(1);
    // The call went on for the others, so its page was stored.
    const next = await get(h);
    expect(next.headers['x-cache']).toBe('HIT');
    expect(h.upstream.received).toHaveLength(1);
  });

  it('cancels the upstream call, closing its connection, only once every waiter has disconnected', async () => {
    const { h, gate } = harness();
    running = await listenHarness(h);
    const waiters = [rawGet(running.url), rawGet(running.url)];
    await waitUntil(async () => (await waitingRequests(h)) === 2);

    waiters[0]?.client.destroy();
    await waitUntil(() => clientsGone(h) === 1);
    await sleep(50);
    expect(gate.socketsClosed).toBe(0);

    waiters[1]?.client.destroy();
    await waitUntil(() => gate.socketsClosed === 1);
    expect(gate.arrived).toBe(1);
  });

  it('starts a fresh upstream call for the next request once the abandoned one was cancelled', async () => {
    const { h, gate } = harness();
    running = await listenHarness(h);
    gate.open();
    h.upstream.enqueue({ hang: true }, { headers: { 'x-request-id': 'up-fresh' } });
    const gone = rawGet(running.url);
    await waitUntil(() => h.upstream.received.length === 1);

    gone.client.destroy();
    await waitUntil(() => clientsGone(h) === 1 && gate.socketsClosed === 1);
    const fresh = await get(h);

    expect(h.upstream.received).toHaveLength(2);
    expect(fresh.status).toBe(200);
    expect(fresh.headers['x-cache']).toBe('MISS');
    expect(fresh.headers['cache-status']).toBe(MISS_STORED);
    expect(fresh.headers['x-upstream-request-id']).toBe('up-fresh');
  });
});

describe('GET /v3/batches — each coalesced waiter keeps its own deadline', () => {
  const harness = useGatedHarness({ env: { REQUEST_DEADLINE_MS: '1000', CACHE_TTL_MS: '0' } });

  it('lets a late joiner have the page after the first caller’s deadline has cut that caller alone', async () => {
    const { h, gate } = harness();
    h.upstream.enqueue({ headers: { 'x-request-id': 'up-late' } });
    const first = get(h).then((res) => res);
    await waitUntil(() => gate.arrived === 1);
    // The joiner's deadline comes at least this much after the first caller's.
    await sleep(400);
    const late = get(h).then((res) => res);

    const cut = await first;
    expect(cut.status).toBe(504);
    expect(cut.body).toMatchObject({ code: 'upstream_timeout' });
    // The one call goes on for the joiner: its connection is still open when the page comes.
    expect(gate.socketsClosed).toBe(0);
    gate.open();
    const served = await late;

    expect(served.status).toBe(200);
    expect(served.headers['x-upstream-request-id']).toBe('up-late');
    expect(served.headers['cache-status']).toBe(`${MISS}; collapsed`);
    expect(gate.arrived).toBe(1);
    expect(h.upstream.received).toHaveLength(1);
    const lines = h.logs.auditLines();
    expect(lines.map((line) => [line.status, line.upstream_attempts])).toEqual([
      [504, 1],
      [200, 1],
    ]);
  });
});

describe('GET /v3/batches — a wait the shared call begins', () => {
  let offsetMs = 0;
  const harness = useGatedHarness({
    env: { REQUEST_DEADLINE_MS: '10000', CACHE_TTL_MS: '0' },
    now: () => Date.now() + offsetMs,
    random: () => 0,
  });
  beforeEach(() => {
    offsetMs = 0;
  });

  it('answers at once the waiters whose deadline comes first, with the last attempt’s row; the others wait', async () => {
    const { h, gate } = harness();
    h.upstream.enqueue({ status: 503, headers: { 'retry-after': '1', 'x-request-id': 'up-503' } });
    const early = get(h).then((res) => res);
    await waitUntil(() => gate.arrived === 1);
    // The clock jumps to 0.5 s before the early one's deadline, and a late waiter joins (its deadline 10 s on).
    offsetMs = 9_500;
    const late = get(h).then((res) => res);
    await waitUntil(async () => (await waitingRequests(h)) === 2);
    gate.open();

    const answered = await early;
    expect(answered.status).toBe(502);
    expect(answered.body).toMatchObject({ code: 'upstream_error', upstream_status: 503 });
    expect(h.upstream.received).toHaveLength(1);
    const served = await late;
    expect(served.status).toBe(200);
    expect(h.upstream.received).toHaveLength(2);
    expect((await auditOf(h, answered)).upstream_waited_ms).toBe(0);
    expect((await auditOf(h, served)).upstream_waited_ms).toBeGreaterThan(0);
  });
});

describe('GET /metrics — cache lookups', () => {
  const harness = useGatedHarness();

  it('counts hits and misses as answered, collapsed waiters as misses, and rejected requests not at all', async () => {
    const gated = harness();
    const { h } = gated;

    const collapsed = await sendTogether(gated, 3, '?limit=5');
    const hits = [await get(h, '?limit=5'), await get(h, '?limit=5')];
    const otherMiss = await get(h, '?limit=6');
    const unauthenticated = await h.request.get('/v3/batches?limit=5');
    const invalid = await get(h, '?limit=5&limit=5');

    expect([unauthenticated.status, invalid.status]).toEqual([401, 400]);
    const answered = [...collapsed, ...hits, otherMiss].map((res) => res.headers['x-cache']);
    expect(answered).toEqual(['MISS', 'MISS', 'MISS', 'HIT', 'HIT', 'MISS']);
    const metrics = await h.request.get('/metrics');
    expect(metrics.status).toBe(200);
    expect(readLookups(metrics.text, 'hit')).toBe(2);
    expect(readLookups(metrics.text, 'miss')).toBe(4);
  });
});
