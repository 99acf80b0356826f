// SPEC key table and JWKS paragraph: which published keys are usable, and what counts as a failed JWKS fetch.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createJwksKeySet } from '../src/http/jwks-key-set.js';
import { readJwks } from '../src/http/jwks-keys.js';
import { TokenRefusal } from '../src/http/token-refusal.js';
import { startJwksServer, type Jwk, type JwksServer } from './helpers/jwks-server.js';
import { closedPortUrl } from './helpers/problem.js';

function publicJwk(pair: { publicKey: KeyObject }, extra: Jwk = {}): Jwk {
  return { ...(pair.publicKey.export({ format: 'jwk' }) as Jwk), kid: 'k', ...extra };
}

const rsa2048 = generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 });
const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
const p521 = generateKeyPairSync('ec', { namedCurve: 'P-521' });
const secp256k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' });
const ed25519 = generateKeyPairSync('ed25519');
const ed448 = generateKeyPairSync('ed448');

describe('JWKS — which published keys verify tokens, and with which algorithm', () => {
  it.each<[string, () => Jwk, string | undefined]>([
    ['an RSA key of 2048 bits without alg', () => publicJwk(rsa2048), 'RS256'],
    ['an RSA key published as RS256', () => publicJwk(rsa2048, { alg: 'RS256' }), 'RS256'],
    [
      'an RSA key published as PS256 (no JWK form for RSA-PSS)',
      () => publicJwk(rsa2048, { alg: 'PS256' }),
      undefined,
    ],
    ['an RSA key published as RS512', () => publicJwk(rsa2048, { alg: 'RS512' }), undefined],
    ['an RSA key of 1024 bits', () => publicJwk(rsa1024, { alg: 'RS256' }), undefined],
    ['an EC P-256 key', () => publicJwk(p256), 'ES256'],
    ['an EC P-384 key', () => publicJwk(p384, { alg: 'ES384' }), 'ES384'],
    ['an EC P-521 key', () => publicJwk(p521), 'ES512'],
    ['an EC P-256 key published as ES384', () => publicJwk(p256, { alg: 'ES384' }), undefined],
    ['an EC secp256k1 key', () => publicJwk(secp256k1), undefined],
    ['an Ed25519 key', () => publicJwk(ed25519, { alg: 'EdDSA' }), 'EdDSA'],
    ['an Ed448 key', () => publicJwk(ed448), undefined],
    [
      'a symmetric key',
      () => ({ kty: 'oct', k: 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMyYg', alg: 'HS256' }),
      undefined,
    ],
    ['a key for encryption (use enc)', () => publicJwk(rsa2048, { use: 'enc' }), undefined],
    ['a key for signatures (use sig)', () => publicJwk(rsa2048, { use: 'sig' }), 'RS256'],
    ['a key whose key_ops lack verify', () => publicJwk(p256, { key_ops: ['encrypt'] }), undefined],
    ['a key whose key_ops include verify', () => publicJwk(p256, { key_ops: ['verify'] }), 'ES256'],
    ['a private key', () => ({ ...(p256.privateKey.export({ format: 'jwk' }) as Jwk), kid: 'k' }), undefined],
    ['an RSA key without its modulus', () => ({ kty: 'RSA', e: 'AQAB', kid: 'k' }), undefined],
    ['a member that is not an object', () => 'not a key' as unknown as Jwk, undefined],
  ])('%s → %s', (_case, makeJwk, algorithm) => {
    const keys = readJwks({ keys: [makeJwk()] });
    expect(keys?.map((key) => key.algorithm)).toEqual(algorithm === undefined ? [] : [algorithm]);
  });

  it('keeps the usable keys of a set that also holds unusable ones, with their kids', () => {
    const keys = readJwks({
      keys: [publicJwk(ed448), publicJwk(p256, { kid: 'a' }), publicJwk(rsa2048, { kid: 'b' })],
    });
    expect(keys?.map((key) => [key.kid, key.algorithm])).toEqual([
      ['a', 'ES256'],
      ['b', 'RS256'],
    ]);
  });

  it.each<[string, unknown]>([
    ['null', null],
    ['an array', [publicJwk(p256)]],
    ['an object without keys', { key: [] }],
    ['keys that is not an array', { keys: publicJwk(p256) }],
  ])('reads %s as no JWK Set at all (a failed fetch)', (_case, document) => {
    expect(readJwks(document)).toBeUndefined();
  });
});

describe('JWKS — a fetch fails on any answer but a 200 JWK Set within the time and size bounds', () => {
  const servers: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    for (const server of servers.splice(0)) await server.close();
  });

  async function jwksServer(script: (server: JwksServer) => void): Promise<string> {
    const server = await startJwksServer([publicJwk(p256)]);
    servers.push(server);
    script(server);
    return server.url;
  }

  /** A server that answers every request with a redirect to a JWKS that would be good. */
  async function redirectingServer(): Promise<string> {
    const target = await jwksServer(() => {});
    const server = createServer((_req, res) => res.writeHead(302, { Location: target }).end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push({ close: () => new Promise((resolve) => server.close(() => resolve())) });
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
  }

  it.each<[string, () => Promise<string>, string]>([
    ['a 503', () => jwksServer((s) => s.setStatus(503)), 'status 503'],
    ['a redirect (not followed)', redirectingServer, 'status 302'],
    ['a body that is not JSON', () => jwksServer((s) => s.setBody('<html></html>')), 'malformed_body'],
    ['JSON that is not a JWK Set', () => jwksServer((s) => s.setBody('{"keys":{}}')), 'not_a_jwk_set'],
    [
      'a body over the size cap',
      () => jwksServer((s) => s.setBody(`{"keys":[],"x":"${'x'.repeat(4096)}"}`)),
      'too_large',
    ],
    ['no answer within the timeout', () => jwksServer((s) => s.setDelayMs(5_000)), 'timeout'],
    ['a refused connection', async () => `${await closedPortUrl()}/jwks.json`, 'ECONNREFUSED'],
  ])('%s → jwks_unavailable, and the cause is reported', async (_case, makeUrl, cause) => {
    const failures: [string, boolean][] = [];
    const keySet = createJwksKeySet({
      url: await makeUrl(),
      cooldownMs: 30_000,
      maxAgeMs: 300_000,
      now: Date.now,
      // Short only where the row needs the timeout: the others must not meet it on a loaded machine.
      fetchTimeoutMs: cause === 'timeout' ? 200 : 4_000,
      maxBytes: 1024,
      onFetchFailed: (failure, hasLastGoodSet) => failures.push([failure, hasLastGoodSet]),
    });
    const refusal = await keySet.keysFor('k', 'ES256').catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(TokenRefusal);
    expect((refusal as TokenRefusal).reason).toBe('jwks_unavailable');
    expect(failures).toEqual([[cause, false]]);
  });
});
