// Verifies a bearer JWT against the configured key source, each key with its one algorithm (SPEC "Running", "GET /v3/batches" Auth).
import type { KeyObject } from 'node:crypto';
import { decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import jwt from 'jsonwebtoken';
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { createJwksKeySet } from './jwks-key-set.js';
import { refusalFromJose, refusalFromJsonwebtoken, TokenRefusal } from './token-refusal.js';

export type Claims = JWTPayload & Record<string, unknown>;
/** Resolves the claims of a valid token; rejects with a TokenRefusal naming the failed check. */
export type VerifyToken = (token: string) => Promise<Claims>;
/** A VerifyToken whose `close` ends the connections it holds (the JWKS endpoint's), with the service. */
export type TokenVerifier = VerifyToken & { close(): Promise<void> };

interface SignatureVerifier {
  verify: (token: string) => Claims | Promise<Claims>;
  close: () => Promise<void>;
}

const closeNothing = () => Promise.resolve();

/** What a JWKS key can verify: SPEC's table less HS256 (a JWKS holds no secrets) and PS256 (no JWK form). */
const JWKS_ALGORITHMS = ['RS256', 'ES256', 'ES384', 'ES512', 'EdDSA'];

/** Bounds of the verified-token cache: most tokens, and most token characters, kept. */
const VERIFIED_TOKENS_MAX = 10_000;
const VERIFIED_TOKENS_MAX_CHARS = 8 * 1024 * 1024;

/**
 * The checks made on the protected header before any key is sought, so that a token no key could
 * verify never reaches the JWKS endpoint. RFC 7515 §4.1.11: `crit` names extensions that must be
 * understood; none is, so any `crit` is refused (jose alone would accept `b64`, jsonwebtoken ignores it).
 */
function readHeader(token: string, algorithms: readonly string[]): { alg: string; kid: string | undefined } {
  let header: Record<string, unknown>;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    throw new TokenRefusal('malformed');
  }
  if ('crit' in header) throw new TokenRefusal('crit');
  const { alg, kid } = header;
  if (typeof alg !== 'string' || !algorithms.includes(alg)) throw new TokenRefusal('wrong_algorithm');
  if (kid !== undefined && typeof kid !== 'string') throw new TokenRefusal('malformed');
  return { alg, kid };
}

// jsonwebtoken verifies HS/RS/PS/ES and is the faster of the two; it has no EdDSA and no JWKS,
// which jose provides (jose in turn cannot use RSA-PSS keys, so neither library covers the table alone).
function createSignatureVerifier(
  jwtConfig: Config['jwt'],
  now: () => number,
  logger?: Logger,
): SignatureVerifier {
  const { key, issuer, audience, clockToleranceS } = jwtConfig;
  const verifyWithJose = async (token: string, joseKey: KeyObject, alg: string): Promise<Claims> => {
    try {
      const { payload } = await jwtVerify(token, joseKey, {
        algorithms: [alg],
        requiredClaims: ['exp'],
        clockTolerance: clockToleranceS,
        currentDate: new Date(now()),
        ...(issuer === undefined ? {} : { issuer }),
        ...(audience === undefined ? {} : { audience }),
      });
      return payload;
    } catch (error) {
      throw refusalFromJose(error);
    }
  };

  if (key.kind === 'jwks') {
    const keySet = createJwksKeySet({
      ...key,
      now,
      onFetchFailed: (cause, hasLastGoodSet) =>
        logger?.warn({ cause, last_good_set: hasLastGoodSet }, 'JWKS fetch failed'),
    });
    const verify = async (token: string): Promise<Claims> => {
      const { alg, kid } = readHeader(token, JWKS_ALGORITHMS);
      let refusal: unknown;
      // Several keys may fit a token without a kid (or a kid published twice): the first that verifies wins.
      for (const candidate of await keySet.keysFor(kid, alg)) {
        try {
          return await verifyWithJose(token, candidate.key, alg);
        } catch (error) {
          refusal = error;
          if (!(error instanceof TokenRefusal && error.reason === 'bad_signature')) break;
        }
      }
      throw refusal;
    };
    return { verify, close: () => keySet.close() };
  }

  const { key: staticKey, algorithm } = key;
  if (algorithm === 'EdDSA') {
    const verify = async (token: string) => {
      readHeader(token, [algorithm]);
      return verifyWithJose(token, staticKey, algorithm);
    };
    return { verify, close: closeNothing };
  }

  const options: jwt.VerifyOptions = {
    algorithms: [algorithm as jwt.Algorithm],
    clockTolerance: clockToleranceS,
    ...(issuer === undefined ? {} : { issuer }),
    ...(audience === undefined ? {} : { audience }),
  };
  // Synchronous: jsonwebtoken verifies in place, and an await here would cost every cache miss a tick.
  const verify = (token: string): Claims => {
    readHeader(token, [algorithm]);
    let claims: unknown;
    try {
      claims = jwt.verify(token, staticKey, { ...options, clockTimestamp: Math.floor(now() / 1000) });
    } catch (error) {
      throw refusalFromJsonwebtoken(error);
    }
    if (typeof claims !== 'object' || claims === null) throw new TokenRefusal('malformed');
    if ((claims as Claims).exp === undefined) throw new TokenRefusal('no_exp');
    return claims as Claims;
  };
  return { verify, close: closeNothing };
}

/**
 * A token is verified once and its claims reused until its `exp` (plus the clock tolerance) passes;
 * after that it is refused again like any expired token. Refusals are never cached. A key that leaves
 * a JWKS therefore stops verifying new tokens once the set is refetched (on its max age), and tokens
 * already seen at their `exp`.
 */
export function createTokenVerifier(
  jwtConfig: Config['jwt'],
  now: () => number = Date.now,
  logger?: Logger,
): TokenVerifier {
  const signature = createSignatureVerifier(jwtConfig, now, logger);
  const toleranceMs = jwtConfig.clockToleranceS * 1000;
  const verified = new LRUCache<string, { claims: Claims; validUntilMs: number }>({
    max: VERIFIED_TOKENS_MAX,
    maxSize: VERIFIED_TOKENS_MAX_CHARS,
    sizeCalculation: (_entry, token) => token.length,
  });
  const verifyToken: VerifyToken = async (token) => {
    const known = verified.get(token);
    if (known !== undefined) {
      if (known.validUntilMs > now()) return known.claims;
      verified.delete(token);
    }
    const claims = await signature.verify(token);
    const validUntilMs = (claims.exp as number) * 1000 + toleranceMs;
    const ttl = Math.floor(validUntilMs - now());
    if (ttl > 0) verified.set(token, { claims, validUntilMs }, { ttl });
    return claims;
  };
  return Object.assign(verifyToken, { close: signature.close });
}
