// Signs HS256 development tokens for the demo and for `npm run token`.
import jwt from 'jsonwebtoken';

export interface DevTokenClaims {
  sub: string;
  scope?: string;
  clientId?: string;
  issuer?: string;
  audience?: string;
  ttlS?: number;
}

export function signDevToken(secret: string, claims: DevTokenClaims): string {
  return jwt.sign(
    {
      ...(claims.scope === undefined ? {} : { scope: claims.scope }),
      ...(claims.clientId === undefined ? {} : { client_id: claims.clientId }),
    },
    secret,
    {
      algorithm: 'HS256',
      subject: claims.sub,
      expiresIn: claims.ttlS ?? 3600,
      ...(claims.issuer === undefined ? {} : { issuer: claims.issuer }),
      ...(claims.audience === undefined ? {} : { audience: claims.audience }),
    },
  );
}
