// Verifies a bearer JWT against the configured key source, each key with its one algorithm (SPEC "Running").
import { KeyObject } from 'node:crypto';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import jwt from 'jsonwebtoken';
import { LRUCache } from 'lru-cache';
import type { Config } from '../config.js';

export type Claims = JWTPayload & Record<string, unknown>;
export type VerifyToken = (token: string) => Promise<Claims>;

/** SPEC's table less HS256 and PS256: a JWK cannot carry an RSA-PSS key, and a JWKS never holds secrets. */
const JWKS_ALGORITHMS = ['RS256', 'ES256', 'ES384', 'ES512', 'EdDSA'];

/** Bounds of the verified-token cache: most tokens, and most token characters, kept. */
const VERIFIED_TOKENS_MAX = 10_000;
const VERIFIED_TOKENS_MAX_CHARS = 8 * 1024 * 1024;

// jsonwebtoken verifies HS/RS/PS/ES and is the faster of the two; it has no EdDSA and no JWKS,
// which jose provides (jose in turn cannot use RSA-PSS keys, so neither library covers the table alone).
function createSignatureVerifier(jwtConfig: Config['jwt'], now: () => number): VerifyToken {
  const { key, issuer, audience, clockToleranceS } = jwtConfig;
  const joseOptions = () => ({
    requiredClaims: ['exp'],
    clockTolerance: clockToleranceS,
    currentDate: new Date(now()),
    ...(issuer === undefined ? {} : { issuer }),
    ...(audience === undefined ? {} : { audience }),
  });

  if (key.kind === 'jwks') {
    // jose keeps the key set, refetches it on an unknown kid at most once per cooldown, and shares
    // one in-flight refetch, so a flood of random kids can neither hammer the issuer nor lock out known keys.
    const keySet = createRemoteJWKSet(new URL(key.url), { cooldownDuration: key.cooldownMs });
    return async (token) => {
      const { payload, key: usedKey } = await jwtVerify(token, keySet, {
        ...joseOptions(),
        algorithms: JWKS_ALGORITHMS,
      });
      // jose also accepts Ed448 for EdDSA; SPEC's table allows Ed25519 only.
      if (isEd448(usedKey)) throw new Error('key type not allowed');
      return payload;
    };
  }

  if (key.algorithm === 'EdDSA') {
    return async (token) =>
      (await jwtVerify(token, key.key, { ...joseOptions(), algorithms: ['EdDSA'] })).payload;
  }

  const options: jwt.VerifyOptions = {
    algorithms: [key.algorithm as jwt.Algorithm],
    clockTolerance: clockToleranceS,
    ...(issuer === undefined ? {} : { issuer }),
    ...(audience === undefined ? {} : { audience }),
  };
  return (token) =>
    new Promise((resolve, reject) => {
      let claims: unknown;
      try {
        claims = jwt.verify(token, key.key, { ...options, clockTimestamp: Math.floor(now() / 1000) });
      } catch (error) {
        return reject(error instanceof Error ? error : new Error(String(error)));
      }
      if (typeof claims !== 'object' || claims === null || typeof (claims as Claims).exp !== 'number') {
        return reject(new Error('exp is required'));
      }
      resolve(claims as Claims);
    });
}

/**
 * A token is verified once and its claims reused until its `exp` (plus the clock tolerance) passes;
 * after that it is refused again like any expired token. Failures are never cached. A key that leaves
 * a JWKS therefore stops working for new tokens at once, and for tokens already seen at their `exp`.
 */
export function createTokenVerifier(jwtConfig: Config['jwt'], now: () => number = Date.now): VerifyToken {
  const verifySignature = createSignatureVerifier(jwtConfig, now);
  const toleranceMs = jwtConfig.clockToleranceS * 1000;
  const verified = new LRUCache<string, { claims: Claims; validUntilMs: number }>({
    max: VERIFIED_TOKENS_MAX,
    maxSize: VERIFIED_TOKENS_MAX_CHARS,
    sizeCalculation: (_entry, token) => token.length,
  });
  return async function verifyToken(token) {
    const known = verified.get(token);
    if (known !== undefined) {
      if (known.validUntilMs > now()) return known.claims;
      verified.delete(token);
    }
    const claims = await verifySignature(token);
    const validUntilMs = (claims.exp as number) * 1000 + toleranceMs;
    const ttl = Math.floor(validUntilMs - now());
    if (ttl > 0) verified.set(token, { claims, validUntilMs }, { ttl });
    return claims;
  };
}

function isEd448(key: unknown): boolean {
  if (key instanceof KeyObject) return key.asymmetricKeyType === 'ed448';
  const algorithm = (key as { algorithm?: { name?: string } } | undefined)?.algorithm;
  return algorithm?.name === 'Ed448';
}
