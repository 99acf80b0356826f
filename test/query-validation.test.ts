// Query validation through HTTP (SPEC "GET /v3/batches" Query validation, Order of checks, Upstream request).
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SPEC_DATETIME_EXAMPLES } from './helpers/datetime-forms.js';
import { startHarness, type Harness } from './helpers/harness.js';
import { bearer, signToken } from './helpers/tokens.js';

const REQUIRED_SCOPE = 'batches:read';
const USER_LIMIT_PER_MIN = 3;

let h: Harness;
beforeAll(async () => {
  h = await startHarness({
    env: {
      CACHE_TTL_MS: '0',
      JWT_REQUIRED_SCOPE: REQUIRED_SCOPE,
      USER_RATE_LIMIT_PER_MIN: String(USER_LIMIT_PER_MIN),
    },
  });
});
afterAll(() => h.close());
beforeEach(() => h.upstream.reset());

// Each call is a new subject, so the per-user limit never interferes unless a test means it to.
let subjects = 0;
function authorized(claims: Record<string, unknown> = {}): string {
  subjects += 1;
  return bearer(signToken({ claims: { sub: `user-${subjects}`, scope: REQUIRED_SCOPE, ...claims } }));
}

const BAD_QUERIES = [
  'limit=0',
  'limit=51',
  'limit=010',
  'limit=%2B5',
  'limit=+5',
  'limit',
  'status=Completed',
  'foo=bar',
  'Limit=5',
  'limit=5&limit=5',
  'cursor=',
  `cursor=${'x'.repeat(1025)}`,
  'created_after=2024-W01-1',
  'created_after=20240101T000000Z',
  'created_after=2024-01-01T00:00:00%2B02',
  'created_after=1e9',
  'created_before=2023-02-29',
  'created_before=2024-01-01T24:00:00Z',
  'created_after=2024-01-02&created_before=2024-01-01',
  'created_after=2024-01-01T00:00:00.5Z&created_before=2024-01-01T00:00:00Z',
];

describe('GET /v3/batches — bad query', () => {
  it.each(
    BAD_QUERIES.map((query) => [
      query.length > 60 ? `${query.slice(0, 20)}… (${query.length} chars)` : query,
      query,
    ]),
  )('answers ?%s with a 400 problem and calls nobody upstream', async (_shown, query) => {
    const res = await h.request.get(`/v3/batches?${query}`).set('Authorization', authorized());
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(res.headers['cache-control']).toBe('private, no-store');
    const body = JSON.parse(res.text) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(
      ['code', 'detail', 'errors', 'request_id', 'status', 'title', 'type'].sort(),
    );
    expect(body).toMatchObject({
      type: 'urn:ntropy-bff:problem:invalid-query',
      title: 'Invalid query',
      status: 400,
      code: 'invalid_query',
      detail: expect.any(String) as string,
    });
    expect(body.request_id).toBe(res.headers['x-request-id']);
    expect(body.errors).toEqual(
      expect.arrayContaining([
        { field: expect.any(String) as string, message: expect.any(String) as string },
      ]),
    );
    expect(h.upstream.received).toEqual([]);
  });

  it('names the field and says why in detail and errors', async () => {
    const res = await h.request.get('/v3/batches?limit=0').set('Authorization', authorized());
    expect(res.status).toBe(400);
    const body = JSON.parse(res.text) as Record<string, unknown>;
    expect(body.detail).toBe('limit must be between 1 and 50');
    expect(body.errors).toEqual([{ field: 'limit', message: expect.any(String) as string }]);
  });

  it("keeps the client's X-Request-ID on the problem", async () => {
    const res = await h.request
      .get('/v3/batches?status=done')
      .set('Authorization', authorized())
      .set('X-Request-ID', 'client.query-1');
    expect(res.status).toBe(400);
    expect(res.headers['x-request-id']).toBe('client.query-1');
    expect((JSON.parse(res.text) as Record<string, unknown>).request_id).toBe('client.query-1');
  });

  it('writes one audit line with status 400, code invalid_query and no upstream attempt', async () => {
    const res = await h.request
      .get('/v3/batches?limit=99')
      .set('Authorization', authorized())
      .set('X-Request-ID', 'audit.query-400');
    expect(res.status).toBe(400);
    const lines = h.logs.auditLines().filter((line) => line.request_id === 'audit.query-400');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      method: 'GET',
      path: '/v3/batches',
      status: 400,
      code: 'invalid_query',
      upstream_attempts: 0,
      upstream_status: null,
    });
  });

  it('answers HEAD with a bad query with 400 and no body, calling nobody upstream', async () => {
    const res = await h.request.head('/v3/batches?limit=0').set('Authorization', authorized());
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(res.text ?? '').toBe('');
    expect(h.upstream.received).toEqual([]);
  });

  it('reads a literal + in an offset as a space, as URLSearchParams does, and says to write %2B', async () => {
    const res = await h.request
      .get('/v3/batches?created_after=2024-01-01T02:00:00+02:00')
      .set('Authorization', authorized());
    expect(res.status).toBe(400);
    expect((JSON.parse(res.text) as { errors: unknown }).errors).toEqual([
      {
        field: 'created_after',
        message: "must write an offset's + as %2B in a URL (a bare + reads as a space)",
      },
    ]);
    expect(h.upstream.received).toEqual([]);
  });

  it('says the reason of limit=05 is its leading zero', async () => {
    const res = await h.request.get('/v3/batches?limit=05').set('Authorization', authorized());
    expect(res.status).toBe(400);
    const body = JSON.parse(res.text) as Record<string, unknown>;
    expect(body.detail).toBe('limit must not have a leading zero');
    expect(body.errors).toEqual([{ field: 'limit', message: 'must not have a leading zero' }]);
  });

  it('reports limit=0&status=x&foo=1 as three errors, each with its own reason', async () => {
    const res = await h.request.get('/v3/batches?limit=0&status=x&foo=1').set('Authorization', authorized());
    expect(res.status).toBe(400);
    const body = JSON.parse(res.text) as { detail: string; errors: { field: string; message: string }[] };
    expect(body.errors.map((error) => error.field)).toEqual(['limit', 'status', 'foo']);
    expect(new Set(body.errors.map((error) => error.message)).size).toBe(3);
    expect(body.detail.split('; ')).toEqual(
      body.errors.map((e) => expect.stringContaining(e.message) as string),
    );
    expect(h.upstream.received).toEqual([]);
  });
});

describe('GET /v3/batches — datetimes as Ntropy accepts them (SPEC "Datetimes")', () => {
  it.each(SPEC_DATETIME_EXAMPLES)(
    'answers created_after=%j as the table says (%s)',
    async (example, canonical) => {
      if (canonical !== undefined) h.upstream.enqueue({ body: { next_cursor: null, data: [] } });
      const res = await h.request
        .get(`/v3/batches?created_after=${encodeURIComponent(example)}`)
        .set('Authorization', authorized());
      if (canonical === undefined) {
        expect(res.status).toBe(400);
        expect((JSON.parse(res.text) as { errors: unknown }).errors).toEqual([
          { field: 'created_after', message: expect.any(String) as string },
        ]);
        expect(h.upstream.received).toEqual([]);
      } else {
        expect(res.status).toBe(200);
        expect(h.upstream.received.map((r) => r.query.get('created_after'))).toEqual([canonical]);
      }
    },
  );

  // Ntropy's Python SDK sends str(datetime); requests writes a space as + and + as %2B.
  it.each([
    ['a naive datetime', 'created_after=2024-01-01+00%3A00%3A00', '2024-01-01T00:00:00Z'],
    [
      'an aware datetime with microseconds',
      'created_before=2024-01-01+01%3A00%3A00.123456%2B01%3A00',
      '2024-01-01T00:00:00.123456Z',
    ],
  ])("accepts the Python SDK's %s and sends it upstream in UTC", async (_label, query, canonical) => {
    h.upstream.enqueue({ body: { next_cursor: null, data: [] } });
    const res = await h.request.get(`/v3/batches?${query}`).set('Authorization', authorized());
    expect(res.status).toBe(200);
    expect([...(h.upstream.received[0]?.query.values() ?? [])]).toEqual([canonical, '10']);
  });
});

describe('GET /v3/batches — every spelling of one instant shares one cache entry', () => {
  let cached: Harness;
  beforeAll(async () => {
    cached = await startHarness({ env: { CACHE_TTL_MS: '60000' } });
  });
  afterAll(() => cached.close());

  it.each([
    ['2024-01-01T00:00:00Z', '1704067200'],
    ['2024-01-01 00:00:00.5', '2024-01-01T01:00:00.500000000%2B01:00'],
    ['2024-01-02', '1704153600000'],
    ['2024-01-03T00:00:00.1234567Z', '2024-01-02_19:00:00.123456-0500'],
  ])('answers %s and then %s from one upstream call', async (first, second) => {
    cached.upstream.reset();
    const a = await cached.request
      .get(`/v3/batches?created_before=${encodeURIComponent(first)}`)
      .set('Authorization', bearer());
    const b = await cached.request.get(`/v3/batches?created_before=${second}`).set('Authorization', bearer());
    expect([a.status, b.status]).toEqual([200, 200]);
    expect([a.headers['x-cache'], b.headers['x-cache']]).toEqual(['MISS', 'HIT']);
    expect(cached.upstream.received).toHaveLength(1);
    expect(b.text).toBe(a.text);
  });
});

describe('GET /v3/batches — order of checks for a bad query', () => {
  it('answers 401 without a token, not 400', async () => {
    const res = await h.request.get('/v3/batches?limit=0&foo=bar');
    expect(res.status).toBe(401);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(res.headers['www-authenticate']).toBe('Bearer realm="ntropy-bff"');
    expect((JSON.parse(res.text) as Record<string, unknown>).code).toBe('unauthorized');
    expect(h.upstream.received).toEqual([]);
  });

  it('answers 401 with an invalid token, not 400', async () => {
    const res = await h.request
      .get('/v3/batches?limit=0')
      .set('Authorization', bearer(signToken({ key: 'another-secret-of-at-least-thirty-two-bytes' })));
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="ntropy-bff", error="invalid_token"');
    expect((JSON.parse(res.text) as Record<string, unknown>).code).toBe('unauthorized');
    expect(h.upstream.received).toEqual([]);
  });

  it('answers 401 to HEAD without a token, not 400', async () => {
    const res = await h.request.head('/v3/batches?limit=0');
    expect(res.status).toBe(401);
    expect(h.upstream.received).toEqual([]);
  });

  it('answers 403 to a valid token lacking the required scope, not 400', async () => {
    const res = await h.request
      .get('/v3/batches?limit=0&status=nope')
      .set('Authorization', authorized({ scope: 'profile batches:write' }));
    expect(res.status).toBe(403);
    expect(res.headers['www-authenticate']).toBe(
      `Bearer realm="ntropy-bff", error="insufficient_scope", scope="${REQUIRED_SCOPE}"`,
    );
    expect((JSON.parse(res.text) as Record<string, unknown>).code).toBe('forbidden');
    expect(h.upstream.received).toEqual([]);
  });

  it('answers 429 once the per-user limit is spent, before looking at the query', async () => {
    const token = bearer(signToken({ claims: { sub: 'busy-user', scope: REQUIRED_SCOPE } }));
    for (let i = 0; i < USER_LIMIT_PER_MIN; i += 1) {
      const res = await h.request.get('/v3/batches?limit=0').set('Authorization', token);
      expect(res.status).toBe(400);
    }
    const res = await h.request.get('/v3/batches?limit=0').set('Authorization', token);
    expect(res.status).toBe(429);
    expect((JSON.parse(res.text) as Record<string, unknown>).code).toBe('rate_limited');
    expect(h.upstream.received).toEqual([]);
  });
});

describe('GET /v3/batches — the canonical query goes upstream', () => {
  async function upstreamUrlFor(query: string): Promise<string> {
    h.upstream.reset();
    // A scripted page: the simulated Ntropy would refuse the made-up cursors below with its own 400.
    h.upstream.enqueue({ body: { next_cursor: null, data: [] } });
    const res = await h.request.get(`/v3/batches${query}`).set('Authorization', authorized());
    expect(res.status).toBe(200);
    expect(h.upstream.received).toHaveLength(1);
    return h.upstream.received[0]?.url ?? '';
  }

  it.each([
    {
      canonical: '/v3/batches?limit=10',
      variants: ['', '?', '?limit=10', '?&limit=10&'],
    },
    {
      canonical: '/v3/batches?created_after=2024-01-01T00%3A00%3A00Z&limit=5&status=completed',
      variants: [
        '?status=completed&limit=5&created_after=2024-01-01T02:00:00%2B02:00',
        '?created_after=2024-01-01&limit=5&status=completed',
        '?limit=5&created_after=2024-01-01T00:00:00&status=completed',
        '?created_after=2023-12-31T19:00:00-05:00&status=completed&limit=5',
        '?created_after=2024-01-01T00%3A00%3A00.000Z&status=completed&li%6Dit=5',
      ],
    },
  ])('sends $canonical for every equivalent client query', async ({ canonical, variants }) => {
    for (const variant of variants) expect(await upstreamUrlFor(variant)).toBe(canonical);
  });

  it('sends datetimes as UTC with Z', async () => {
    await upstreamUrlFor(
      '?created_after=2024-01-01T00:00:00&created_before=2024-06-30T23:59:59.250-07:00&status=error',
    );
    const sent = h.upstream.received[0]?.query;
    expect(sent?.get('created_after')).toBe('2024-01-01T00:00:00Z');
    expect(sent?.get('created_before')).toBe('2024-07-01T06:59:59.25Z');
    expect(sent?.get('limit')).toBe('10');
    expect(sent?.get('status')).toBe('error');
  });

  it.each([
    ['a+b', 'a b'],
    ['a%20b', 'a b'],
    ['a%2Bb', 'a+b'],
    ['%26limit%3D5', '&limit=5'],
    ['a%2Fb%3Fc%23d', 'a/b?c#d'],
    ['100%25', '100%'],
    ['eyJpZCI6MX0%3D', 'eyJpZCI6MX0='],
    ['caf%C3%A9', 'café'],
    ['%F0%9F%98%80+%E2%82%AC', '😀 €'],
  ])('decodes cursor=%s as URLSearchParams does and forwards %j exactly', async (encoded, cursor) => {
    expect(new URLSearchParams(`cursor=${encoded}`).get('cursor')).toBe(cursor);
    await upstreamUrlFor(`?cursor=${encoded}`);
    const sent = h.upstream.received[0]?.query;
    expect(sent?.getAll('cursor')).toEqual([cursor]);
    expect([...(sent?.keys() ?? [])]).toEqual(['cursor', 'limit']);
    expect(sent?.get('limit')).toBe('10');
  });

  it('forwards a cursor of 1024 astral-plane characters whole and refuses one of 1025', async () => {
    const cursor = '😀'.repeat(1024);
    await upstreamUrlFor(`?cursor=${encodeURIComponent(cursor)}`);
    expect(h.upstream.received[0]?.query.get('cursor')).toBe(cursor);

    h.upstream.reset();
    const res = await h.request
      .get(`/v3/batches?cursor=${encodeURIComponent(`${cursor}😀`)}`)
      .set('Authorization', authorized());
    expect(res.status).toBe(400);
    expect(h.upstream.received).toEqual([]);
  });
});
