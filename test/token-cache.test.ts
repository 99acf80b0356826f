// Verified tokens are reused only until their exp: caching the verification never extends a token's life.
import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './helpers/harness.js';
import { bearer, signToken } from './helpers/tokens.js';

const harnesses: Harness[] = [];
afterEach(async () => {
  for (const h of harnesses.splice(0)) await h.close();
});

/** A harness whose clock the test moves forward; the simulated upstream answers pages as usual. */
async function harnessWithClock(toleranceS: number) {
  let offsetMs = 0;
  const h = await startHarness({
    env: { JWT_CLOCK_TOLERANCE_S: String(toleranceS) },
    now: () => Date.now() + offsetMs,
  });
  harnesses.push(h);
  return { h, advance: (ms: number) => (offsetMs += ms) };
}

describe('GET /v3/batches — verified-token reuse', () => {
  it('refuses a token once its exp has passed, though it was accepted (and kept) before', async () => {
    const { h, advance } = await harnessWithClock(0);
    const token = signToken({ expiresInS: 60 });
    expect((await h.request.get('/v3/batches').set('Authorization', bearer(token))).status).toBe(200);
    expect((await h.request.get('/v3/batches').set('Authorization', bearer(token))).status).toBe(200);
    advance(61_000);
    const late = await h.request.get('/v3/batches').set('Authorization', bearer(token));
    expect(late.status).toBe(401);
    expect(late.headers['www-authenticate']).toBe('Bearer realm="ntropy-bff", error="invalid_token"');
  });

  it('keeps the clock tolerance: accepted until exp plus the tolerance, refused after', async () => {
    const { h, advance } = await harnessWithClock(30);
    const token = signToken({ expiresInS: 10 });
    expect((await h.request.get('/v3/batches').set('Authorization', bearer(token))).status).toBe(200);
    advance(35_000);
    expect((await h.request.get('/v3/batches').set('Authorization', bearer(token))).status).toBe(200);
    advance(10_000);
    expect((await h.request.get('/v3/batches').set('Authorization', bearer(token))).status).toBe(401);
  });

  it('does not remember a refusal: a token not yet valid (nbf) is accepted once its time comes', async () => {
    const { h, advance } = await harnessWithClock(0);
    const nbf = Math.floor(Date.now() / 1000) + 20;
    const token = signToken({ claims: { nbf }, expiresInS: 600 });
    expect((await h.request.get('/v3/batches').set('Authorization', bearer(token))).status).toBe(401);
    advance(21_000);
    expect((await h.request.get('/v3/batches').set('Authorization', bearer(token))).status).toBe(200);
  });
});
