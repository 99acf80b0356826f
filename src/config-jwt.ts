// The caller-authentication key from the environment: exactly one source, each key with its one algorithm.
import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import { httpUrl } from './config-fields.js';
import { algorithmForKey, isWeakKey, MIN_RSA_MODULUS_BITS } from './http/key-algorithm.js';

export type JwtKey =
  | { kind: 'static'; key: KeyObject; algorithm: string }
  | { kind: 'jwks'; url: string; cooldownMs: number; maxAgeMs: number };

// SPEC "Running": exactly one key source; each key fixes its one algorithm (RFC 8725).
export function parseJwtKey(
  env: Record<string, string | undefined>,
  problems: string[],
  jwks: { cooldownMs: number; maxAgeMs: number },
): JwtKey | undefined {
  const given = (['JWT_SECRET', 'JWT_PUBLIC_KEY', 'JWT_JWKS_URL'] as const).filter(
    (name) => (env[name] ?? '').trim() !== '',
  );
  if (given.length !== 1) {
    problems.push(
      given.length === 0
        ? 'JWT_SECRET, JWT_PUBLIC_KEY, JWT_JWKS_URL: exactly one must be set'
        : `${given.join(', ')}: exactly one must be set, not ${given.length}`,
    );
    return undefined;
  }
  const secret = env.JWT_SECRET;
  if (given[0] === 'JWT_SECRET' && secret !== undefined) {
    if (Buffer.byteLength(secret, 'utf8') < 32) return undefined;
    // A KeyObject, not a string: jsonwebtoken would first try a string as a PEM key on every verify.
    return { kind: 'static', key: createSecretKey(Buffer.from(secret, 'utf8')), algorithm: 'HS256' };
  }
  const pem = env.JWT_PUBLIC_KEY;
  if (given[0] === 'JWT_PUBLIC_KEY' && pem !== undefined) {
    // A verifier must never hold signing material, even though Node would derive the public half.
    if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) {
      problems.push('JWT_PUBLIC_KEY: must be a public key, not a private key');
      return undefined;
    }
    let key: KeyObject;
    try {
      // A PEM in one env line often arrives with literal "\n"s.
      key = createPublicKey(pem.includes('\n') ? pem : pem.replaceAll('\\n', '\n'));
    } catch {
      problems.push('JWT_PUBLIC_KEY: must be a PEM public key');
      return undefined;
    }
    const algorithm = algorithmForKey(key);
    if (algorithm === undefined) {
      problems.push('JWT_PUBLIC_KEY: key type must be RSA, RSA-PSS, EC P-256/P-384/P-521 or Ed25519');
      return undefined;
    }
    if (isWeakKey(key)) {
      problems.push(`JWT_PUBLIC_KEY: an RSA key must have at least ${MIN_RSA_MODULUS_BITS} bits`);
      return undefined;
    }
    return { kind: 'static', key, algorithm };
  }
  const url = env.JWT_JWKS_URL;
  if (url === undefined || !httpUrl('').safeParse(url).success) return undefined;
  return { kind: 'jwks', url, ...jwks };
}
