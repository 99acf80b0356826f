// The benchmark's servers, each its own process on 127.0.0.1: the stand-in, the two ceilings, the built proxy.
import { generateKeyPairSync } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { ROOT, startServer, type Server } from './processes.js';
import { readStartFlags } from './start-flags.js';

export const HIT_PATH = '/v3/batches?limit=10';

export interface Auth {
  algorithm: 'HS256' | 'RS256';
  env: Record<string, string>;
  token: string;
}

/** Tokens valid for the whole run, with the key the proxy is given to check them. */
export function createAuths(): Auth[] {
  const secret = 'bench-secret-of-at-least-thirty-two-bytes';
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const sign = (key: string | typeof privateKey, algorithm: Auth['algorithm']) =>
    jwt.sign({ scope: 'batches:read' }, key, { algorithm, subject: 'bench-user', expiresIn: '1h' });
  return [
    { algorithm: 'HS256', env: { JWT_SECRET: secret }, token: sign(secret, 'HS256') },
    {
      algorithm: 'RS256',
      env: { JWT_PUBLIC_KEY: publicKey.export({ type: 'spki', format: 'pem' }).toString() },
      token: sign(privateKey, 'RS256'),
    },
  ];
}

/** `faults`: the share of calls answered 503, and 429 with `Retry-After` (bench/stand-in.ts). */
export function startStandIn(
  delayMs = 0,
  faults: { rate503: number; rate429: number; retryAfterS: number } = {
    rate503: 0,
    rate429: 0,
    retryAfterS: 1,
  },
): Promise<Server> {
  const args = ['--delay-ms', String(delayMs)];
  args.push('--fault-503-rate', String(faults.rate503), '--fault-429-rate', String(faults.rate429));
  args.push('--retry-after-s', String(faults.retryAfterS));
  return startServer({ name: 'stand-in', script: 'stand-in.js', args, readyPath: '/healthz' });
}

export function startCeiling(kind: 'node' | 'express'): Promise<Server> {
  return startServer({ name: kind, script: 'ceilings.js', args: ['--kind', kind], readyPath: HIT_PATH });
}

/**
 * The built proxy, `node dist/main.js` with `npm start`'s Node flags, configured only through its environment
 * (SPEC "Running"). `nodeArgs` come after those flags (a V8 flag given twice takes its last value). `mainJs`
 * names another build's entry (an absolute path), for an A/B of two commits (`bench/ab.ts`).
 */
export function startProxy(
  standIn: Server,
  auth: Auth,
  env: Record<string, string>,
  nodeArgs: string[] = [],
  mainJs = `${ROOT}dist/main.js`,
): Promise<Server> {
  return startServer({
    name: 'proxy',
    script: mainJs,
    nodeArgs: [...readStartFlags(), ...nodeArgs],
    readyPath: '/healthz',
    env: {
      NTROPY_API_KEY: 'bench-ntropy-key',
      NTROPY_BASE_URL: standIn.url,
      LOG_LEVEL: 'info',
      // One subject sends all the load: the per-user limit would refuse nearly all of it.
      USER_RATE_LIMIT_PER_MIN: '0',
      SHUTDOWN_GRACE_MS: '1000',
      ...auth.env,
      ...env,
    },
  });
}

export async function withServer<T>(start: Promise<Server>, use: (server: Server) => Promise<T>): Promise<T> {
  const server = await start;
  try {
    return await use(server);
  } finally {
    await server.stop();
  }
}

/** The hand-written peer (`bench/peer.ts`) in front of the stand-in, checking HS256 tokens with `auth`'s secret. */
export function startPeer(standIn: Server, auth: Auth): Promise<Server> {
  if (auth.algorithm !== 'HS256') throw new Error('the peer checks HS256 tokens only');
  return startServer({
    name: 'peer',
    script: 'peer.js',
    readyPath: '/healthz',
    env: { NTROPY_API_KEY: 'bench-ntropy-key', NTROPY_BASE_URL: standIn.url, ...auth.env },
  });
}
