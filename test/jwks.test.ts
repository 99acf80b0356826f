// SPEC "Running" and "GET /v3/batches" Auth with JWT_JWKS_URL: which keys of a set verify a token, each with its one algorithm.
import { constants, createHmac, createPublicKey, sign, type JsonWebKey } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { auditOf } from './helpers/audit-lines.js';
import type { Harness } from './helpers/harness.js';
import {
  createSigningKey,
  signRawJwt,
  signWithJose,
  startJwksHarness,
  startJwksServer,
  withKid,
  type JwksServer,
} from './helpers/jwks-server.js';
import { WAIT_LIMIT_MS } from './helpers/server-process.js';
import { settlesWithin } from './helpers/settles-within.js';
import { bearer } from './helpers/tokens.js';

const INVALID_TOKEN = 'Bearer realm="ntropy-bff", error="invalid_token"';

function getBatches(h: Harness, token: string) {
  return h.request.get('/v3/batches').set('Authorization', bearer(token));
}

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
  // Keys SPEC refuses however they are published: RSA under 2048 bits, other EC curves, encryption keys.
  const rsa1024 = createSigningKey('rsa-1024', 'rsa-1024', { alg: 'RS256' });
  const secp256k1 = createSigningKey('ec-secp256k1', 'secp256k1-1');
  const rsaForEncryption = withKid(rsa, 'rsa-enc', { use: 'enc' });
  const hmacSecret = Buffer.from('a-shared-secret-of-at-least-32-bytes!!');
  const hmacJwk = { kty: 'oct', k: hmacSecret.toString('base64url'), kid: 'hmac-1', alg: 'HS256' };

  let jwks: JwksServer;
  let h: Harness;
  beforeAll(async () => {
    jwks = await startJwksServer(
      [rsa, ec, ed, ec384, rsaAsPs256, rsaAsRs384, ecAsEs384, ed448, rsa1024, secp256k1, rsaForEncryption]
        .map((key) => key.jwk)
        .concat(hmacJwk),
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
      'wrong_algorithm',
    ],
    [
      'an RSA key published as PS256, token RS256',
      'rsa-as-ps256',
      'RS256',
      rsaSigner('sha256'),
      'unknown_kid',
    ],
    [
      'an RSA key published as RS384, token RS384',
      'rsa-as-rs384',
      'RS384',
      rsaSigner('sha384'),
      'wrong_algorithm',
    ],
    [
      'an RSA key published as RS384, token RS256',
      'rsa-as-rs384',
      'RS256',
      rsaSigner('sha256'),
      'unknown_kid',
    ],
    [
      'a P-256 key published as ES384, token ES256',
      'ec-as-es384',
      'ES256',
      ecSigner('sha256'),
      'unknown_kid',
    ],
    [
      'a P-256 key published as ES384, token ES384',
      'ec-as-es384',
      'ES384',
      ecSigner('sha384'),
      'unknown_kid',
    ],
  ])(
    'ignores a JWKS key whose own alg disagrees with the table: %s',
    async (_case, kid, alg, signer, reason) => {
      const res = await getBatches(h, signRawJwt({ header: { alg, kid, typ: 'JWT' }, signer }));
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe(INVALID_TOKEN);
      expect(h.upstream.received).toHaveLength(0);
      expect((await auditOf(h, res)).reason).toBe(reason);
    },
  );

  it.each<[string, string, string, (input: Buffer) => Buffer]>([
    [
      'an RSA key of 1024 bits (RS256)',
      'rsa-1024',
      'RS256',
      (input) => sign('sha256', input, rsa1024.privateKey),
    ],
    [
      'an EC key on secp256k1, token ES256',
      'secp256k1-1',
      'ES256',
      (input) => sign('sha256', input, { key: secp256k1.privateKey, dsaEncoding: 'ieee-p1363' }),
    ],
    ['an RSA key published for encryption (use enc)', 'rsa-enc', 'RS256', rsaSigner('sha256')],
    [
      'an Ed448 key (SPEC allows Ed25519 only)',
      'ed448-1',
      'EdDSA',
      (input) => sign(null, input, ed448.privateKey),
    ],
  ])('ignores %s published in the set: its tokens meet an unknown kid', async (_case, kid, alg, signer) => {
    const res = await getBatches(h, signRawJwt({ header: { alg, kid, typ: 'JWT' }, signer }));
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe(INVALID_TOKEN);
    expect(h.upstream.received).toHaveLength(0);
    expect((await auditOf(h, res)).reason).toBe('unknown_kid');
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
    expect((await auditOf(h, res)).reason).toBe('unknown_kid');
    expect(h.logs.auditLines().at(-1)).toMatchObject({ status: 401, code: 'unauthorized', sub: null });
  });

  it('rejects a token signed by a listed kid with a key not in the set', async () => {
    const impostor = createSigningKey('ec-p256', 'ec-1');
    const res = await getBatches(h, await signWithJose(impostor, 'ES256'));
    expect(res.status).toBe(401);
    expect(h.upstream.received).toHaveLength(0);
    expect((await auditOf(h, res)).reason).toBe('bad_signature');
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
    expect((await auditOf(h, res)).reason).toBe('wrong_algorithm');
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
    expect((await auditOf(h, res)).reason).toBe('wrong_algorithm');
  });

  it('rejects alg none', async () => {
    const res = await getBatches(h, signRawJwt({ header: { alg: 'none', kid: 'rsa-1', typ: 'JWT' } }));
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe(INVALID_TOKEN);
    expect(h.upstream.received).toHaveLength(0);
    expect((await auditOf(h, res)).reason).toBe('wrong_algorithm');
  });
});

describe('JWKS — its connections close with the service', () => {
  it(
    'closing the service closes its idle keep-alive connection to the JWKS endpoint',
    async () => {
      const key = createSigningKey('ec-p256', 'ec-close-1');
      const jwks = await startJwksServer([key.jwk]);
      try {
        const h = await startJwksHarness(jwks, 30_000);
        let res;
        try {
          res = await getBatches(h, await signWithJose(key, 'ES256'));
        } finally {
          await h.close();
        }
        // Far below the minute the endpoint keeps an idle connection for, far above a loaded machine's delay.
        const isClosedWithService = await settlesWithin(jwks.allConnectionsClosed(), WAIT_LIMIT_MS);

        expect(res.status).toBe(200);
        expect(jwks.fetchCount()).toBe(1);
        expect(isClosedWithService).toBe(true);
      } finally {
        await jwks.close();
      }
    },
    2 * WAIT_LIMIT_MS,
  );
});
