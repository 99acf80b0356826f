// SPEC "Endpoints" and "Anything else": health, readiness, metrics, 404/405, request targets, parser errors, headers.
import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import type { Test } from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RunningServer } from '../src/server.js';
import { auditLineOf } from './helpers/audit-lines.js';
import { listenHarness, startHarness, type Harness } from './helpers/harness.js';
import { requestsCounted } from './helpers/metrics.js';
import { bearer } from './helpers/tokens.js';

const ORIGIN = 'https://app.example.com';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

let h: Harness;
let running: RunningServer;
beforeAll(async () => {
  h = await startHarness({ env: { CACHE_TTL_MS: '0', CORS_ORIGINS: ORIGIN } });
  running = await listenHarness(h);
});
afterAll(async () => {
  await new Promise<void>((resolve) => {
    running.server.close(() => resolve());
    running.server.closeAllConnections();
  });
  await h.close();
});
beforeEach(() => h.upstream.reset());

/** Writes `text` as-is on a fresh TCP connection and reads until the server closes it. */
function sendRaw(text: string): Promise<RawResponse> {
  const { port } = new URL(running.url);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(Number(port), '127.0.0.1', () => socket.write(text));
    const finish = () => {
      clearTimeout(timer);
      const raw = Buffer.concat(chunks).toString('latin1');
      const headEnd = raw.indexOf('\r\n\r\n');
      if (headEnd === -1) return reject(new Error(`no complete response: ${JSON.stringify(raw)}`));
      const [statusLine = '', ...headerLines] = raw.slice(0, headEnd).split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of headerLines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: raw.slice(headEnd + 4) });
    };
    const timer = setTimeout(() => {
      socket.destroy();
      finish();
    }, 2000);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => undefined);
    socket.on('close', finish);
  });
}

function rawGet(target: string, method = 'GET', extraHeaders = ''): Promise<RawResponse> {
  return sendRaw(
    `${method} ${target} HTTP/1.1\r\nHost: localhost\r\n${extraHeaders}Connection: close\r\n\r\n`,
  );
}

function expectProblem(res: RawResponse, status: number, code: string): void {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toBe('application/problem+json');
  const body = JSON.parse(res.body) as { status?: number; code?: string; request_id?: string };
  expect(body.status).toBe(status);
  expect(body.code).toBe(code);
  expect(body.request_id).toBe(res.headers['x-request-id']);
}

describe('GET /healthz and /readyz', () => {
  it('/healthz answers 200 without a token', async () => {
    const res = await h.request.get('/healthz');
    expect(res.status).toBe(200);
  });

  it('/readyz answers 200 while serving, without a token', async () => {
    const res = await h.request.get('/readyz');
    expect(res.status).toBe(200);
  });

  describe('once shutdown has begun', () => {
    let closing: Harness;
    beforeAll(async () => {
      closing = await startHarness();
    });
    afterAll(() => closing.close());

    it('/readyz answers 503 problem+json while /healthz still answers 200', async () => {
      expect((await closing.request.get('/readyz')).status).toBe(200);
      closing.service.beginShutdown();
      const ready = await closing.request.get('/readyz');
      expect(ready.status).toBe(503);
      expect(ready.headers['content-type']).toBe('application/problem+json');
      const body = ready.body as { status?: number; request_id?: string; code?: string };
      expect(body.status).toBe(503);
      expect(typeof body.code).toBe('string');
      expect(body.request_id).toBe(ready.headers['x-request-id']);
      expect(ready.headers['cache-control']).toBe('private, no-store');
      expect((await closing.request.get('/healthz')).status).toBe(200);
    });
  });
});

describe('GET /metrics', () => {
  it('serves Prometheus text with every SPEC metric, without a token', async () => {
    await h.request.get('/v3/batches').set('Authorization', bearer());
    const res = await h.request.get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4(;|$)/);
    for (const name of [
      'ntropy_bff_http_requests_total',
      'ntropy_bff_http_request_duration_seconds',
      'ntropy_bff_cache_lookups_total',
      'ntropy_bff_upstream_attempts_total',
      'ntropy_bff_upstream_retries_total',
      'ntropy_bff_upstream_rate_limit_waits_total',
    ]) {
      expect(res.text).toContain(`# TYPE ${name} `);
    }
    expect(res.text).toContain('# TYPE ntropy_bff_http_request_duration_seconds histogram');
    expect(res.text).toMatch(/^ntropy_bff_http_request_duration_seconds_bucket\{.*le="\+Inf".*\} \d+$/m);
    expect(res.text).toMatch(
      /^ntropy_bff_http_requests_total\{.*route="\/v3\/batches".*status="200".*\} \d+$/m,
    );
  });

  it('labels requests by route template, never by raw URL', async () => {
    const pathNoise = randomUUID().replaceAll('-', '');
    const cursorNoise = randomUUID().replaceAll('-', '');
    const queryNoise = randomUUID().replaceAll('-', '');
    expect((await h.request.get(`/nope/${pathNoise}`)).status).toBe(404);
    await h.request.get(`/v3/batches?cursor=${cursorNoise}`).set('Authorization', bearer());
    await h.request.get(`/v3/batches?${queryNoise}=1`).set('Authorization', bearer());
    await h.request.post(`/healthz?x=${queryNoise}`);
    const metrics = (await h.request.get('/metrics')).text;
    expect(metrics).not.toContain(pathNoise);
    expect(metrics).not.toContain(cursorNoise);
    expect(metrics).not.toContain(queryNoise);
    expect(metrics).not.toContain('/nope');
    const routes = new Set([...metrics.matchAll(/route="([^"]*)"/g)].map((m) => m[1]));
    for (const route of routes) expect(route!.length).toBeLessThan(40);
  });
});

describe('Anything else — 404 and 405', () => {
  it.each([
    '/nope',
    '/v3',
    '/v3/batches/123',
    '/v3/batches/',
    '/V3/BATCHES',
    '/v3/Batches',
    '/v3/%62atches',
    '/v3/batches;x',
    '/healthz/',
  ])('%s is 404 not_found problem+json', async (path) => {
    const res = await h.request.get(path).set('Authorization', bearer());
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect((res.body as { code?: string }).code).toBe('not_found');
    expect(h.upstream.received).toHaveLength(0);
  });

  it.each(
    ['/v3/batches', '/healthz', '/readyz', '/metrics'].flatMap((path) =>
      ['post', 'put', 'delete', 'patch'].map((method) => [method.toUpperCase(), path] as const),
    ),
  )('%s %s is 405 method_not_allowed with Allow: GET, HEAD', async (method, path) => {
    const res = await h.request[method.toLowerCase() as 'post' | 'put' | 'delete' | 'patch'](path).set(
      'Authorization',
      bearer(),
    );
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('GET, HEAD');
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect((res.body as { code?: string }).code).toBe('method_not_allowed');
    expect(h.upstream.received).toHaveLength(0);
  });

  it('OPTIONS /v3/batches without preflight headers is 405 with Allow: GET, HEAD', async () => {
    const res = await h.request.options('/v3/batches');
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('GET, HEAD');
  });
});

describe('HEAD /v3/batches', () => {
  const comparedHeaders = [
    'content-type',
    'content-length',
    'cache-control',
    'x-cache',
    'cache-status',
    'www-authenticate',
    'x-content-type-options',
  ];

  it.each<[string, string, boolean, number]>([
    ['200', '/v3/batches?limit=3', true, 200],
    ['400', '/v3/batches?limit=0', true, 400],
    ['401', '/v3/batches', false, 401],
  ])('behaves as GET without a body (%s)', async (_case, path, isAuthenticated, status) => {
    const withAuth = (test: Test) => (isAuthenticated ? test.set('Authorization', bearer()) : test);
    const get = await withAuth(h.request.get(path));
    const head = await withAuth(h.request.head(path));
    expect(get.status).toBe(status);
    expect(head.status).toBe(status);
    for (const name of comparedHeaders) expect(head.headers[name], name).toBe(get.headers[name]);
    expect(head.headers['x-request-id']).toMatch(UUID);
    expect(head.text ?? '').toBe('');
    expect(get.text.length).toBeGreaterThan(0);
  });

  it('sends no body bytes on the wire and still calls upstream as GET', async () => {
    const res = await rawGet('/v3/batches?limit=2', 'HEAD', `Authorization: ${bearer()}\r\n`);
    expect(res.status).toBe(200);
    expect(res.body).toBe('');
    expect(Number(res.headers['content-length'])).toBeGreaterThan(0);
    expect(h.upstream.received.map((r) => r.method)).toEqual(['GET']);
  });
});

describe('Anything else — request targets that are not plain paths', () => {
  it.each([
    '//v3/batches',
    '/v3/./batches',
    '/v3/../v3/batches',
    '/v3/%2e%2e/batches',
    '/v3/%2E/batches',
    '/v3/batches?cursor=%zz',
    '/%E0%A4%A',
    '/v3/batches%',
  ])('%s is a 4xx bad_request problem and sends nothing upstream', async (target) => {
    const res = await rawGet(target, 'GET', `Authorization: ${bearer()}\r\n`);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expectProblem(res, res.status, 'bad_request');
    expect(res.headers['cache-control']).toBe('private, no-store');
    expect(h.upstream.received).toHaveLength(0);
  });

  it('OPTIONS * is a 4xx bad_request problem', async () => {
    const res = await rawGet('*', 'OPTIONS');
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expectProblem(res, res.status, 'bad_request');
  });

  it('reads an absolute-form target as its path (RFC 9112 §3.2.2): routed, so 401 without a token', async () => {
    const res = await rawGet('http://example.com/v3/batches');
    expectProblem(res, 401, 'unauthorized');
  });

  it('serves an absolute-form target with a token like the origin-form one', async () => {
    const res = await rawGet(
      'http://example.com/v3/batches?limit=4',
      'GET',
      `Authorization: ${bearer()}\r\n`,
    );
    expect(res.status).toBe(200);
    expect(h.upstream.received).toHaveLength(1);
    expect(h.upstream.received[0]?.url).toBe('/v3/batches?limit=4');
  });
});

describe('Anything else — one reading of the target routes, audits and labels it', () => {
  let sequence = 0;
  const nextId = () => `target-${(sequence += 1)}`;

  it.each([
    ['http:///v3/batches?status=completed', 'bad_authority'],
    ['http://h:99999/v3/batches?limit=50', 'bad_authority'],
    ['http://a%zz/v3/batches', 'bad_authority'],
    ['/v3/batches?cursor=%zz', 'bad_percent_encoding'],
    ['/v3/batches#frag', 'fragment'],
  ])(
    '%s with a valid token: 400 bad_request, nothing upstream, one audit line and a /v3/batches count',
    async (target, reason) => {
      const countedBefore = await requestsCounted(h, { route: '/v3/batches', status: 400 });
      const id = nextId();
      const res = await rawGet(target, 'GET', `Authorization: ${bearer()}\r\nX-Request-ID: ${id}\r\n`);

      expectProblem(res, 400, 'bad_request');
      expect(h.upstream.received).toHaveLength(0);
      const line = await auditLineOf(h, id);
      expect(line).toMatchObject({ path: '/v3/batches', status: 400, code: 'bad_request', reason });
      expect(h.logs.auditLines().filter((record) => record.request_id === id)).toHaveLength(1);
      expect(await requestsCounted(h, { route: '/v3/batches', status: 400 })).toBe(countedBefore + 1);
    },
  );

  it.each([
    '/v3/batches?limit=4',
    'http://example.com/v3/batches?limit=4',
    'HTTP://H:8080/v3/batches?limit=4',
  ])('%s with a valid token is served, audited once and counted under /v3/batches', async (target) => {
    const countedBefore = await requestsCounted(h, { route: '/v3/batches', status: 200 });
    const id = nextId();
    const res = await rawGet(target, 'GET', `Authorization: ${bearer()}\r\nX-Request-ID: ${id}\r\n`);

    expect(res.status).toBe(200);
    expect(h.upstream.received.map((call) => call.url)).toEqual(['/v3/batches?limit=4']);
    expect(await auditLineOf(h, id)).toMatchObject({ path: '/v3/batches', status: 200, query: { limit: 4 } });
    expect(await requestsCounted(h, { route: '/v3/batches', status: 200 })).toBe(countedBefore + 1);
  });

  it('a refused target on another path is neither audited nor counted under /v3/batches', async () => {
    const countedBefore = await requestsCounted(h, { route: '/v3/batches', status: 400 });
    const auditedBefore = h.logs.auditLines().length;
    const res = await rawGet('http://h:99999/v3/other', 'GET', `Authorization: ${bearer()}\r\n`);

    expectProblem(res, 400, 'bad_request');
    expect(await requestsCounted(h, { route: '/v3/batches', status: 400 })).toBe(countedBefore);
    expect(h.logs.auditLines()).toHaveLength(auditedBefore);
  });
});

describe('Expect — only 100-continue is met', () => {
  it('Expect: foo on /v3/batches gets 417 expectation_failed problem+json with X-Request-ID, audited', async () => {
    const res = await rawGet(
      '/v3/batches?limit=3',
      'GET',
      `Authorization: ${bearer()}\r\nX-Request-ID: expect-foo-1\r\nExpect: foo\r\n`,
    );

    expectProblem(res, 417, 'expectation_failed');
    expect(res.headers['x-request-id']).toBe('expect-foo-1');
    expect(res.headers['cache-control']).toBe('private, no-store');
    expect(h.upstream.received).toHaveLength(0);
    expect(await auditLineOf(h, 'expect-foo-1')).toMatchObject({
      status: 417,
      code: 'expectation_failed',
      reason: 'unsupported_expectation',
    });
  });

  it('is checked before routing and authentication: an unknown path or a missing token still gets 417', async () => {
    expectProblem(await rawGet('/nope', 'GET', 'Expect: foo\r\n'), 417, 'expectation_failed');
    expectProblem(await rawGet('/v3/batches', 'GET', 'Expect: foo\r\n'), 417, 'expectation_failed');
  });

  it('Expect: 100-continue is met as usual: 100 Continue, then the page', async () => {
    const res = await sendRaw(
      `GET /v3/batches?limit=2 HTTP/1.1\r\nHost: x\r\nAuthorization: ${bearer()}\r\n` +
        'Expect: 100-continue\r\nConnection: close\r\n\r\n',
    );
    expect(res.status).toBe(100);
    expect(res.body).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
  });
});

describe('Anything else — requests the HTTP parser rejects', () => {
  it('a malformed request line gets 400 bad_request problem+json with a fresh request id and no audit line', async () => {
    const before = h.logs.auditLines().length;
    const res = await sendRaw('THIS IS NOT HTTP\r\n\r\n');
    expectProblem(res, 400, 'bad_request');
    expect(res.headers['x-request-id']).toMatch(UUID);
    expect(res.headers['cache-control']).toBe('private, no-store');
    const again = await sendRaw('GET /v3/batches HTTP/1.1 trailing-garbage\r\n\r\n');
    expectProblem(again, 400, 'bad_request');
    expect(again.headers['x-request-id']).toMatch(UUID);
    expect(again.headers['x-request-id']).not.toBe(res.headers['x-request-id']);
    expect(h.logs.auditLines()).toHaveLength(before);
  });

  it('headers over the limit get 431 headers_too_large problem+json and no audit line', async () => {
    const before = h.logs.auditLines().length;
    const res = await rawGet(
      '/v3/batches',
      'GET',
      `Authorization: ${bearer()}\r\nX-Big: ${'a'.repeat(20_000)}\r\n`,
    );
    expectProblem(res, 431, 'headers_too_large');
    expect(res.headers['x-request-id']).toMatch(UUID);
    expect(h.logs.auditLines()).toHaveLength(before);
    expect(h.upstream.received).toHaveLength(0);
  });

  it('a header with a client X-Request-ID does not lend its id to a rejected request', async () => {
    const res = await sendRaw(
      `GET /v3/batches HTTP/1.1\r\nX-Request-ID: client-id-9\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`,
    );
    expectProblem(res, 431, 'headers_too_large');
    expect(res.headers['x-request-id']).toMatch(UUID);
  });

  it.each([
    ['a NUL in the target', 'GET /v3/\0batches HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['a bad header name', 'GET /v3/batches HTTP/1.1\r\nBad Header: x\r\n\r\n'],
    ['a control character in a header value', 'GET /v3/batches HTTP/1.1\r\nX-A: \x01\x02\r\n\r\n'],
    ['an invalid Content-Length', 'GET /v3/batches HTTP/1.1\r\nContent-Length: -1\r\n\r\n'],
    [
      'conflicting Content-Length',
      'GET /v3/batches HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx',
    ],
    ['an unknown HTTP version', 'GET /v3/batches HTTP/9.9\r\n\r\n'],
    ['a huge target', `GET /v3/batches?cursor=${'c'.repeat(70_000)} HTTP/1.1\r\n\r\n`],
  ])('%s gets a 4xx problem and no audit line', async (_case, text) => {
    const before = h.logs.auditLines().length;
    const res = await sendRaw(text);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(h.logs.auditLines()).toHaveLength(before);
  });

  it('a malformed request pipelined behind one still being answered closes the connection rather than answer out of turn', async () => {
    h.upstream.enqueue({ delayMs: 300 });
    const { port } = new URL(running.url);
    const socket = connect(Number(port), '127.0.0.1');
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    socket.on('error', () => undefined);
    const closed = new Promise((resolve) => socket.once('close', resolve));
    socket.write(
      `GET /v3/batches?limit=6 HTTP/1.1\r\nHost: x\r\nAuthorization: ${bearer()}\r\n` +
        'X-Request-ID: answered-first\r\n\r\nTHIS IS NOT HTTP\r\n\r\n',
    );
    await closed;

    expect(received).toBe('');
    expect(await auditLineOf(h, 'answered-first')).toMatchObject({
      status: 499,
      code: 'client_closed_request',
      reason: 'bad_request',
    });
  });

  it('nothing of the above crashed the process: /healthz still answers 200, in-process and on the socket', async () => {
    expect((await h.request.get('/healthz')).status).toBe(200);
    const res = await rawGet('/healthz');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ status: 'ok' });
  });
});

describe('security headers on every response', () => {
  it.each<[string, () => Test]>([
    ['200 /healthz', () => h.request.get('/healthz')],
    ['200 /readyz', () => h.request.get('/readyz')],
    ['200 /metrics', () => h.request.get('/metrics')],
    ['200 /v3/batches', () => h.request.get('/v3/batches').set('Authorization', bearer())],
    ['HEAD /v3/batches', () => h.request.head('/v3/batches').set('Authorization', bearer())],
    ['400 /v3/batches', () => h.request.get('/v3/batches?limit=x').set('Authorization', bearer())],
    ['401 /v3/batches', () => h.request.get('/v3/batches')],
    ['404', () => h.request.get('/nope')],
    ['405', () => h.request.post('/v3/batches')],
    [
      '502 from upstream',
      () => {
        h.upstream.enqueue({ status: 500 });
        return h.request.get('/v3/batches?limit=5').set('Authorization', bearer());
      },
    ],
    [
      '204 CORS preflight',
      () =>
        h.request.options('/v3/batches').set('Origin', ORIGIN).set('Access-Control-Request-Method', 'GET'),
    ],
  ])('%s: no X-Powered-By, nosniff, Cache-Control: private, no-store', async (_case, send) => {
    const res = await send();
    expect(res.headers['x-powered-by']).toBeUndefined();
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['cache-control']).toBe('private, no-store');
  });

  it('a bad request target, answered before routing, carries them too', async () => {
    const res = await rawGet('/v3/../healthz');
    expect(res.headers['x-powered-by']).toBeUndefined();
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['cache-control']).toBe('private, no-store');
  });
});
