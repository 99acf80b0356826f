// Reads a fetched JWK Set into the keys SPEC lets verify tokens, each with its one algorithm (SPEC "Running", key table).
import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { algorithmForKey, isWeakKey } from './key-algorithm.js';

export interface JwksKey {
  kid: string | undefined;
  /** The one algorithm SPEC's table gives this key; a token must name exactly it. */
  algorithm: string;
  key: KeyObject;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The usable keys of a JWK Set, or undefined when the document is not a JWK Set (a failed fetch).
 * A key is ignored, never fatal to the set, when SPEC refuses it: a type outside the table (Ed448,
 * secp256k1, symmetric), RSA under 2048 bits, an own `alg` that disagrees with the table, or a key
 * published for another use than signatures (RFC 7517 §4.2, §4.3).
 */
export function readJwks(document: unknown): JwksKey[] | undefined {
  if (!isObject(document) || !Array.isArray(document.keys)) return undefined;
  const usable: JwksKey[] = [];
  for (const jwk of document.keys as unknown[]) {
    const key = usableKey(jwk);
    if (key !== undefined) usable.push(key);
  }
  return usable;
}

function usableKey(jwk: unknown): JwksKey | undefined {
  if (!isObject(jwk)) return undefined;
  if (jwk.use !== undefined && jwk.use !== 'sig') return undefined;
  if (jwk.key_ops !== undefined && !(Array.isArray(jwk.key_ops) && jwk.key_ops.includes('verify'))) {
    return undefined;
  }
  // A published private key would verify too, but a set that leaks one is not to be trusted.
  if (jwk.d !== undefined || jwk.kty === 'oct') return undefined;
  let key: KeyObject;
  try {
    key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
  } catch {
    return undefined;
  }
  const algorithm = algorithmForKey(key);
  if (algorithm === undefined || isWeakKey(key)) return undefined;
  if (jwk.alg !== undefined && jwk.alg !== algorithm) return undefined;
  return { kid: typeof jwk.kid === 'string' ? jwk.kid : undefined, algorithm, key };
}
