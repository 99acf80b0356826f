// SPEC "Request IDs and audit log" `reason` and "GET /v3/batches" Auth: why a token was refused stays in the audit line, on every verification path.
import { createHmac, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { auditOf } from './helpers/audit-lines.js';
import { startHarness, type Harness } from './helpers/harness.js';
import { createSigningKey, startJwksServer, type JwksServer } from './helpers/jwks-server.js';
import { expectProblem } from './helpers/problem.js';
import { JWT_SECRET } from './helpers/tokens.js';

const REALM = 'Bearer realm="ntropy-bff"';
const ISSUER = 'https://id.example.com/';
const AUDIENCE = 'ntropy-bff';
const SCOPE = 'batches:read';

type Signer = (input: Buffer) => Buffer;

/** One way a token is verified: the key source, the one algorithm, a signer for it and one for a stranger. */
interface KeySetup {
  name: string;
  env: (jwksUrl: string) => Record<string, string | undefined>;
  alg: string;
  /** An algorithm the key does not have, for the wrong_algorithm row. */
  otherAlg: string;
  kid?: string;
  signer: Signer;
  strangerSigner: Signer;
}

const rsaSigner =
  (key: KeyObject): Signer =>
  (input) =>
    sign('sha256', input, key);
const edSigner =
  (key: KeyObject): Signer =>
  (input) =>
    sign(null, input, key);
const ecSigner =
  (key: KeyObject): Signer =>
  (input) =>
    sign('sha256', input, { key, dsaEncoding: 'ieee-p1363' });
const hmacSigner =
  (secret: string): Signer =>
  (input) =>
    createHmac('sha256', secret).update(input).digest();

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ed25519 = generateKeyPairSync('ed25519');
const jwksKey = createSigningKey('ec-p256', 'ec-1', { alg: 'ES256' });
const pemOf = (key: KeyObject) => key.export({ type: 'spki', format: 'pem' }).toString();

const SETUPS: KeySetup[] = [
  {
    name: 'a shared secret (HS256, verified by jsonwebtoken)',
    env: () => ({}),
    alg: 'HS256',
    otherAlg: 'HS384',
    signer: hmacSigner(JWT_SECRET),
    strangerSigner: hmacSigner('another-secret-of-at-least-32-bytes!!'),
  },
  {
    name: 'an RSA JWT_PUBLIC_KEY (RS256, verified by jsonwebtoken)',
    env: () => ({ JWT_SECRET: undefined, JWT_PUBLIC_KEY: pemOf(rsa.publicKey) }),
    alg: 'RS256',
    otherAlg: 'PS256',
    signer: rsaSigner(rsa.privateKey),
    strangerSigner: rsaSigner(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey),
  },
  {
    name: 'an Ed25519 JWT_PUBLIC_KEY (EdDSA, verified by jose)',
    env: () => ({ JWT_SECRET: undefined, JWT_PUBLIC_KEY: pemOf(ed25519.publicKey) }),
    alg: 'EdDSA',
    otherAlg: 'ES256',
    signer: edSigner(ed25519.privateKey),
    strangerSigner: edSigner(generateKeyPairSync('ed25519').privateKey),
  },
  {
    name: 'a JWKS key (ES256, verified by jose)',
    env: (jwksUrl) => ({ JWT_SECRET: undefined, JWT_JWKS_URL: jwksUrl }),
    alg: 'ES256',
    otherAlg: 'ES384',
    kid: 'ec-1',
    signer: ecSigner(jwksKey.privateKey),
    strangerSigner: ecSigner(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey),
  },
];

interface Craft {
  header?: Record<string, unknown>;
  claims?: Record<string, unknown>;
  /** The claims segment as raw text, instead of JSON of the claims. */
  rawClaims?: string;
  signer?: 'stranger' | 'none';
}

function craftToken(setup: KeySetup, craft: Craft = {}): string {
  const nowS = Math.floor(Date.now() / 1000);
  const header = { alg: setup.alg, typ: 'JWT', ...(setup.kid ? { kid: setup.kid } : {}), ...craft.header };
  const claims = { sub: 'alice', iss: ISSUER, aud: AUDIENCE, scope: SCOPE, iat: nowS, exp: nowS + 3600 };
  const encode = (text: string) => Buffer.from(text).toString('base64url');
  const payload = craft.rawClaims ?? JSON.stringify({ ...claims, ...craft.claims });
  const input = `${encode(JSON.stringify(header))}.${encode(payload)}`;
  if (craft.signer === 'none') return `${input}.`;
  const signer = craft.signer === 'stranger' ? setup.strangerSigner : setup.signer;
  return `${input}.${signer(Buffer.from(input)).toString('base64url')}`;
}

type Row = [string, number, string, (setup: KeySetup) => string | undefined];

const nowS = () => Math.floor(Date.now() / 1000);
const bearerOf = (setup: KeySetup, craft?: Craft) => `Bearer ${craftToken(setup, craft)}`;

const ROWS: Row[] = [
  ['no Authorization header', 401, 'no_token', () => undefined],
  ['a Basic Authorization header', 401, 'no_token', () => 'Basic YWxpY2U6c2VjcmV0'],
  [
    'a token over 8192 characters',
    401,
    'too_long',
    (s) => bearerOf(s, { claims: { pad: 'p'.repeat(9000) } }),
  ],
  ['a string that is not a compact JWT', 401, 'malformed', () => 'Bearer garbage'],
  ['three dot-separated parts that are not a JWT', 401, 'malformed', () => 'Bearer a.b.c'],
  ['a signed claims set that is not JSON', 401, 'malformed', (s) => bearerOf(s, { rawClaims: 'not json' })],
  [
    'a crit header naming an extension',
    401,
    'crit',
    (s) => bearerOf(s, { header: { crit: ['x-must-understand'], 'x-must-understand': true } }),
  ],
  [
    'a crit header naming b64 (which jose knows)',
    401,
    'crit',
    (s) => bearerOf(s, { header: { crit: ['b64'], b64: true } }),
  ],
  [
    'alg none without a signature',
    401,
    'wrong_algorithm',
    (s) => bearerOf(s, { header: { alg: 'none' }, signer: 'none' }),
  ],
  [
    'an algorithm the key does not have',
    401,
    'wrong_algorithm',
    (s) => bearerOf(s, { header: { alg: s.otherAlg } }),
  ],
  ['a signature by another key', 401, 'bad_signature', (s) => bearerOf(s, { signer: 'stranger' })],
  ['no exp', 401, 'no_exp', (s) => bearerOf(s, { claims: { exp: undefined } })],
  ['an exp that is not a number', 401, 'malformed', (s) => bearerOf(s, { claims: { exp: 'tomorrow' } })],
  ['an nbf that is not a number', 401, 'malformed', (s) => bearerOf(s, { claims: { nbf: 'now' } })],
  ['exp beyond the clock tolerance', 401, 'expired', (s) => bearerOf(s, { claims: { exp: nowS() - 60 } })],
  [
    'nbf beyond the clock tolerance',
    401,
    'not_yet_valid',
    (s) => bearerOf(s, { claims: { nbf: nowS() + 120 } }),
  ],
  ['another iss', 401, 'wrong_issuer', (s) => bearerOf(s, { claims: { iss: 'https://evil.example.com/' } })],
  ['no iss', 401, 'wrong_issuer', (s) => bearerOf(s, { claims: { iss: undefined } })],
  ['another aud', 401, 'wrong_audience', (s) => bearerOf(s, { claims: { aud: 'other-app' } })],
  ['no aud', 401, 'wrong_audience', (s) => bearerOf(s, { claims: { aud: undefined } })],
  ['no sub', 401, 'no_sub', (s) => bearerOf(s, { claims: { sub: undefined } })],
  ['an empty sub', 401, 'no_sub', (s) => bearerOf(s, { claims: { sub: '' } })],
  [
    'a valid token without the required scope',
    403,
    'insufficient_scope',
    (s) => bearerOf(s, { claims: { scope: 'openid' } }),
  ],
];

describe.each(SETUPS)('GET /v3/batches — the audit line says why a token was refused: $name', (setup) => {
  let jwks: JwksServer;
  let h: Harness;
  beforeAll(async () => {
    jwks = await startJwksServer([jwksKey.jwk]);
    h = await startHarness({
      env: {
        JWT_ISSUER: ISSUER,
        JWT_AUDIENCE: AUDIENCE,
        JWT_REQUIRED_SCOPE: SCOPE,
        CACHE_TTL_MS: '0',
        ...setup.env(jwks.url),
      },
    });
  });
  afterAll(async () => {
    await h.close();
    await jwks.close();
  });
  beforeEach(() => h.upstream.reset());

  it('accepts the well-formed token the rows below spoil (control)', async () => {
    const res = await h.request.get('/v3/batches').set('Authorization', bearerOf(setup));
    expect(res.status).toBe(200);
    expect((await auditOf(h, res)).reason).toBeUndefined();
  });

  it.each(ROWS)('%s → %i, reason %s', async (_case, status, reason, makeAuthorization) => {
    const authorization = makeAuthorization(setup);
    const req = h.request.get('/v3/batches');
    const res = await (authorization === undefined ? req : req.set('Authorization', authorization));
    const body = expectProblem(res, status, status === 401 ? 'unauthorized' : 'forbidden');
    expect(h.upstream.received).toEqual([]);
    expect(await auditOf(h, res)).toMatchObject({ status, reason });
    // The cause stays on the server: every refused token gets the same words and the same challenge.
    if (reason === 'no_token') {
      expect(res.headers['www-authenticate']).toBe(REALM);
    } else if (status === 401) {
      expect(body.detail).toBe('The token is invalid or expired');
      expect(res.headers['www-authenticate']).toBe(`${REALM}, error="invalid_token"`);
    }
    expect(body).not.toHaveProperty('reason');
  });
});
