// SPEC's JWKS paragraph: fetched on first use, refetched on unknown kids (cooldown from the last attempt) and past its max age, the last good set kept.
import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { auditLineOf, auditOf } from './helpers/audit-lines.js';
import { listenHarness, type Harness } from './helpers/harness.js';
import {
  createSigningKey,
  signWithJose,
  startJwksHarness,
  startJwksServer,
  type Jwk,
  type JwksServer,
} from './helpers/jwks-server.js';
import { bearer } from './helpers/tokens.js';

const INVALID_TOKEN = 'Bearer realm="ntropy-bff", error="invalid_token"';
const key1 = createSigningKey('ec-p256', 'kid-1', { alg: 'ES256' });
const key2 = createSigningKey('ed25519', 'kid-2', { alg: 'EdDSA' });

function getBatches(h: Harness, token: string) {
  return h.request.get('/v3/batches').set('Authorization', bearer(token));
}

/** Polls `condition` every 5 ms; fails after 5 s (a bound for a broken build, not a timing claim). */
async function waitFor(condition: () => boolean): Promise<void> {
  const giveUpAt = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > giveUpAt) throw new Error('condition not met in time');
    await sleep(5);
  }
}

const madeUpKidToken = () => signWithJose({ ...key1, kid: randomUUID() }, 'ES256');

/** A JWKS server and a harness per test, on a clock only the test moves forward (no sleeping). */
function useJwksHarness() {
  let jwks: JwksServer | undefined;
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.close();
    await jwks?.close();
    harness = undefined;
    jwks = undefined;
  });
  return async (cooldownMs: number, options: { maxAgeMs?: number; keys?: Jwk[] } = {}) => {
    // Frozen at the start: only advance() moves it, however long a loaded machine takes per request.
    let nowMs = Date.now();
    const server = await startJwksServer(options.keys ?? [key1.jwk]);
    jwks = server;
    const h = await startJwksHarness(server, cooldownMs, {
      now: () => nowMs,
      maxAgeMs: options.maxAgeMs,
    });
    harness = h;
    return { h, jwks: server, advance: (ms: number) => (nowMs += ms) };
  };
}

describe('GET /v3/batches — JWKS: fetching, rotation and unknown kids', () => {
  const start = useJwksHarness();

  it('does not fetch the key set at startup, fetches it for the first token and keeps it', async () => {
    const { h, jwks } = await start(30_000);
    expect(jwks.fetchCount()).toBe(0);
    for (let i = 0; i < 3; i += 1)
      expect((await getBatches(h, await signWithJose(key1, 'ES256'))).status).toBe(200);
    expect(jwks.fetchCount()).toBe(1);
  });

  it('refetches once when a token names a new kid after the cooldown has passed (key rotation)', async () => {
    const { h, jwks, advance } = await start(1_000);
    expect((await getBatches(h, await signWithJose(key1, 'ES256'))).status).toBe(200);
    expect(jwks.fetchCount()).toBe(1);
    jwks.setKeys([key1.jwk, key2.jwk]);
    advance(1_000);

    const rotated = await getBatches(h, await signWithJose(key2, 'EdDSA'));
    expect(rotated.status).toBe(200);
    expect(jwks.fetchCount()).toBe(2);
    expect((await getBatches(h, await signWithJose(key2, 'EdDSA'))).status).toBe(200);
    expect((await getBatches(h, await signWithJose(key1, 'ES256'))).status).toBe(200);
    expect(jwks.fetchCount()).toBe(2);
  });

  it('does not refetch for a new kid within the cooldown, and says unknown_kid', async () => {
    const { h, jwks, advance } = await start(30_000);
    expect((await getBatches(h, await signWithJose(key1, 'ES256'))).status).toBe(200);
    jwks.setKeys([key1.jwk, key2.jwk]);
    advance(29_999);
    const early = await signWithJose(key2, 'EdDSA');
    const res = await getBatches(h, early);
    expect(res.status).toBe(401);
    expect((await auditOf(h, res)).reason).toBe('unknown_kid');
    expect(jwks.fetchCount()).toBe(1);
    // The refusal is not remembered: once the cooldown has passed, the same token meets the new set.
    advance(1);
    expect((await getBatches(h, early)).status).toBe(200);
    expect(jwks.fetchCount()).toBe(2);
  });

  it('lets a burst of random unknown kids cause at most one refetch while known kids keep working', async () => {
    const { h, jwks, advance } = await start(30_000);
    const known = await signWithJose(key1, 'ES256');
    expect((await getBatches(h, known)).status).toBe(200);
    advance(30_000);

    const strangers = await Promise.all(Array.from({ length: 50 }, madeUpKidToken));
    const [unknownAnswers, knownAnswers] = await Promise.all([
      Promise.all(strangers.map((token) => getBatches(h, token))),
      Promise.all(Array.from({ length: 10 }, () => getBatches(h, known))),
    ]);
    expect(unknownAnswers.map((res) => res.status)).toEqual(Array<number>(50).fill(401));
    expect(knownAnswers.map((res) => res.status)).toEqual(Array<number>(10).fill(200));
    expect(jwks.fetchCount()).toBe(2);
    expect((await getBatches(h, known)).status).toBe(200);
    expect(jwks.fetchCount()).toBe(2);
    const refused = h.logs.auditLines().filter((line) => line.status === 401);
    expect(refused).toHaveLength(50);
    expect(refused.every((line) => line.upstream_attempts === 0 && line.reason === 'unknown_kid')).toBe(true);
  });

  it('lets a burst of random unknown kids as the very first tokens cause one fetch', async () => {
    const { h, jwks } = await start(30_000);
    const strangers = await Promise.all(Array.from({ length: 50 }, madeUpKidToken));
    const answers = await Promise.all(strangers.map((token) => getBatches(h, token)));
    expect(answers.every((res) => res.status === 401)).toBe(true);
    expect(jwks.fetchCount()).toBe(1);
    expect((await getBatches(h, await signWithJose(key1, 'ES256'))).status).toBe(200);
    expect(jwks.fetchCount()).toBe(1);
    expect(h.upstream.received).toHaveLength(1);
  });

  it('shares one fetch in flight: tokens that arrive meanwhile wait for it and verify with its keys', async () => {
    const { h, jwks, advance } = await start(1_000);
    expect((await getBatches(h, await signWithJose(key1, 'ES256'))).status).toBe(200);
    jwks.setKeys([key1.jwk, key2.jwk]);
    jwks.setDelayMs(200);
    advance(1_000);

    const tokens = await Promise.all(
      Array.from({ length: 10 }, (_, i) => signWithJose(key2, 'EdDSA', `user-${i}`)),
    );
    const answers = await Promise.all(tokens.map((token) => getBatches(h, token)));
    expect(answers.map((res) => res.status)).toEqual(Array<number>(10).fill(200));
    expect(jwks.fetchCount()).toBe(2);
  });

  it('answers 401, not 500, while the JWKS endpoint fails, keeps serving, and recovers after the cooldown', async () => {
    const { h, jwks, advance } = await start(30_000);
    jwks.setStatus(503);
    const res = await getBatches(h, await signWithJose(key1, 'ES256'));
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe(INVALID_TOKEN);
    expect(res.body).toMatchObject({ code: 'unauthorized', detail: 'The token is invalid or expired' });
    expect((await auditOf(h, res)).reason).toBe('jwks_unavailable');
    expect(h.upstream.received).toHaveLength(0);
    expect((await h.request.get('/healthz')).status).toBe(200);
    expect(h.logs.records().filter((line) => line.msg === 'JWKS fetch failed')).toMatchObject([
      { level: 40, cause: 'status 503', last_good_set: false },
    ]);

    jwks.setStatus(200);
    advance(30_000);
    expect((await getBatches(h, await signWithJose(key1, 'ES256'))).status).toBe(200);
    expect(jwks.fetchCount()).toBe(2);
  });

  it('answers 401, not 500, when the JWKS endpoint is down, and keeps serving', async () => {
    const { h, jwks } = await start(30_000);
    await jwks.close();
    for (let i = 0; i < 2; i += 1) {
      const res = await getBatches(h, await signWithJose(key1, 'ES256'));
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe(INVALID_TOKEN);
    }
    expect(h.upstream.received).toHaveLength(0);
    expect((await h.request.get('/healthz')).status).toBe(200);
    expect(h.logs.auditLines().map((line) => [line.status, line.reason])).toEqual([
      [401, 'jwks_unavailable'],
      [401, 'jwks_unavailable'],
    ]);
  });
});

describe('GET /v3/batches — JWKS: cooldown from the last attempt, max age, the last good set', () => {
  const start = useJwksHarness();

  async function sendEach(h: Harness, tokens: string[]): Promise<number[]> {
    const statuses: number[] = [];
    for (const token of tokens) statuses.push((await getBatches(h, token)).status);
    return statuses;
  }

  it('makes at most one fetch per cooldown for 20 made-up kids while the endpoint fails, and keeps the last good set', async () => {
    const { h, jwks, advance } = await start(1_000);
    expect((await getBatches(h, await signWithJose(key1, 'ES256'))).status).toBe(200);
    jwks.setStatus(503);
    advance(1_000);

    const strangers = await Promise.all(Array.from({ length: 20 }, madeUpKidToken));
    expect(await sendEach(h, strangers)).toEqual(Array<number>(20).fill(401));
    expect(jwks.fetchCount()).toBe(2);
    // The failed refetch left the set fetched first in use: its key still verifies new tokens.
    expect((await getBatches(h, await signWithJose(key1, 'ES256', 'bob'))).status).toBe(200);

    advance(999);
    expect(await sendEach(h, strangers)).toEqual(Array<number>(20).fill(401));
    expect(jwks.fetchCount()).toBe(2);
    advance(1);
    expect(await sendEach(h, strangers)).toEqual(Array<number>(20).fill(401));
    expect(jwks.fetchCount()).toBe(3);
  });

  it('makes at most one fetch per cooldown while no key set could ever be fetched (jwks_unavailable)', async () => {
    const { h, jwks, advance } = await start(1_000);
    jwks.setStatus(503);
    const tokens = await Promise.all(
      Array.from({ length: 20 }, (_, i) => signWithJose(key1, 'ES256', `u${i}`)),
    );
    const answers = [];
    for (const token of tokens) answers.push(await getBatches(h, token));
    expect(answers.map((res) => res.status)).toEqual(Array<number>(20).fill(401));
    expect(jwks.fetchCount()).toBe(1);
    expect((await auditOf(h, answers[19]!)).reason).toBe('jwks_unavailable');

    jwks.setStatus(200);
    advance(999);
    expect((await getBatches(h, tokens[0]!)).status).toBe(401);
    expect(jwks.fetchCount()).toBe(1);
    advance(1);
    expect((await getBatches(h, tokens[0]!)).status).toBe(200);
    expect(jwks.fetchCount()).toBe(2);
  });

  it('refetches a set older than JWT_JWKS_MAX_AGE_MS before a new token: a removed key stops verifying new tokens', async () => {
    const { h, jwks, advance } = await start(30_000, { maxAgeMs: 60_000, keys: [key1.jwk, key2.jwk] });
    const seen = await signWithJose(key2, 'EdDSA', 'seen-before');
    expect((await getBatches(h, seen)).status).toBe(200);
    jwks.setKeys([key1.jwk]);

    advance(59_999);
    expect((await getBatches(h, await signWithJose(key2, 'EdDSA', 'new-1'))).status).toBe(200);
    expect(jwks.fetchCount()).toBe(1);

    advance(1);
    const removed = await getBatches(h, await signWithJose(key2, 'EdDSA', 'new-2'));
    expect(removed.status).toBe(401);
    expect((await auditOf(h, removed)).reason).toBe('unknown_kid');
    expect(jwks.fetchCount()).toBe(2);
    expect((await getBatches(h, await signWithJose(key1, 'ES256', 'new-3'))).status).toBe(200);
    expect(jwks.fetchCount()).toBe(2);
    // A token verified before the key left is reused until its exp, as README "Security notes" says.
    expect((await getBatches(h, seen)).status).toBe(200);
  });

  it('keeps the age bound when JWT_JWKS_MAX_AGE_MS is shorter than the cooldown', async () => {
    const { h, jwks, advance } = await start(30_000, { maxAgeMs: 10_000, keys: [key1.jwk, key2.jwk] });
    expect((await getBatches(h, await signWithJose(key2, 'EdDSA', 'a'))).status).toBe(200);
    jwks.setKeys([key1.jwk]);
    advance(10_000);
    expect((await getBatches(h, await signWithJose(key2, 'EdDSA', 'b'))).status).toBe(401);
    expect(jwks.fetchCount()).toBe(2);
  });

  it.each<[string, (server: JwksServer) => void]>([
    ['answers 503', (server) => server.setStatus(503)],
    ['answers a body that is not JSON', (server) => server.setBody('<html>maintenance</html>')],
    ['answers JSON without a keys array', (server) => server.setBody('{"keys":"none"}')],
    [
      'answers a body over the size cap',
      (server) => server.setBody(JSON.stringify({ keys: [], pad: 'x'.repeat(2 ** 20) })),
    ],
  ])(
    'keeps verifying with the last good set when a max-age refetch fails: the endpoint %s',
    async (_case, breakEndpoint) => {
      const { h, jwks, advance } = await start(1_000, { maxAgeMs: 60_000 });
      expect((await getBatches(h, await signWithJose(key1, 'ES256', 'a'))).status).toBe(200);
      breakEndpoint(jwks);
      advance(60_000);
      expect((await getBatches(h, await signWithJose(key1, 'ES256', 'b'))).status).toBe(200);
      expect(jwks.fetchCount()).toBe(2);
      // The stale set is not refetched for every new token: the next attempt waits out the cooldown.
      expect((await getBatches(h, await signWithJose(key1, 'ES256', 'c'))).status).toBe(200);
      expect(jwks.fetchCount()).toBe(2);
      advance(1_000);
      expect((await getBatches(h, await signWithJose(key1, 'ES256', 'd'))).status).toBe(200);
      expect(jwks.fetchCount()).toBe(3);
    },
  );
  it('calls nobody upstream for a client that left while its token waited for the key set', async () => {
    const { h, jwks } = await start(30_000);
    const running = await listenHarness(h);
    try {
      jwks.setDelayMs(300);
      const token = await signWithJose(key1, 'ES256');
      const leaver = httpRequest(`${running.url}/v3/batches?cursor=left`, {
        agent: false,
        headers: { authorization: bearer(token), 'x-request-id': 'left-during-jwks' },
      });
      leaver.on('error', () => {});
      leaver.end();
      await waitFor(() => jwks.fetchCount() === 1);
      leaver.destroy();

      expect(await auditLineOf(h, 'left-during-jwks')).toMatchObject({
        status: 499,
        upstream_attempts: 0,
      });
      // The key set came, the token verified, and still no call went upstream for the one who left.
      expect((await getBatches(h, token)).status).toBe(200);
      expect(h.upstream.received.map((r) => r.query.get('cursor'))).toEqual([null]);
    } finally {
      await running.shutdown(0);
    }
  });
});
