// A JWKS endpoint on 127.0.0.1 whose key set and status a test can change and whose fetches it can count.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';

export type Jwk = Record<string, unknown>;

export interface JwksServer {
  url: string;
  /** How many times the key set was requested so far. */
  fetchCount(): number;
  setKeys(keys: Jwk[]): void;
  /** Answer every later fetch with this status (200 serves the key set). */
  setStatus(status: number): void;
  close(): Promise<void>;
}

export async function startJwksServer(keys: Jwk[] = []): Promise<JwksServer> {
  let currentKeys = keys;
  let status = 200;
  let fetches = 0;
  const server = createServer((_req, res) => {
    fetches += 1;
    if (status !== 200) {
      res.writeHead(status, { 'Content-Type': 'text/plain' }).end('unavailable');
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ keys: currentKeys }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    fetchCount: () => fetches,
    setKeys(next) {
      currentKeys = next;
    },
    setStatus(next) {
      status = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export type KeyKind = 'rsa' | 'ec-p256' | 'ec-p384' | 'ed25519' | 'ed448';

export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  /** The public JWK as a JWKS would publish it (with kid, use and any extra members such as alg). */
  jwk: Jwk;
}

export function createSigningKey(kind: KeyKind, kid: string, extra: Jwk = {}): SigningKey {
  const { publicKey, privateKey } = generateKeyPair(kind);
  const jwk = { ...(publicKey.export({ format: 'jwk' }) as Jwk), use: 'sig' };
  return { kid, privateKey, jwk: { ...jwk, kid, ...extra } };
}

/** The same key material published under another kid (and other members, such as its own alg). */
export function withKid(key: SigningKey, kid: string, extra: Jwk = {}): SigningKey {
  const jwk: Jwk = { ...key.jwk, kid, ...extra };
  if (extra.alg === undefined) delete jwk.alg;
  return { kid, privateKey: key.privateKey, jwk };
}

function generateKeyPair(kind: KeyKind) {
  switch (kind) {
    case 'rsa':
      return generateKeyPairSync('rsa', { modulusLength: 2048 });
    case 'ec-p256':
      return generateKeyPairSync('ec', { namedCurve: 'P-256' });
    case 'ec-p384':
      return generateKeyPairSync('ec', { namedCurve: 'P-384' });
    case 'ed25519':
      return generateKeyPairSync('ed25519');
    case 'ed448':
      return generateKeyPairSync('ed448');
  }
}

/**
 * A compact JWS built by hand, for the tokens a JWT library refuses to make (a curve/algorithm
 * mismatch, Ed448, HMAC with a kid of the set, `alg: none`). Without a signer the signature is empty.
 */
export function signRawJwt(options: {
  header: Record<string, unknown>;
  claims?: Record<string, unknown>;
  signer?: (input: Buffer) => Buffer;
}): string {
  const nowS = Math.floor(Date.now() / 1000);
  const payload = { sub: 'alice', iat: nowS, exp: nowS + 3600, ...options.claims };
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const input = `${encode(options.header)}.${encode(payload)}`;
  const signature = options.signer?.(Buffer.from(input)).toString('base64url') ?? '';
  return `${input}.${signature}`;
}
