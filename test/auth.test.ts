// SPEC "GET /v3/batches" Auth: header-only JWTs, one algorithm per key, exp/nbf/iss/aud, scope, RFC 6750.
import {
  constants,
  createHmac,
  createSecretKey,
  generateKeyPairSync,
  sign as signBytes,
  type KeyObject,
} from 'node:crypto';
import { SignJWT } from 'jose';
import type { Response } from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from './helpers/harness.js';
import { expectProblem } from './helpers/problem.js';
import { bearer, JWT_SECRET, signToken } from './helpers/tokens.js';

const REALM = 'Bearer realm="ntropy-bff"';
const INVALID_TOKEN = `${REALM}, error="invalid_token"`;

/** A harness per describe block; cache off so every 200 goes upstream; upstream record cleared per test. */
function useHarness(env: Record<string, string | undefined> = {}): () => Harness {
  let harness: Harness | undefined;
  beforeAll(async () => {
    harness = await startHarness({ env: { CACHE_TTL_MS: '0', ...env } });
  });
  afterAll(() => harness?.close());
  beforeEach(() => harness?.upstream.reset());
  return () => {
    if (harness === undefined) throw new Error('harness not started');
    return harness;
  };
}

function nowS(): number {
  return Math.floor(Date.now() / 1000);
}

function base64url(value: object | Buffer): string {
  return (Buffer.isBuffer(value) ? value : Buffer.from(JSON.stringify(value))).toString('base64url');
}

/** Signs the JWS input with `alg` as written, whatever the key: the tool for confusion attacks. */
function signRaw(alg: string, secretOrKey: KeyObject | string, input: string): Buffer {
  const data = Buffer.from(input);
  const key = typeof secretOrKey === 'string' ? createSecretKey(Buffer.from(secretOrKey)) : secretOrKey;
  const hash = `sha${alg.slice(2)}`;
  if (alg === 'none') return Buffer.alloc(0);
  if (alg === 'EdDSA') return signBytes(null, data, key);
  if (alg.startsWith('HS')) return createHmac(hash, key).update(data).digest();
  if (alg.startsWith('RS')) return signBytes(hash, data, key);
  if (alg.startsWith('PS')) {
    const padding = constants.RSA_PKCS1_PSS_PADDING;
    return signBytes(hash, data, { key, padding, saltLength: constants.RSA_PSS_SALTLEN_DIGEST });
  }
  if (alg.startsWith('ES')) return signBytes(hash, data, { key, dsaEncoding: 'ieee-p1363' });
  throw new Error(`no raw signer for ${alg}`);
}

/** A hand-built compact JWT: header {alg, typ}, sub alice, valid for an hour unless claims say otherwise. */
function craftToken(alg: string, key: KeyObject | string, claims: Record<string, unknown> = {}): string {
  const payload = { sub: 'alice', iat: nowS(), exp: nowS() + 3600, ...claims };
  const input = `${base64url({ alg, typ: 'JWT' })}.${base64url(payload)}`;
  return `${input}.${base64url(signRaw(alg, key, input))}`;
}

/** A validly signed HS256 token of exactly `length` characters (a padding claim; a kid for odd sizes). */
function tokenOfLength(length: number): string {
  for (let kidLength = 0; kidLength < 4; kidLength++) {
    const header = kidLength === 0 ? {} : { kid: 'k'.repeat(kidLength) };
    const sign = (pad: number) => signToken({ header, claims: { pad: 'p'.repeat(pad) } });
    const start = Math.max(0, Math.floor(((length - sign(0).length) * 3) / 4) - 8);
    for (let pad = start; pad < start + 16; pad++) {
      const token = sign(pad);
      if (token.length === length) return token;
    }
  }
  throw new Error(`could not build a token of ${length} characters`);
}

function pemOf(key: KeyObject): string {
  return key.export({ type: 'spki', format: 'pem' }).toString();
}

/** The shared problem checks, plus the RFC 6750 challenge and nothing sent upstream. */
function expectRefused(h: Harness, res: Response, status: number, code: string, challenge: string): void {
  expectProblem(res, status, code);
  expect(res.headers['www-authenticate']).toBe(challenge);
  expect(h.upstream.received).toEqual([]);
}

function expectUnauthorized(h: Harness, res: Response, challenge: string = INVALID_TOKEN): void {
  expectRefused(h, res, 401, 'unauthorized', challenge);
}

function auditLineOf(h: Harness, res: Response): Record<string, unknown> | undefined {
  return h.logs.auditLines().find((line) => line.request_id === res.headers['x-request-id']);
}

describe('GET /v3/batches — authentication with a shared secret (HS256)', () => {
  const harness = useHarness();

  it('accepts a valid HS256 token from the Authorization header and goes upstream', async () => {
    const h = harness();
    const res = await h.request.get('/v3/batches').set('Authorization', bearer());
    expect(res.status).toBe(200);
    expect(h.upstream.received).toHaveLength(1);
  });

  it('answers 401 with a bare Bearer challenge (no error attribute) without Authorization', async () => {
    const h = harness();
    const res = await h.request.get('/v3/batches');
    expectUnauthorized(h, res, REALM);
  });

  it('answers 401 with a bare Bearer challenge for a Basic Authorization header', async () => {
    const h = harness();
    const res = await h.request.get('/v3/batches').set('Authorization', 'Basic YWxpY2U6c2VjcmV0');
    expectUnauthorized(h, res, REALM);
  });

  it('authenticates before the query check: ?access_token= is neither read nor a 400', async () => {
    const h = harness();
    const res = await h.request.get(`/v3/batches?access_token=${signToken()}`);
    expectUnauthorized(h, res, REALM);
  });

  it('does not read a token from a cookie', async () => {
    const h = harness();
    const token = signToken();
    const res = await h.request
      .get('/v3/batches')
      .set('Cookie', `access_token=${token}; token=${token}; Authorization=Bearer%20${token}`);
    expectUnauthorized(h, res, REALM);
  });

  it.each<[string, () => string]>([
    ['a garbage string', () => 'garbage'],
    ['three dot-separated parts that are not a JWT', () => 'a.b.c'],
    ['a token signed with another secret', () => signToken({ key: 'another-secret-of-at-least-32-bytes!!' })],
    ['a token with a tampered payload', () => tamperedToken()],
    ['alg none with an empty signature', () => craftToken('none', '')],
    ['alg none with a real HS256 signature appended', () => noneWithSignature()],
    ['HS384 signed with the right secret', () => craftToken('HS384', JWT_SECRET)],
    ['HS512 signed with the right secret', () => craftToken('HS512', JWT_SECRET)],
    ['a token without exp', () => signToken({ expiresInS: null })],
    ['a token expired beyond the 30 s clock tolerance', () => signToken({ expiresInS: -60 })],
    [
      'a token whose nbf is beyond the tolerance in the future',
      () => signToken({ claims: { nbf: nowS() + 120 } }),
    ],
    ['a token without sub', () => signToken({ claims: { sub: undefined } })],
    ['a token with an empty sub', () => signToken({ claims: { sub: '' } })],
    ['a token of 8193 characters', () => tokenOfLength(8193)],
  ])('answers 401 invalid_token for %s, and never calls upstream', async (_case, makeToken) => {
    const h = harness();
    const res = await h.request.get('/v3/batches').set('Authorization', bearer(makeToken()));
    expectUnauthorized(h, res);
  });

  it.each<[string, () => string]>([
    [
      'HS256 hand-built with the right secret (the raw signer is sound)',
      () => craftToken('HS256', JWT_SECRET),
    ],
    ['a token expired within the 30 s clock tolerance', () => signToken({ expiresInS: -10 })],
    [
      'a token whose nbf is within the tolerance in the future',
      () => signToken({ claims: { nbf: nowS() + 10 } }),
    ],
    ['a token of exactly 8192 characters', () => tokenOfLength(8192)],
  ])('accepts %s', async (_case, makeToken) => {
    const h = harness();
    const token = makeToken();
    const res = await h.request.get('/v3/batches').set('Authorization', bearer(token));
    expect(res.status).toBe(200);
    expect(h.upstream.received).toHaveLength(1);
  });

  it('builds length-exact tokens for the 8192 boundary', () => {
    expect(tokenOfLength(8192)).toHaveLength(8192);
    expect(tokenOfLength(8193)).toHaveLength(8193);
  });

  it('writes an audit line for a 401 with status 401, code unauthorized and sub null', async () => {
    const h = harness();
    const res = await h.request.get('/v3/batches').set('Authorization', bearer('garbage'));
    expect(res.status).toBe(401);
    expect(auditLineOf(h, res)).toMatchObject({
      audit: true,
      status: 401,
      code: 'unauthorized',
      sub: null,
      upstream_attempts: 0,
    });
  });

  it('does not log the rejected token', async () => {
    const h = harness();
    const token = signToken({ key: 'another-secret-of-at-least-32-bytes!!' });
    await h.request.get('/v3/batches').set('Authorization', bearer(token));
    expect(h.logs.text()).not.toContain(token);
  });
});

function tamperedToken(): string {
  const [header, , signature] = signToken().split('.');
  const payload = base64url({ sub: 'mallory', exp: nowS() + 3600 });
  return `${header}.${payload}.${signature}`;
}

function noneWithSignature(): string {
  const [, payload, signature] = signToken().split('.');
  return `${base64url({ alg: 'none', typ: 'JWT' })}.${payload}.${signature}`;
}

describe('GET /v3/batches — clock tolerance from JWT_CLOCK_TOLERANCE_S', () => {
  const harness = useHarness({ JWT_CLOCK_TOLERANCE_S: '120' });

  it.each<[string, number | null, number, number]>([
    ['expired 60 s ago, within a 120 s tolerance', -60, 0, 200],
    ['expired 300 s ago, beyond a 120 s tolerance', -300, 0, 401],
    ['nbf 60 s ahead, within a 120 s tolerance', 3600, 60, 200],
    ['nbf 300 s ahead, beyond a 120 s tolerance', 3600, 300, 401],
  ])('%s → %i', async (_case, expiresInS, nbfAheadS, status) => {
    const h = harness();
    const claims = nbfAheadS === 0 ? {} : { nbf: nowS() + nbfAheadS };
    const res = await h.request
      .get('/v3/batches')
      .set('Authorization', bearer(signToken({ expiresInS, claims })));
    expect(res.status).toBe(status);
    if (status === 401) expectUnauthorized(h, res);
  });
});

describe('GET /v3/batches — JWT_ISSUER and JWT_AUDIENCE', () => {
  const harness = useHarness({ JWT_ISSUER: 'https://id.example.com/', JWT_AUDIENCE: 'ntropy-bff' });

  it.each<[string, Record<string, unknown>]>([
    ['matching iss and aud', { iss: 'https://id.example.com/', aud: 'ntropy-bff' }],
    [
      'an aud array that contains the audience',
      { iss: 'https://id.example.com/', aud: ['other', 'ntropy-bff'] },
    ],
  ])('accepts %s', async (_case, claims) => {
    const h = harness();
    const res = await h.request.get('/v3/batches').set('Authorization', bearer(signToken({ claims })));
    expect(res.status).toBe(200);
  });

  it.each<[string, Record<string, unknown>]>([
    ['another iss', { iss: 'https://evil.example.com/', aud: 'ntropy-bff' }],
    ['no iss', { aud: 'ntropy-bff' }],
    ['another aud', { iss: 'https://id.example.com/', aud: 'other-app' }],
    ['no aud', { iss: 'https://id.example.com/' }],
  ])('answers 401 invalid_token for %s', async (_case, claims) => {
    const h = harness();
    const res = await h.request.get('/v3/batches').set('Authorization', bearer(signToken({ claims })));
    expectUnauthorized(h, res);
  });
});

describe('GET /v3/batches — required scope (JWT_REQUIRED_SCOPE)', () => {
  const harness = useHarness({ JWT_REQUIRED_SCOPE: 'batches:read' });
  const insufficientScope = `${REALM}, error="insufficient_scope", scope="batches:read"`;

  it.each<[string, Record<string, unknown>]>([
    ['in a space-separated scope string among others', { scope: 'openid batches:read profile' }],
    ['as the whole scope string', { scope: 'batches:read' }],
    ['in an scp array', { scp: ['openid', 'batches:read'] }],
    ['in a space-separated scp string', { scp: 'openid batches:read' }],
  ])('accepts the scope granted %s', async (_case, claims) => {
    const h = harness();
    const res = await h.request.get('/v3/batches').set('Authorization', bearer(signToken({ claims })));
    expect(res.status).toBe(200);
    expect(h.upstream.received).toHaveLength(1);
  });

  it.each<[string, Record<string, unknown>]>([
    ['no scope at all', {}],
    ['other scopes only', { scope: 'openid batches:write', scp: ['profile'] }],
    ['a longer scope that merely starts with it', { scope: 'batches:readall' }],
    ['a comma-separated list, which is not the format', { scope: 'openid,batches:read' }],
  ])('answers 403 insufficient_scope for a valid token with %s', async (_case, claims) => {
    const h = harness();
    const res = await h.request.get('/v3/batches').set('Authorization', bearer(signToken({ claims })));
    expectRefused(h, res, 403, 'forbidden', insufficientScope);
  });

  it('checks the token before the scope: an invalid token lacking the scope is 401, not 403', async () => {
    const h = harness();
    const res = await h.request
      .get('/v3/batches')
      .set('Authorization', bearer(signToken({ expiresInS: -600 })));
    expectUnauthorized(h, res);
  });

  it('writes an audit line for a 403 that carries the sub', async () => {
    const h = harness();
    const token = signToken({ claims: { sub: 'bob', scope: 'openid' } });
    const res = await h.request.get('/v3/batches').set('Authorization', bearer(token));
    expect(res.status).toBe(403);
    expect(auditLineOf(h, res)).toMatchObject({ audit: true, status: 403, code: 'forbidden', sub: 'bob' });
  });
});

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const otherRsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
// @types/node 20 declares saltLength a string; Node wants the number of bytes.
const RSA_PSS_OPTIONS = {
  modulusLength: 2048,
  hashAlgorithm: 'sha256',
  mgf1HashAlgorithm: 'sha256',
  saltLength: 32 as unknown as string,
};
const rsaPss = generateKeyPairSync('rsa-pss', RSA_PSS_OPTIONS);
const otherRsaPss = generateKeyPairSync('rsa-pss', RSA_PSS_OPTIONS);
const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
const p521 = generateKeyPairSync('ec', { namedCurve: 'P-521' });
const ed25519 = generateKeyPairSync('ed25519');
const otherEd25519 = generateKeyPairSync('ed25519');

interface KeyCase {
  name: string;
  publicKey: KeyObject;
  /** The one algorithm SPEC's table allows for this key, signed by a real JWT library. */
  algorithm: string;
  signWithLibrary: (claims?: Record<string, unknown>) => Promise<string>;
  /** Tokens over the same key material (or a lookalike) that must be refused. */
  rejected: [string, () => string][];
  /** The allowed algorithm, hand-built: proves the raw signer behind the rejected rows is sound. */
  acceptedRaw: () => string;
}

const libraryToken = (key: KeyObject, algorithm: 'RS256' | 'PS256' | 'ES256' | 'ES384' | 'ES512') => () =>
  Promise.resolve(signToken({ key, algorithm }));

const confusion = (publicKey: KeyObject): [string, () => string] => [
  'HS256 signed with the PEM text as the HMAC secret (algorithm confusion)',
  () => craftToken('HS256', pemOf(publicKey)),
];

const KEY_CASES: KeyCase[] = [
  {
    name: 'an RSA PEM',
    publicKey: rsa.publicKey,
    algorithm: 'RS256',
    signWithLibrary: libraryToken(rsa.privateKey, 'RS256'),
    acceptedRaw: () => craftToken('RS256', rsa.privateKey),
    rejected: [
      ['PS256 with the same RSA key', () => craftToken('PS256', rsa.privateKey)],
      ['RS384 with the same RSA key', () => craftToken('RS384', rsa.privateKey)],
      ['RS512 with the same RSA key', () => craftToken('RS512', rsa.privateKey)],
      ['RS256 from another RSA key', () => craftToken('RS256', otherRsa.privateKey)],
      ['RS256 without exp', () => craftToken('RS256', rsa.privateKey, { exp: undefined })],
      ['alg none', () => craftToken('none', '')],
      confusion(rsa.publicKey),
    ],
  },
  {
    name: 'an RSA-PSS PEM',
    publicKey: rsaPss.publicKey,
    algorithm: 'PS256',
    signWithLibrary: libraryToken(rsaPss.privateKey, 'PS256'),
    acceptedRaw: () => craftToken('PS256', rsaPss.privateKey),
    rejected: [
      ['PS256 from another RSA-PSS key', () => craftToken('PS256', otherRsaPss.privateKey)],
      ['PS256 without exp', () => craftToken('PS256', rsaPss.privateKey, { exp: undefined })],
      ['alg none', () => craftToken('none', '')],
      confusion(rsaPss.publicKey),
    ],
  },
  {
    name: 'an EC P-256 PEM',
    publicKey: p256.publicKey,
    algorithm: 'ES256',
    signWithLibrary: libraryToken(p256.privateKey, 'ES256'),
    acceptedRaw: () => craftToken('ES256', p256.privateKey),
    rejected: [
      ['ES384 with the same P-256 key', () => craftToken('ES384', p256.privateKey)],
      ['ES512 with the same P-256 key', () => craftToken('ES512', p256.privateKey)],
      ['ES256 from a P-384 key', () => craftToken('ES256', p384.privateKey)],
      ['ES256 without exp', () => craftToken('ES256', p256.privateKey, { exp: undefined })],
      confusion(p256.publicKey),
    ],
  },
  {
    name: 'an EC P-384 PEM',
    publicKey: p384.publicKey,
    algorithm: 'ES384',
    signWithLibrary: libraryToken(p384.privateKey, 'ES384'),
    acceptedRaw: () => craftToken('ES384', p384.privateKey),
    rejected: [
      ['ES256 with the same P-384 key', () => craftToken('ES256', p384.privateKey)],
      ['ES512 with the same P-384 key', () => craftToken('ES512', p384.privateKey)],
      confusion(p384.publicKey),
    ],
  },
  {
    name: 'an EC P-521 PEM',
    publicKey: p521.publicKey,
    algorithm: 'ES512',
    signWithLibrary: libraryToken(p521.privateKey, 'ES512'),
    acceptedRaw: () => craftToken('ES512', p521.privateKey),
    rejected: [
      ['ES256 with the same P-521 key', () => craftToken('ES256', p521.privateKey)],
      ['ES384 with the same P-521 key', () => craftToken('ES384', p521.privateKey)],
      confusion(p521.publicKey),
    ],
  },
  {
    name: 'an Ed25519 PEM',
    publicKey: ed25519.publicKey,
    algorithm: 'EdDSA',
    signWithLibrary: () =>
      new SignJWT({})
        .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT' })
        .setSubject('alice')
        .setIssuedAt()
        .setExpirationTime('1h')
        .sign(ed25519.privateKey),
    acceptedRaw: () => craftToken('EdDSA', ed25519.privateKey),
    rejected: [
      ['EdDSA from another Ed25519 key', () => craftToken('EdDSA', otherEd25519.privateKey)],
      ['EdDSA without exp', () => craftToken('EdDSA', ed25519.privateKey, { exp: undefined })],
      [
        'EdDSA expired beyond the tolerance',
        () => craftToken('EdDSA', ed25519.privateKey, { exp: nowS() - 60 }),
      ],
      ['alg none', () => craftToken('none', '')],
      confusion(ed25519.publicKey),
    ],
  },
];

describe.each(KEY_CASES)('GET /v3/batches — JWT_PUBLIC_KEY is $name', (keyCase) => {
  const harness = useHarness({ JWT_SECRET: undefined, JWT_PUBLIC_KEY: pemOf(keyCase.publicKey) });

  it(`accepts ${keyCase.algorithm}, its one algorithm`, async () => {
    const h = harness();
    const res = await h.request
      .get('/v3/batches')
      .set('Authorization', bearer(await keyCase.signWithLibrary()));
    expect(res.status).toBe(200);
    expect(h.upstream.received).toHaveLength(1);
  });

  it(`accepts a hand-built ${keyCase.algorithm} token`, async () => {
    const h = harness();
    const res = await h.request.get('/v3/batches').set('Authorization', bearer(keyCase.acceptedRaw()));
    expect(res.status).toBe(200);
  });

  it.each(keyCase.rejected)('answers 401 invalid_token for %s', async (_case, makeToken) => {
    const h = harness();
    const res = await h.request.get('/v3/batches').set('Authorization', bearer(makeToken()));
    expectUnauthorized(h, res);
  });

  it('refuses an HS256 token signed with the harness secret', async () => {
    const h = harness();
    const res = await h.request.get('/v3/batches').set('Authorization', bearer(signToken()));
    expectUnauthorized(h, res);
  });
});

describe('GET /v3/batches — JWT_PUBLIC_KEY written on one line with literal \\n escapes', () => {
  const escaped = pemOf(rsa.publicKey).trim().replaceAll('\n', '\\n');
  const harness = useHarness({ JWT_SECRET: undefined, JWT_PUBLIC_KEY: escaped });

  it('is read as the PEM it spells', async () => {
    expect(escaped).not.toContain('\n');
    const h = harness();
    const token = signToken({ key: rsa.privateKey, algorithm: 'RS256' });
    const res = await h.request.get('/v3/batches').set('Authorization', bearer(token));
    expect(res.status).toBe(200);
  });
});
