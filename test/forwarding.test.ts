import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { API_KEY, startHarness, type Harness } from './helpers/harness.js';
import { bearer, signToken } from './helpers/tokens.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ env: { CACHE_TTL_MS: '0' } });
});
afterAll(() => h.close());
beforeEach(() => h.upstream.reset());

describe('GET /v3/batches — upstream request', () => {
  it('sends the canonical query with X-API-KEY, Accept, User-Agent and the request id, and nothing of the client', async () => {
    const token = signToken();
    const res = await h.request
      .get('/v3/batches?status=completed&created_before=2026-10-02&created_after=2026-09-01T02:00:00%2B02:00')
      .set('Authorization', bearer(token))
      .set('Cookie', 'session=abc')
      .set('X-API-KEY', 'client-supplied-key')
      .set('X-Request-ID', 'client.req-1')
      .set('X-Forwarded-For', '10.1.2.3');
    expect(res.status).toBe(200);
    expect(h.upstream.received).toHaveLength(1);
    const sent = h.upstream.received[0]!;
    expect(sent.path).toBe('/v3/batches');
    expect(sent.url).toBe(
      '/v3/batches?created_after=2026-09-01T00%3A00%3A00Z&created_before=2026-10-02T00%3A00%3A00Z&limit=10&status=completed',
    );
    expect(sent.headers['x-api-key']).toBe(API_KEY);
    expect(sent.headers.accept).toBe('application/json');
    expect(sent.headers['user-agent']).toMatch(/^ntropy-bff\/\d+\.\d+\.\d+$/);
    expect(sent.headers['x-request-id']).toBe('client.req-1');
    expect(sent.headers.authorization).toBeUndefined();
    expect(sent.headers.cookie).toBeUndefined();
    expect(sent.headers['x-forwarded-for']).toBeUndefined();
    expect(JSON.stringify(sent.headers)).not.toContain(token);
  });

  it('answers 200 with the upstream body byte for byte and SPEC headers', async () => {
    const body = '{"next_cursor":null,"data":[],"extra":{"kept":true}}';
    h.upstream.enqueue({ body, headers: { 'x-request-id': 'up-123' } });
    const res = await h.request.get('/v3/batches').set('Authorization', bearer());
    expect(res.status).toBe(200);
    expect(res.text).toBe(body);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.headers['x-upstream-request-id']).toBe('up-123');
    expect(res.headers['x-cache']).toBe('MISS');
    expect(res.headers['cache-status']).toBe('ntropy-bff; fwd=uri-miss; fwd-status=200');
    expect(res.headers['cache-control']).toBe('private, no-store');
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});
