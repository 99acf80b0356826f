// Why a bearer token was refused: the audit line's `reason` (SPEC "Request IDs and audit log"), from either JWT library.
import jwt from 'jsonwebtoken';

export type TokenRefusalReason =
  | 'no_token'
  | 'too_long'
  | 'malformed'
  | 'crit'
  | 'wrong_algorithm'
  | 'unknown_kid'
  | 'jwks_unavailable'
  | 'bad_signature'
  | 'no_exp'
  | 'expired'
  | 'not_yet_valid'
  | 'wrong_issuer'
  | 'wrong_audience'
  | 'no_sub';

/** The one error a token verifier throws; the reason stays on the server, never in the answer. */
export class TokenRefusal extends Error {
  readonly reason: TokenRefusalReason;

  constructor(reason: TokenRefusalReason) {
    super(`token refused: ${reason}`);
    this.name = 'TokenRefusal';
    this.reason = reason;
  }
}

const JOSE_CLAIM_REASONS: Record<string, TokenRefusalReason> = {
  nbf: 'not_yet_valid',
  iss: 'wrong_issuer',
  aud: 'wrong_audience',
};

/** jose's errors carry stable codes, and claim errors name their claim. */
export function refusalFromJose(error: unknown): TokenRefusal {
  const { code, claim, reason } = (error ?? {}) as { code?: unknown; claim?: unknown; reason?: unknown };
  switch (code) {
    case 'ERR_JWT_EXPIRED':
      return new TokenRefusal('expired');
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return new TokenRefusal('bad_signature');
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return new TokenRefusal('wrong_algorithm');
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      // reason 'invalid': a claim of the wrong type (a string nbf, say) is a malformed token.
      if (reason === 'invalid') return new TokenRefusal('malformed');
      if (claim === 'exp') return new TokenRefusal('no_exp');
      return new TokenRefusal(JOSE_CLAIM_REASONS[String(claim)] ?? 'malformed');
    default:
      // The rest (JWSInvalid, JWTInvalid, a TypeError over a claim's type) is a token that is not well-formed.
      return new TokenRefusal('malformed');
  }
}

// jsonwebtoken has two error classes for time and one for everything else, told apart only by message.
const JSONWEBTOKEN_MESSAGES: [RegExp, TokenRefusalReason][] = [
  [/^invalid signature$/, 'bad_signature'],
  [/^jwt signature is required$/, 'bad_signature'],
  [/^invalid algorithm$/, 'wrong_algorithm'],
  [/^jwt audience invalid\b/, 'wrong_audience'],
  [/^jwt issuer invalid\b/, 'wrong_issuer'],
];

export function refusalFromJsonwebtoken(error: unknown): TokenRefusal {
  if (error instanceof jwt.TokenExpiredError) return new TokenRefusal('expired');
  if (error instanceof jwt.NotBeforeError) return new TokenRefusal('not_yet_valid');
  const message = error instanceof Error ? error.message : '';
  const match = JSONWEBTOKEN_MESSAGES.find(([pattern]) => pattern.test(message));
  return new TokenRefusal(match?.[1] ?? 'malformed');
}
