// SPEC "CORS": listed origins only (exact match, echoed, never *), preflights answered at once, exposed headers.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './helpers/harness.js';
import { requestsCounted } from './helpers/metrics.js';
import { bearer } from './helpers/tokens.js';

const APP = 'https://app.example.com';
const ADMIN = 'https://admin.example.com';
const EXPOSED = ['X-Request-ID', 'X-Upstream-Request-ID', 'X-Cache', 'Cache-Status', 'Age', 'Retry-After'];
const UNLISTED = [
  'https://evil.example.com',
  'https://app.example.com.evil.com',
  'https://APP.example.com',
  'null',
  'http://app.example.com',
  'https://app.example.com/',
  'https://app.example.com:8443',
];

/** A comma-separated header as a sorted, lower-cased list, so order and spacing do not matter. */
function listOf(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((item) => item.trim().toLowerCase())
    .filter((item) => item !== '')
    .sort();
}

function corsHeaderNames(headers: Record<string, string>): string[] {
  return Object.keys(headers).filter((name) => name.toLowerCase().startsWith('access-control-'));
}

function preflight(h: Harness, origin: string, path = '/v3/batches') {
  return h.request
    .options(path)
    .set('Origin', origin)
    .set('Access-Control-Request-Method', 'GET')
    .set('Access-Control-Request-Headers', 'authorization,x-request-id');
}

describe('CORS — listed origins', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { CORS_ORIGINS: `${APP},${ADMIN}`, CACHE_TTL_MS: '0' } });
  });
  afterAll(() => h.close());
  beforeEach(() => h.upstream.reset());

  it.each([APP, ADMIN])(
    'echoes the listed origin %s, with Vary: Origin and the exposed headers',
    async (origin) => {
      const res = await h.request.get('/v3/batches').set('Origin', origin).set('Authorization', bearer());
      expect(res.status).toBe(200);
      expect(res.headers['access-control-allow-origin']).toBe(origin);
      expect(listOf(res.headers.vary)).toContain('origin');
      expect(listOf(res.headers['access-control-expose-headers'])).toEqual(listOf(EXPOSED.join(',')));
    },
  );

  it('answers a preflight from a listed origin with 204 at once: no auth, no audit line, no upstream call', async () => {
    const auditLinesBefore = h.logs.auditLines().length;
    const res = await preflight(h, APP);
    expect(res.status).toBe(204);
    expect(res.text).toBe('');
    expect(res.headers['access-control-allow-origin']).toBe(APP);
    expect(listOf(res.headers.vary)).toContain('origin');
    expect(listOf(res.headers['access-control-allow-methods'])).toEqual(['get', 'head']);
    expect(listOf(res.headers['access-control-allow-headers'])).toEqual(['authorization', 'x-request-id']);
    expect(res.headers['access-control-max-age']).toBe('600');
    expect(res.headers['www-authenticate']).toBeUndefined();
    expect(h.logs.auditLines()).toHaveLength(auditLinesBefore);
    expect(h.upstream.received).toHaveLength(0);
  });

  it('counts an accepted preflight in /metrics under its route /v3/batches, never as unmatched', async () => {
    const counted = (route: string) => requestsCounted(h, { route, status: 204, method: 'OPTIONS' });
    const [batchesBefore, unmatchedBefore] = [await counted('/v3/batches'), await counted('unmatched')];

    expect((await preflight(h, APP)).status).toBe(204);

    expect(await counted('/v3/batches')).toBe(batchesBefore + 1);
    expect(await counted('unmatched')).toBe(unmatchedBefore);
  });

  it('answers a preflight for HEAD the same way', async () => {
    const res = await h.request
      .options('/v3/batches')
      .set('Origin', ADMIN)
      .set('Access-Control-Request-Method', 'HEAD');
    expect(res.status).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe(ADMIN);
    expect(listOf(res.headers['access-control-allow-methods'])).toEqual(['get', 'head']);
    expect(h.upstream.received).toHaveLength(0);
  });

  it.each([
    ['401 without a token', '/v3/batches', undefined, 401],
    ['401 with an invalid token', '/v3/batches', 'Bearer not.a.token', 401],
    ['400 for a bad query', '/v3/batches?limit=0', bearer(), 400],
    ['404 for an unknown path', '/v3/nothing', bearer(), 404],
  ])(
    'keeps the CORS headers on error responses so the browser can read the problem: %s',
    async (_case, path, authorization, status) => {
      const req = h.request.get(path).set('Origin', APP);
      const res = await (authorization === undefined ? req : req.set('Authorization', authorization));
      expect(res.status).toBe(status);
      expect(res.headers['content-type']).toBe('application/problem+json');
      expect(res.headers['access-control-allow-origin']).toBe(APP);
      expect(listOf(res.headers.vary)).toContain('origin');
      expect(listOf(res.headers['access-control-expose-headers'])).toEqual(listOf(EXPOSED.join(',')));
    },
  );

  it('keeps the CORS headers on an upstream-caused error', async () => {
    h.upstream.enqueue({ status: 404, body: '{"detail":"not found"}' });
    const res = await h.request.get('/v3/batches').set('Origin', APP).set('Authorization', bearer());
    expect(res.status).toBe(404);
    expect(res.headers['access-control-allow-origin']).toBe(APP);
  });

  it.each(UNLISTED)(
    'gives the unlisted origin %j no Access-Control-* header on a request',
    async (origin) => {
      const res = await h.request.get('/v3/batches').set('Origin', origin).set('Authorization', bearer());
      expect(res.status).toBe(200);
      expect(corsHeaderNames(res.headers as Record<string, string>)).toEqual([]);
    },
  );

  it.each(UNLISTED)(
    'gives the unlisted origin %j no Access-Control-* header on a preflight',
    async (origin) => {
      const res = await preflight(h, origin);
      expect(res.status).not.toBe(204);
      expect(corsHeaderNames(res.headers as Record<string, string>)).toEqual([]);
      expect(h.upstream.received).toHaveLength(0);
    },
  );

  it('gives a request without Origin no Access-Control-* header', async () => {
    const res = await h.request.get('/v3/batches').set('Authorization', bearer());
    expect(res.status).toBe(200);
    expect(corsHeaderNames(res.headers as Record<string, string>)).toEqual([]);
  });

  it('never answers with a wildcard origin', async () => {
    const answers = await Promise.all([
      h.request.get('/v3/batches').set('Origin', APP).set('Authorization', bearer()),
      preflight(h, ADMIN),
      h.request.get('/healthz').set('Origin', APP),
    ]);
    for (const res of answers) expect(res.headers['access-control-allow-origin']).not.toBe('*');
  });
});

describe('CORS — CORS_ORIGINS empty', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { CORS_ORIGINS: '' } });
  });
  afterAll(() => h.close());

  it('sends no CORS headers to any origin, on requests or preflights', async () => {
    const answers = await Promise.all([
      h.request.get('/v3/batches').set('Origin', APP).set('Authorization', bearer()),
      h.request.get('/v3/batches').set('Origin', APP),
      preflight(h, APP),
      preflight(h, 'null'),
    ]);
    expect(answers.map((res) => res.status)).toEqual([200, 401, 405, 405]);
    for (const res of answers) expect(corsHeaderNames(res.headers as Record<string, string>)).toEqual([]);
  });
});
