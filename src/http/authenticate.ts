// Bearer-token authentication and the required-scope check (SPEC "GET /v3/batches" Auth, RFC 6750).
import type { NextFunction, Request, Response } from 'express';
import { Problem } from '../problem.js';
import { auditFacts } from './audit-log.js';
import { TokenRefusal, type TokenRefusalReason } from './token-refusal.js';
import type { Claims, VerifyToken } from './token-verifier.js';

export const MAX_TOKEN_LENGTH = 8192;
const REALM = 'Bearer realm="ntropy-bff"';
const COMPACT_JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export interface Principal {
  sub: string;
}

/** The bearer token of an Authorization header; undefined when none was sent (RFC 6750 §3). */
export function readBearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^Bearer(?: +(.*))?$/i.exec(header.trim());
  if (!match) return undefined;
  return match[1]?.trim() ?? '';
}

/** The scopes a token grants, from `scope` (space-separated) or `scp` (array or space-separated). */
export function readScopes(claims: Claims): Set<string> {
  const scopes = new Set<string>();
  const add = (value: unknown) => {
    if (typeof value === 'string') for (const scope of value.split(' ')) if (scope !== '') scopes.add(scope);
    if (Array.isArray(value)) for (const scope of value) if (typeof scope === 'string') scopes.add(scope);
  };
  if (typeof claims.scope === 'string') add(claims.scope);
  add(claims.scp);
  return scopes;
}

/** One answer for every refused token: which check failed stays in the audit line's `reason`. */
function invalidToken(reason: TokenRefusalReason): Problem {
  return new Problem('unauthorized', 'The token is invalid or expired', {
    headers: { 'WWW-Authenticate': `${REALM}, error="invalid_token"` },
    reason,
  });
}

export function createAuthenticator(verifyToken: VerifyToken, requiredScope: string | undefined) {
  const insufficientScope = `${REALM}, error="insufficient_scope", scope="${requiredScope ?? ''}"`;

  return async function authenticate(req: Request, res: Response, next: NextFunction): Promise<void> {
    const token = readBearerToken(req.headers.authorization);
    if (token === undefined) {
      throw new Problem('unauthorized', 'A bearer token is required', {
        headers: { 'WWW-Authenticate': REALM },
        reason: 'no_token',
      });
    }
    if (token.length > MAX_TOKEN_LENGTH) throw invalidToken('too_long');
    if (!COMPACT_JWT.test(token)) throw invalidToken('malformed');
    let claims: Claims;
    try {
      claims = await verifyToken(token);
    } catch (error) {
      // Anything but a refusal is a bug, and is answered as one.
      if (error instanceof TokenRefusal) throw invalidToken(error.reason);
      throw error;
    }
    if (typeof claims.sub !== 'string' || claims.sub === '') throw invalidToken('no_sub');

    const facts = auditFacts(res);
    facts.sub = claims.sub;
    if (typeof claims.client_id === 'string') facts.clientId = claims.client_id;
    if (typeof claims.azp === 'string') facts.azp = claims.azp;
    if (requiredScope !== undefined && !readScopes(claims).has(requiredScope)) {
      throw new Problem('forbidden', `The token lacks the scope "${requiredScope}"`, {
        headers: { 'WWW-Authenticate': insufficientScope },
        reason: 'insufficient_scope',
      });
    }
    (res.locals as { principal?: Principal }).principal = { sub: claims.sub };
    next();
  };
}

export function principalOf(res: Response): Principal {
  const principal = (res.locals as { principal?: Principal }).principal;
  if (principal === undefined) throw new Error('principalOf called before authenticate');
  return principal;
}
