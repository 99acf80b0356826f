// SPEC "Running": each public key is used with exactly one algorithm, fixed by its type (RFC 8725).
import type { KeyObject } from 'node:crypto';

const EC_ALGORITHMS: Record<string, string> = {
  prime256v1: 'ES256',
  'P-256': 'ES256',
  secp384r1: 'ES384',
  'P-384': 'ES384',
  secp521r1: 'ES512',
  'P-521': 'ES512',
};

/** The one algorithm a key may verify with, or undefined for a key type SPEC does not allow. */
export function algorithmForKey(key: KeyObject): string | undefined {
  if (key.type === 'secret') return 'HS256';
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return 'RS256';
    case 'rsa-pss':
      return 'PS256';
    case 'ec':
      return EC_ALGORITHMS[key.asymmetricKeyDetails?.namedCurve ?? ''];
    case 'ed25519':
      return 'EdDSA';
    default:
      return undefined;
  }
}

/** SPEC "Running": RSA keys (RSA-PSS included) under 2048 bits are refused (RFC 7518 §3.3 asks for 2048). */
export const MIN_RSA_MODULUS_BITS = 2048;

export function isWeakKey(key: KeyObject): boolean {
  const type = key.asymmetricKeyType;
  if (type !== 'rsa' && type !== 'rsa-pss') return false;
  return (key.asymmetricKeyDetails?.modulusLength ?? 0) < MIN_RSA_MODULUS_BITS;
}
