// SPEC "Request IDs and audit log": one audit line per /v3/batches request, its fields, 499s, and no secrets.
import { request as httpRequest } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Test } from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { auditLineOf, auditOf } from './helpers/audit-lines.js';
import { API_KEY, listenHarness, startHarness, type Harness } from './helpers/harness.js';
import { JWT_SECRET, bearer, signToken } from './helpers/tokens.js';

const SCOPE = 'batches:read';
const ORIGIN = 'https://app.example.com';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ env: { JWT_REQUIRED_SCOPE: SCOPE, CORS_ORIGINS: ORIGIN } });
});
afterAll(() => h.close());
beforeEach(() => h.upstream.reset());

let sequence = 0;
function nextId(): string {
  sequence += 1;
  return `audit-test-${sequence}`;
}

function scopedBearer(claims: Record<string, unknown> = {}): string {
  return bearer(signToken({ claims: { scope: SCOPE, ...claims } }));
}

function auditLinesOf(requestId: string): Record<string, unknown>[] {
  return h.logs.auditLines().filter((line) => line.request_id === requestId);
}

/** Sends with a fresh X-Request-ID and returns the response with the audit lines carrying that id. */
async function sendAudited(build: () => Test) {
  const id = nextId();
  const res = await build().set('X-Request-ID', id);
  expect(res.headers['x-request-id']).toBe(id);
  return { res, lines: auditLinesOf(id) };
}

describe('audit log — one line per /v3/batches request', () => {
  it.each<[string, () => Test, number]>([
    ['200 MISS', () => h.request.get('/v3/batches?limit=7').set('Authorization', scopedBearer()), 200],
    ['400 bad query', () => h.request.get('/v3/batches?limit=99').set('Authorization', scopedBearer()), 400],
    ['401 without a token', () => h.request.get('/v3/batches'), 401],
    [
      '401 with a bad token',
      () => h.request.get('/v3/batches').set('Authorization', bearer(signToken({ key: 'x'.repeat(40) }))),
      401,
    ],
    ['403 without the scope', () => h.request.get('/v3/batches').set('Authorization', bearer()), 403],
    ['405 POST', () => h.request.post('/v3/batches').set('Authorization', scopedBearer()), 405],
    ['405 PUT', () => h.request.put('/v3/batches'), 405],
    ['405 DELETE', () => h.request.delete('/v3/batches'), 405],
    ['405 OPTIONS without preflight headers', () => h.request.options('/v3/batches'), 405],
    [
      '405 OPTIONS with Origin but no Access-Control-Request-Method',
      () => h.request.options('/v3/batches').set('Origin', ORIGIN),
      405,
    ],
    ['HEAD', () => h.request.head('/v3/batches?limit=8').set('Authorization', scopedBearer()), 200],
  ])('%s writes exactly one audit line', async (_case, build, status) => {
    const before = h.logs.auditLines().length;
    const { res, lines } = await sendAudited(build);
    expect(res.status).toBe(status);
    expect(lines).toHaveLength(1);
    expect(lines[0]?.status).toBe(status);
    expect(h.logs.auditLines().length - before).toBe(1);
  });

  it('200 HIT writes exactly one audit line', async () => {
    await h.request.get('/v3/batches?limit=11').set('Authorization', scopedBearer());
    const { res, lines } = await sendAudited(() =>
      h.request.get('/v3/batches?limit=11').set('Authorization', scopedBearer()),
    );
    expect(res.headers['x-cache']).toBe('HIT');
    expect(lines).toHaveLength(1);
    expect(lines[0]?.cache).toBe('HIT');
  });

  it.each<[string, () => Test]>([
    ['/healthz', () => h.request.get('/healthz')],
    ['/readyz', () => h.request.get('/readyz')],
    ['/metrics', () => h.request.get('/metrics')],
    ['an unknown path', () => h.request.get('/v3/other')],
    ['a near miss of the path', () => h.request.get('/v3/batches/').set('Authorization', scopedBearer())],
    [
      'a CORS preflight',
      () =>
        h.request
          .options('/v3/batches')
          .set('Origin', ORIGIN)
          .set('Access-Control-Request-Method', 'GET')
          .set('Access-Control-Request-Headers', 'authorization'),
    ],
  ])('%s writes no audit line', async (_case, build) => {
    const before = h.logs.auditLines().length;
    const { res, lines } = await sendAudited(build);
    expect(res.status).toBeLessThan(500);
    expect(lines).toHaveLength(0);
    expect(h.logs.auditLines().length).toBe(before);
  });

  it('the CORS preflight above was answered as a preflight', async () => {
    const res = await h.request
      .options('/v3/batches')
      .set('Origin', ORIGIN)
      .set('Access-Control-Request-Method', 'GET');
    expect(res.status).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe(ORIGIN);
  });
});

describe('audit log — fields', () => {
  it('a 200 MISS records who, what, the canonical query, the cache and the upstream call', async () => {
    h.upstream.enqueue({ headers: { 'x-request-id': 'ntropy-req-miss-1' } });
    const token = signToken({ claims: { scope: SCOPE, client_id: 'web-app', azp: 'web-azp' } });
    const { res, lines } = await sendAudited(() =>
      h.request.get('/v3/batches?status=completed&limit=12').set('Authorization', bearer(token)),
    );
    expect(res.status).toBe(200);
    expect(res.headers['x-cache']).toBe('MISS');
    const line = lines[0]!;
    expect(line).toMatchObject({
      audit: true,
      sub: 'alice',
      client_id: 'web-app',
      azp: 'web-azp',
      method: 'GET',
      path: '/v3/batches',
      query: { limit: 12, status: 'completed' },
      status: 200,
      cache: 'MISS',
      upstream_status: 200,
      upstream_attempts: 1,
      upstream_request_id: 'ntropy-req-miss-1',
    });
    expect(line.request_id).toBe(res.headers['x-request-id']);
    expect(line).not.toHaveProperty('code');
    expect(typeof line.duration_ms).toBe('number');
    expect(line.duration_ms).toBeGreaterThanOrEqual(0);
  });

  it('records the validated query with its defaults, not the raw query string', async () => {
    const { lines } = await sendAudited(() =>
      h.request.get('/v3/batches?created_after=2026-01-02').set('Authorization', scopedBearer()),
    );
    expect(lines[0]?.query).toEqual({ limit: 10, created_after: '2026-01-02T00:00:00Z' });
    const { lines: bare } = await sendAudited(() =>
      h.request.get('/v3/batches').set('Authorization', scopedBearer()),
    );
    expect(bare[0]?.query).toEqual({ limit: 10 });
  });

  it('leaves client_id and azp out when the token has neither', async () => {
    const { lines } = await sendAudited(() =>
      h.request.get('/v3/batches?limit=13').set('Authorization', scopedBearer()),
    );
    expect(lines[0]?.sub).toBe('alice');
    expect(lines[0]).not.toHaveProperty('client_id');
    expect(lines[0]).not.toHaveProperty('azp');
  });

  it('a 200 HIT records cache HIT, no upstream attempt, and the upstream id of the cached page', async () => {
    h.upstream.enqueue({ headers: { 'x-request-id': 'ntropy-req-cached' } });
    await h.request.get('/v3/batches?limit=14').set('Authorization', scopedBearer());
    const { res, lines } = await sendAudited(() =>
      h.request.get('/v3/batches?limit=14').set('Authorization', scopedBearer({ sub: 'bob' })),
    );
    expect(res.headers['x-cache']).toBe('HIT');
    expect(h.upstream.received).toHaveLength(1);
    const line = lines[0]!;
    expect(line).toMatchObject({
      sub: 'bob',
      status: 200,
      cache: 'HIT',
      upstream_attempts: 0,
      upstream_request_id: 'ntropy-req-cached',
      query: { limit: 14 },
    });
    expect(line).toHaveProperty('upstream_status');
    expect(line).not.toHaveProperty('code');
  });

  it('an upstream error records the code, the last upstream status, attempts and upstream id', async () => {
    h.upstream.enqueue({ status: 500, headers: { 'x-request-id': 'ntropy-req-500' } });
    const { res, lines } = await sendAudited(() =>
      h.request.get('/v3/batches?limit=15').set('Authorization', scopedBearer()),
    );
    expect(res.status).toBe(502);
    expect(lines[0]).toMatchObject({
      status: 502,
      code: 'upstream_error',
      cache: 'MISS',
      upstream_status: 500,
      upstream_attempts: 1,
      upstream_request_id: 'ntropy-req-500',
      query: { limit: 15 },
    });
  });

  it('counts every upstream attempt when retries happened', async () => {
    h.upstream.enqueue({ status: 503 }, { status: 200, headers: { 'x-request-id': 'ntropy-req-after-503' } });
    const { res, lines } = await sendAudited(() =>
      h.request.get('/v3/batches?limit=16').set('Authorization', scopedBearer()),
    );
    expect(res.status).toBe(200);
    expect(h.upstream.received).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      upstream_status: 200,
      upstream_attempts: 2,
      upstream_request_id: 'ntropy-req-after-503',
    });
  });

  it.each<[string, () => Test, number, string, string | null, string]>([
    [
      '400',
      () => h.request.get('/v3/batches?limit=0').set('Authorization', scopedBearer()),
      400,
      'invalid_query',
      'alice',
      'limit',
    ],
    [
      '400 with several fields, an unknown name among them',
      () =>
        h.request.get('/v3/batches?limit=0&status=x&X-API-KEY=1&zz=2').set('Authorization', scopedBearer()),
      400,
      'invalid_query',
      'alice',
      'limit,status,unknown_parameter',
    ],
    ['401', () => h.request.get('/v3/batches'), 401, 'unauthorized', null, 'no_token'],
    [
      '403',
      () => h.request.get('/v3/batches').set('Authorization', bearer()),
      403,
      'forbidden',
      'alice',
      'insufficient_scope',
    ],
    ['405', () => h.request.put('/v3/batches'), 405, 'method_not_allowed', null, 'unsupported_method'],
  ])(
    'a %s records status, code and reason, and sends nothing upstream',
    async (_case, build, status, code, sub, reason) => {
      const { res, lines } = await sendAudited(build);
      const line = lines[0]!;
      expect(line.request_id).toBe(res.headers['x-request-id']);
      expect(line.status).toBe(status);
      expect(line.code).toBe(code);
      expect(line.reason).toBe(reason);
      expect(line.path).toBe('/v3/batches');
      expect(line.sub ?? null).toBe(sub);
      expect(line.upstream_attempts).toBe(0);
      expect(line.upstream_status ?? null).toBeNull();
      expect(line.upstream_request_id ?? null).toBeNull();
      expect(line.duration_ms).toBeGreaterThanOrEqual(0);
      expect(h.upstream.received).toHaveLength(0);
    },
  );

  it('records the method of HEAD and 405 requests as sent', async () => {
    const head = await sendAudited(() =>
      h.request.head('/v3/batches?limit=17').set('Authorization', scopedBearer()),
    );
    const del = await sendAudited(() => h.request.delete('/v3/batches'));
    expect(head.lines[0]).toMatchObject({ method: 'HEAD', status: 200, path: '/v3/batches' });
    expect(del.lines[0]).toMatchObject({ method: 'DELETE', status: 405, path: '/v3/batches' });
  });

  it('records a fresh UUID request_id when the client sent none, equal to the header', async () => {
    const before = h.logs.auditLines().length;
    const res = await h.request.get('/v3/batches?limit=18').set('Authorization', scopedBearer());
    const line = h.logs.auditLines()[before]!;
    expect(res.headers['x-request-id']).toMatch(UUID);
    expect(line.request_id).toBe(res.headers['x-request-id']);
  });

  it('binds no headers, req or res to the audit line', async () => {
    const { lines } = await sendAudited(() =>
      h.request
        .get('/v3/batches?limit=19')
        .set('Authorization', scopedBearer())
        .set('Cookie', 'session=s3cr3t')
        .set('User-Agent', 'test-agent'),
    );
    for (const key of ['headers', 'req', 'res', 'request', 'response']) {
      expect(lines[0]).not.toHaveProperty(key);
    }
  });
});

describe('audit log — client that leaves', () => {
  let slow: Harness;
  beforeAll(async () => {
    slow = await startHarness({ env: { JWT_REQUIRED_SCOPE: SCOPE } });
  });
  afterAll(() => slow.close());

  it('records 499 client_closed_request when the client leaves before the answer, and logs no error', async () => {
    const running = await listenHarness(slow);
    try {
      slow.upstream.enqueue({ delayMs: 400 });
      const { port } = new URL(running.url);
      const id = 'leaves-early-1';
      const req = httpRequest({
        host: '127.0.0.1',
        port,
        path: '/v3/batches?limit=20',
        headers: { Authorization: scopedBearer(), 'X-Request-ID': id },
      });
      req.on('error', () => undefined);
      req.end();
      for (let i = 0; i < 100 && slow.upstream.received.length === 0; i++) await sleep(5);
      expect(slow.upstream.received).toHaveLength(1);
      req.destroy();

      let lines: Record<string, unknown>[] = [];
      for (let i = 0; i < 100 && lines.length === 0; i++) {
        await sleep(10);
        lines = slow.logs.auditLines().filter((line) => line.request_id === id);
      }
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({
        audit: true,
        status: 499,
        code: 'client_closed_request',
        sub: 'alice',
        path: '/v3/batches',
        query: { limit: 20 },
        cache: 'MISS',
        reason: 'client_closed',
      });
      expect(lines[0]?.duration_ms).toBeGreaterThanOrEqual(0);
      // Once the upstream answer arrives (or not), no second line appears for the same request.
      await sleep(450);
      expect(slow.logs.auditLines().filter((line) => line.request_id === id)).toHaveLength(1);
      // SPEC: a disconnect is an ordinary outcome, not an error: no error line, no stack.
      const errorLines = slow.logs
        .records()
        .filter((line) => line.audit !== true && Number(line.level) >= 50);
      expect(errorLines).toEqual([]);
      expect(slow.logs.text()).not.toContain('"stack"');
    } finally {
      await new Promise<void>((resolve) => {
        running.server.close(() => resolve());
        running.server.closeAllConnections();
      });
    }
  });
});

describe('audit log — written at every LOG_LEVEL', () => {
  it.each(['silent', 'fatal', 'error', 'warn'])(
    'LOG_LEVEL=%s: a 200 and a 401 each write their audit line, and nothing else is written at info',
    async (level) => {
      const quiet = await startHarness({ env: { LOG_LEVEL: level } });
      try {
        const ok = await quiet.request
          .get('/v3/batches?limit=3')
          .set('Authorization', bearer())
          .set('X-Request-ID', `level-${level}-200`);
        const refused = await quiet.request.get('/v3/batches').set('X-Request-ID', `level-${level}-401`);

        expect([ok.status, refused.status]).toEqual([200, 401]);
        expect(await auditLineOf(quiet, `level-${level}-200`)).toMatchObject({ status: 200, cache: 'MISS' });
        expect(await auditLineOf(quiet, `level-${level}-401`)).toMatchObject({ status: 401 });
        const others = quiet.logs.records().filter((line) => line.audit !== true);
        expect(others.filter((line) => Number(line.level) < 40)).toEqual([]);
      } finally {
        await quiet.close();
      }
    },
  );
});

describe('audit log — client_ip', () => {
  const LOOPBACK = /^(::ffff:127\.0\.0\.1|127\.0\.0\.1|::1)$/;

  async function clientIpWith(env: Record<string, string>, forwardedFor: string | undefined) {
    const proxied = await startHarness({ env });
    try {
      const req = proxied.request.get('/v3/batches').set('Authorization', bearer());
      const res = await (forwardedFor === undefined ? req : req.set('X-Forwarded-For', forwardedFor));
      return (await auditOf(proxied, res)).client_ip;
    } finally {
      await proxied.close();
    }
  }

  it('is the socket peer without TRUST_PROXY, whatever X-Forwarded-For says', async () => {
    expect(await clientIpWith({}, undefined)).toMatch(LOOPBACK);
    expect(await clientIpWith({}, '203.0.113.7')).toMatch(LOOPBACK);
  });

  it.each([
    ['loopback', '198.51.100.1, 203.0.113.7', '203.0.113.7'],
    ['1', '198.51.100.1, 203.0.113.7', '203.0.113.7'],
    ['2', '198.51.100.1, 203.0.113.7', '198.51.100.1'],
    ['127.0.0.1/8,::1', '203.0.113.7', '203.0.113.7'],
  ])(
    "with TRUST_PROXY=%s and X-Forwarded-For %s it is Express's reading: %s",
    async (trustProxy, forwardedFor, expected) => {
      expect(await clientIpWith({ TRUST_PROXY: trustProxy }, forwardedFor)).toBe(expected);
    },
  );

  it('with TRUST_PROXY naming other addresses, a loopback peer is not trusted and stays the client', async () => {
    expect(await clientIpWith({ TRUST_PROXY: '10.0.0.0/8' }, '203.0.113.7')).toMatch(LOOPBACK);
  });
});

describe('audit log — the reason of a refusal at the edge', () => {
  it('a wrong method on /v3/batches records reason unsupported_method', async () => {
    const { lines } = await sendAudited(() => h.request.post('/v3/batches'));
    expect(lines[0]).toMatchObject({ status: 405, code: 'method_not_allowed', reason: 'unsupported_method' });
  });

  it('a 200 records no reason', async () => {
    const { lines } = await sendAudited(() =>
      h.request.get('/v3/batches?limit=21').set('Authorization', scopedBearer()),
    );
    expect(lines[0]?.status).toBe(200);
    expect(lines[0]).not.toHaveProperty('reason');
  });
});

describe('audit log — secrets are never logged', () => {
  let s: Harness;
  beforeAll(async () => {
    s = await startHarness({ env: { LOG_LEVEL: 'trace', JWT_REQUIRED_SCOPE: SCOPE } });
  });
  afterAll(() => s.close());

  it('logs neither the API key, nor tokens, nor cookies, nor the JWT secret', async () => {
    const validToken = signToken({ claims: { scope: SCOPE } });
    const unscopedToken = signToken();
    const forgedToken = signToken({ key: 'a-different-secret-of-thirty-two-bytes!!' });
    const expiredToken = signToken({ claims: { scope: SCOPE }, expiresInS: -3600 });
    const garbageToken = 'not-a-jwt-but-secret-looking-0f9e8d7c';
    const cookieValue = 'cookie-value-5a4b3c2d1e';
    const clientKey = 'client-sent-api-key-6f7e8d9c';
    const tokens = [validToken, unscopedToken, forgedToken, expiredToken, garbageToken];

    s.upstream.enqueue(
      { status: 200 },
      { status: 500, body: { detail: 'boom' } },
      { status: 401 },
      { status: 422, body: { detail: 'bad cursor' } },
    );
    const withSecrets = (test: Test, token: string) =>
      test
        .set('Authorization', `Bearer ${token}`)
        .set('Cookie', `session=${cookieValue}`)
        .set('X-API-KEY', clientKey);
    const statuses: number[] = [];
    for (const path of [
      '/v3/batches?limit=1',
      '/v3/batches?limit=2',
      '/v3/batches?limit=3',
      '/v3/batches?limit=4',
    ]) {
      statuses.push((await withSecrets(s.request.get(path), validToken)).status);
    }
    for (const token of tokens.slice(1)) {
      statuses.push((await withSecrets(s.request.get('/v3/batches'), token)).status);
    }
    statuses.push((await withSecrets(s.request.get('/v3/batches?limit=0'), validToken)).status);
    statuses.push((await withSecrets(s.request.post('/v3/batches'), validToken)).status);
    statuses.push((await withSecrets(s.request.get('/healthz'), validToken)).status);
    // A client that sends the server key as its request id must not get it into the logs either.
    statuses.push(
      (await withSecrets(s.request.get('/v3/batches?limit=5'), validToken).set('X-Request-ID', API_KEY))
        .status,
    );
    expect(statuses).toEqual([200, 502, 502, 400, 403, 401, 401, 401, 400, 405, 200, 200]);
    expect(s.logs.auditLines().length).toBeGreaterThanOrEqual(11);

    const text = s.logs.text();
    expect(text).not.toContain(API_KEY);
    expect(text).not.toContain(JWT_SECRET);
    expect(text).not.toContain(cookieValue);
    expect(text).not.toContain(clientKey);
    for (const token of tokens) {
      expect(text).not.toContain(token);
      // Not even the signature part of a JWT.
      const signature = token.split('.')[2];
      if (signature) expect(text).not.toContain(signature);
    }
    for (const line of s.logs.records()) {
      for (const key of ['headers', 'req', 'res']) expect(line).not.toHaveProperty(key);
    }
  });
});
