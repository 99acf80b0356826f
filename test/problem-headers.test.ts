// SPEC "Normalized errors": upstream-caused errors name Ntropy's request id in X-Upstream-Request-ID, as pages do.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './helpers/harness.js';
import { expectProblem, getBatches } from './helpers/problem.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ env: { CACHE_TTL_MS: '0', CACHE_STALE_IF_ERROR_MS: '0' } });
});
afterAll(() => h.close());
beforeEach(() => h.upstream.reset());

describe('problem headers — upstream-caused errors', () => {
  it.each([
    [500, 502, 'upstream_error'],
    [401, 502, 'upstream_auth_failed'],
    [404, 404, 'not_found'],
    [422, 400, 'invalid_query'],
  ])(
    'an upstream %i (→ %i %s) carries X-Upstream-Request-ID equal to the body’s upstream_request_id',
    async (upstreamStatus, status, code) => {
      const upstreamId = `ntropy-${upstreamStatus}-id`;
      h.upstream.enqueue({
        status: upstreamStatus,
        headers: { 'x-request-id': upstreamId },
        body: { detail: 'from upstream' },
      });

      const res = await getBatches(h, '?limit=7');

      const body = expectProblem(res, status, code);
      expect(body.upstream_request_id).toBe(upstreamId);
      expect(res.headers['x-upstream-request-id']).toBe(upstreamId);
    },
  );
});

describe("problem headers — the proxy's own errors", () => {
  it.each([
    ['400 bad query', () => getBatches(h, '?limit=0'), 400],
    ['401 no token', () => h.request.get('/v3/batches'), 401],
    ['404 unknown path', () => h.request.get('/nope'), 404],
  ])('%s carries no X-Upstream-Request-ID', async (_case, send, status) => {
    const res = await send();
    expect(res.status).toBe(status);
    expect(res.headers['x-upstream-request-id']).toBeUndefined();
    expect(h.upstream.received).toHaveLength(0);
  });
});
