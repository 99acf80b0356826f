// Signs test JWTs: HS256 with the harness secret by default, or any key and algorithm a test needs.
import type { KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';

export const JWT_SECRET = 'test-secret-of-at-least-thirty-two-bytes!!';

export interface TokenOptions {
  claims?: Record<string, unknown>;
  key?: string | KeyObject;
  algorithm?: jwt.Algorithm;
  header?: Record<string, unknown>;
  /** Seconds from now; null leaves `exp` out. */
  expiresInS?: number | null;
}

export function signToken(options: TokenOptions = {}): string {
  const { claims = {}, key = JWT_SECRET, algorithm = 'HS256', expiresInS = 3600 } = options;
  const nowS = Math.floor(Date.now() / 1000);
  const payload = {
    sub: 'alice',
    iat: nowS,
    ...(expiresInS === null ? {} : { exp: nowS + expiresInS }),
    ...claims,
  };
  return jwt.sign(payload, key, {
    algorithm,
    ...(options.header ? { header: { alg: algorithm, ...options.header } } : {}),
  });
}

export function bearer(token: string = signToken()): string {
  return `Bearer ${token}`;
}
