// SPEC "Running" and "GET /v3/batches" Auth with JWT_JWKS_URL: keys per kid, one algorithm per key, refetch on unknown kid.
import { constants, createHmac, createPublicKey, randomUUID, sign, type JsonWebKey } from 'node:crypto';
import { SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './helpers/harness.js';
import {
  createSigningKey,
  signRawJwt,
  startJwksServer,
  withKid,
  type JwksServer,
  type SigningKey,
} from './helpers/jwks-server.js';
import { bearer } from './helpers/tokens.js';

const INVALID_TOKEN = 'Bearer realm="ntropy-bff", error="invalid_token"';

function startJwksHarness(jwks: JwksServer, cooldownMs: number): Promise<Harness> {
  return startHarness({
    env: {
      JWT_SECRET: undefined,
      JWT_JWKS_URL: jwks.url,
      JWT_JWKS_COOLDOWN_MS: String(cooldownMs),
      CACHE_TTL_MS: '0',
    },
  });
}

function signWithJose(key: SigningKey, alg: string, sub = 'alice'): Promise<string> {
  return new SignJWT({ sub })
    .setProtectedHeader({ alg, kid: key.kid })
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(key.privateKey);
}

function getBatches(h: Harness, token: string) {
  return h.request.get('/v3/batches').set('Authorization', bearer(token));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('GET /v3/batches — JWKS: which keys verify a token', () => {
  const rsa = createSigningKey('rsa', 'rsa-1', { alg: 'RS256' });
  const ec = createSigningKey('ec-p256', 'ec-1');
  const ed = createSigningKey('ed25519', 'ed-1', { alg: 'EdDSA' });
  const ec384 = createSigningKey('ec-p384', 'ec384-1', { alg: 'ES384' });
  // The same key material as above, published with an `alg` that disagrees with SPEC's table.
  const rsaAsPs256 = withKid(rsa, 'rsa-as-ps256', { alg: 'PS256' });
  const rsaAsRs384 = withKid(rsa, 'rsa-as-rs384', { alg: 'RS384' });
  const ecAsEs384 = withKid(ec, 'ec-as-es384', { alg: 'ES384' });
  const ed448 = createSigningKey('ed448', 'ed448-1');
  const hmacSecret = Buffer.from('a-shared-secret-of-at-least-32-bytes!!');
  const hmacJwk = { kty: 'oct', k: hmacSecret.toString('base64url'), kid: 'hmac-1', alg: 'HS256' };

  let jwks: JwksServer;
  let h: Harness;
  beforeAll(async () => {
    jwks = await startJwksServer(
      [rsa, ec, ed, ec384, rsaAsPs256, rsaAsRs384, ecAsEs384, ed448].map((key) => key.jwk).concat(hmacJwk),
    );
    h = await startJwksHarness(jwks, 30_000);
  });
  afterAll(async () => {
    await h.close();
    await jwks.close();
  });
  beforeEach(() => h.upstream.reset());

  it.each([
    ['RS256 with an RSA key', rsa, 'RS256'],
    ['ES256 with a P-256 key', ec, 'ES256'],
    ['EdDSA with an Ed25519 key', ed, 'EdDSA'],
    ['ES384 with a P-384 key', ec384, 'ES384'],
  ])('accepts a token signed by a key in the set: %s', async (_case, key, alg) => {
    const res = await getBatches(h, await signWithJose(key, alg, `sub-${key.kid}`));
    expect(res.status).toBe(200);
    expect(h.upstream.received).toHaveLength(1);
    expect(h.logs.auditLines().at(-1)).toMatchObject({ sub: `sub-${key.kid}`, status: 200 });
  });

  const rsaSigner =
    (digest: string, padding = constants.RSA_PKCS1_PADDING) =>
    (input: Buffer) =>
      sign(digest, input, { key: rsa.privateKey, padding, saltLength: 32 });
  const ecSigner = (digest: string) => (input: Buffer) =>
    sign(digest, input, { key: ec.privateKey, dsaEncoding: 'ieee-p1363' });

  it.each([
    [
      'an RSA key published as PS256, token PS256',
      'rsa-as-ps256',
      'PS256',
      rsaSigner('sha256', constants.RSA_PKCS1_PSS_PADDING),
    ],
    ['an RSA key published as PS256, token RS256', 'rsa-as-ps256', 'RS256', rsaSigner('sha256')],
    ['an RSA key published as RS384, token RS384', 'rsa-as-rs384', 'RS384', rsaSigner('sha384')],
    ['an RSA key published as RS384, token RS256', 'rsa-as-rs384', 'RS256', rsaSigner('sha256')],
    ['a P-256 key published as ES384, token ES256', 'ec-as-es384', 'ES256', ecSigner('sha256')],
    ['a P-256 key published as ES384, token ES384', 'ec-as-es384', 'ES384', ecSigner('sha384')],
  ])('ignores a JWKS key whose own alg disagrees with the table: %s', async (_case, kid, alg, signer) => {
    const res = await getBatches(h, signRawJwt({ header: { alg, kid, typ: 'JWT' }, signer }));
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe(INVALID_TOKEN);
    expect(h.upstream.received).toHaveLength(0);
  });

  it('accepts the same hand-made RS256 token under the kid published as RS256 (control for the rows above)', async () => {
    const res = await getBatches(
      h,
      signRawJwt({ header: { alg: 'RS256', kid: 'rsa-1', typ: 'JWT' }, signer: rsaSigner('sha256') }),
    );
    expect(res.status).toBe(200);
  });

  it('rejects a token whose kid is not in the set with 401 invalid_token', async () => {
    const stranger = createSigningKey('ec-p256', 'not-in-the-set');
    const res = await getBatches(h, await signWithJose(stranger, 'ES256'));
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe(INVALID_TOKEN);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(res.body).toMatchObject({ status: 401, code: 'unauthorized' });
    expect(h.upstream.received).toHaveLength(0);
    expect(h.logs.auditLines().at(-1)).toMatchObject({ status: 401, code: 'unauthorized', sub: null });
  });

  it('rejects a token signed by a listed kid with a key not in the set', async () => {
    const impostor = createSigningKey('ec-p256', 'ec-1');
    const res = await getBatches(h, await signWithJose(impostor, 'ES256'));
    expect(res.status).toBe(401);
    expect(h.upstream.received).toHaveLength(0);
  });

  it('rejects HS256 even when its kid names a symmetric key published in the set', async () => {
    const token = signRawJwt({
      header: { alg: 'HS256', kid: 'hmac-1', typ: 'JWT' },
      signer: (input) => createHmac('sha256', hmacSecret).update(input).digest(),
    });
    const res = await getBatches(h, token);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe(INVALID_TOKEN);
    expect(h.upstream.received).toHaveLength(0);
  });

  it('rejects HS256 keyed with an RSA public key of the set (algorithm confusion)', async () => {
    const pem = createPublicKey({ key: rsa.jwk as JsonWebKey, format: 'jwk' }).export({
      type: 'spki',
      format: 'pem',
    });
    const token = signRawJwt({
      header: { alg: 'HS256', kid: 'rsa-1', typ: 'JWT' },
      signer: (input) => createHmac('sha256', pem).update(input).digest(),
    });
    const res = await getBatches(h, token);
    expect(res.status).toBe(401);
    expect(h.upstream.received).toHaveLength(0);
  });

  it('rejects alg none', async () => {
    const res = await getBatches(h, signRawJwt({ header: { alg: 'none', kid: 'rsa-1', typ: 'JWT' } }));
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe(INVALID_TOKEN);
    expect(h.upstream.received).toHaveLength(0);
  });

  it('rejects EdDSA with an Ed448 key (SPEC allows Ed25519 only)', async () => {
    const token = signRawJwt({
      header: { alg: 'EdDSA', kid: 'ed448-1', typ: 'JWT' },
      signer: (input) => sign(null, input, ed448.privateKey),
    });
    const res = await getBatches(h, token);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe(INVALID_TOKEN);
    expect(h.upstream.received).toHaveLength(0);
  });
});

describe('GET /v3/batches — JWKS: fetching, rotation and unknown kids', () => {
  const key1 = createSigningKey('ec-p256', 'kid-1', { alg: 'ES256' });
  const key2 = createSigningKey('ed25519', 'kid-2', { alg: 'EdDSA' });

  let jwks: JwksServer;
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
    await jwks.close();
  });

  async function start(cooldownMs: number): Promise<Harness> {
    jwks = await startJwksServer([key1.jwk]);
    h = await startJwksHarness(jwks, cooldownMs);
    return h;
  }

  it('does not fetch the key set at startup, fetches it for the first token and keeps it', async () => {
    const h = await start(30_000);
    expect(jwks.fetchCount()).toBe(0);
    for (let i = 0; i < 3; i += 1)
      expect((await getBatches(h, await signWithJose(key1, 'ES256'))).status).toBe(200);
    expect(jwks.fetchCount()).toBe(1);
  });

  it('refetches once when a token names a new kid after the cooldown has passed (key rotation)', async () => {
    const h = await start(100);
    expect((await getBatches(h, await signWithJose(key1, 'ES256'))).status).toBe(200);
    expect(jwks.fetchCount()).toBe(1);
    jwks.setKeys([key1.jwk, key2.jwk]);
    await sleep(200);

    const rotated = await getBatches(h, await signWithJose(key2, 'EdDSA'));
    expect(rotated.status).toBe(200);
    expect(jwks.fetchCount()).toBe(2);
    expect((await getBatches(h, await signWithJose(key2, 'EdDSA'))).status).toBe(200);
    expect((await getBatches(h, await signWithJose(key1, 'ES256'))).status).toBe(200);
    expect(jwks.fetchCount()).toBe(2);
  });

  it('does not refetch for a new kid within the cooldown', async () => {
    const h = await start(30_000);
    expect((await getBatches(h, await signWithJose(key1, 'ES256'))).status).toBe(200);
    jwks.setKeys([key1.jwk, key2.jwk]);
    const res = await getBatches(h, await signWithJose(key2, 'EdDSA'));
    expect(res.status).toBe(401);
    expect(jwks.fetchCount()).toBe(1);
  });

  it('lets a burst of random unknown kids cause at most one refetch while known kids keep working', async () => {
    const h = await start(30_000);
    const known = await signWithJose(key1, 'ES256');
    expect((await getBatches(h, known)).status).toBe(200);

    const strangers = await Promise.all(
      Array.from({ length: 50 }, () => signWithJose({ ...key1, kid: randomUUID() }, 'ES256')),
    );
    const [unknownAnswers, knownAnswers] = await Promise.all([
      Promise.all(strangers.map((token) => getBatches(h, token))),
      Promise.all(Array.from({ length: 10 }, () => getBatches(h, known))),
    ]);
    expect(unknownAnswers.map((res) => res.status)).toEqual(Array<number>(50).fill(401));
    expect(knownAnswers.map((res) => res.status)).toEqual(Array<number>(10).fill(200));
    expect(jwks.fetchCount()).toBeLessThanOrEqual(2);
    expect((await getBatches(h, known)).status).toBe(200);
    expect(jwks.fetchCount()).toBeLessThanOrEqual(2);
    const refused = h.logs.auditLines().filter((line) => line.status === 401);
    expect(refused).toHaveLength(50);
    expect(refused.every((line) => line.upstream_attempts === 0)).toBe(true);
  });

  it('lets a burst of random unknown kids as the very first tokens cause at most two fetches', async () => {
    const h = await start(30_000);
    const strangers = await Promise.all(
      Array.from({ length: 50 }, () => signWithJose({ ...key1, kid: randomUUID() }, 'ES256')),
    );
    const answers = await Promise.all(strangers.map((token) => getBatches(h, token)));
    expect(answers.every((res) => res.status === 401)).toBe(true);
    expect(jwks.fetchCount()).toBeLessThanOrEqual(2);
    const fetchesAfterBurst = jwks.fetchCount();
    expect((await getBatches(h, await signWithJose(key1, 'ES256'))).status).toBe(200);
    expect(jwks.fetchCount()).toBe(fetchesAfterBurst);
    expect(h.upstream.received).toHaveLength(1);
  });

  it('answers 401, not 500, while the JWKS endpoint fails, keeps serving, and recovers', async () => {
    const h = await start(30_000);
    jwks.setStatus(503);
    const res = await getBatches(h, await signWithJose(key1, 'ES256'));
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe(INVALID_TOKEN);
    expect(res.body).toMatchObject({ code: 'unauthorized' });
    expect(h.upstream.received).toHaveLength(0);
    expect((await h.request.get('/healthz')).status).toBe(200);

    jwks.setStatus(200);
    expect((await getBatches(h, await signWithJose(key1, 'ES256'))).status).toBe(200);
  });

  it('answers 401, not 500, when the JWKS endpoint is down, and keeps serving', async () => {
    const h = await start(30_000);
    await jwks.close();
    for (let i = 0; i < 2; i += 1) {
      const res = await getBatches(h, await signWithJose(key1, 'ES256'));
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe(INVALID_TOKEN);
    }
    expect(h.upstream.received).toHaveLength(0);
    expect((await h.request.get('/healthz')).status).toBe(200);
    expect(h.logs.auditLines().map((line) => line.status)).toEqual([401, 401]);
  });
});
