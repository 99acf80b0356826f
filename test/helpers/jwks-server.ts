// A JWKS endpoint on 127.0.0.1 whose key set, status, body and delay a test can change and whose fetches it counts.
import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import { startHarness, type Harness } from './harness.js';

export type Jwk = Record<string, unknown>;

export interface JwksServer {
  url: string;
  /** How many times the key set was requested so far. */
  fetchCount(): number;
  /** Resolves once no client connection is open (it keeps idle keep-alive connections for a minute). */
  allConnectionsClosed(): Promise<void>;
  setKeys(keys: Jwk[]): void;
  /** Answer every later fetch with this status (200 serves the key set). */
  setStatus(status: number): void;
  /** Answer every later fetch with this raw body instead of the key set (undefined: the key set again). */
  setBody(body: string | undefined): void;
  /** Hold every later answer this long (0: answer at once). */
  setDelayMs(delayMs: number): void;
  close(): Promise<void>;
}

export async function startJwksServer(keys: Jwk[] = []): Promise<JwksServer> {
  let currentKeys = keys;
  let status = 200;
  let rawBody: string | undefined;
  let delayMs = 0;
  let fetches = 0;
  const pending = new Set<NodeJS.Timeout>();
  const server = createServer((_req, res) => {
    fetches += 1;
    const answer = () => {
      if (status !== 200) {
        res.writeHead(status, { 'Content-Type': 'text/plain' }).end('unavailable');
        return;
      }
      const body = rawBody ?? JSON.stringify({ keys: currentKeys });
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(body);
    };
    if (delayMs === 0) return answer();
    const timer = setTimeout(() => {
      pending.delete(timer);
      answer();
    }, delayMs);
    pending.add(timer);
  });
  // Idle connections stay open until the client closes them, as a real identity provider's may.
  server.keepAliveTimeout = 60_000;
  const sockets = new Set<Socket>();
  let onAllClosed: (() => void) | undefined;
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      if (sockets.size === 0) onAllClosed?.();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    fetchCount: () => fetches,
    allConnectionsClosed: () =>
      sockets.size === 0 ? Promise.resolve() : new Promise((resolve) => (onAllClosed = resolve)),
    setKeys(next) {
      currentKeys = next;
    },
    setStatus(next) {
      status = next;
    },
    setBody(next) {
      rawBody = next;
    },
    setDelayMs(next) {
      delayMs = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const timer of pending) clearTimeout(timer);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function startJwksHarness(
  jwks: JwksServer,
  cooldownMs: number,
  options: { maxAgeMs?: number; now?: () => number } = {},
): Promise<Harness> {
  return startHarness({
    env: {
      JWT_SECRET: undefined,
      JWT_JWKS_URL: jwks.url,
      JWT_JWKS_COOLDOWN_MS: String(cooldownMs),
      ...(options.maxAgeMs === undefined ? {} : { JWT_JWKS_MAX_AGE_MS: String(options.maxAgeMs) }),
      CACHE_TTL_MS: '0',
    },
    ...(options.now ? { now: options.now } : {}),
  });
}

/** A token jose signs with this key, under its kid, valid for an hour. */
export function signWithJose(key: SigningKey, alg: string, sub = 'alice'): Promise<string> {
  return new SignJWT({ sub })
    .setProtectedHeader({ alg, kid: key.kid })
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(key.privateKey);
}

export type KeyKind = 'rsa' | 'rsa-1024' | 'ec-p256' | 'ec-p384' | 'ec-secp256k1' | 'ed25519' | 'ed448';

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
    case 'rsa-1024':
      return generateKeyPairSync('rsa', { modulusLength: 1024 });
    case 'ec-p256':
      return generateKeyPairSync('ec', { namedCurve: 'P-256' });
    case 'ec-p384':
      return generateKeyPairSync('ec', { namedCurve: 'P-384' });
    case 'ec-secp256k1':
      return generateKeyPairSync('ec', { namedCurve: 'secp256k1' });
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
