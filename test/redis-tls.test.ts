// SPEC "Replicas and shared state" over TLS: rediss:// verifies the server's certificate, and NODE_EXTRA_CA_CERTS trusts a private CA.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createSecureContext, createServer as createTlsServer } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  describeWithRedis,
  startRedisServer,
  type RedisServer,
  REDIS_SETUP_TIMEOUT_MS,
} from './helpers/redis-server.js';
import { API_KEY, startReplicas, waitFor } from './helpers/replicas.js';
import { acquireStartSlot } from './helpers/start-slots.js';
import { bearer, JWT_SECRET, signToken } from './helpers/tokens.js';
import { startSimulatedNtropy, type SimulatedNtropy } from '../src/demo/simulated-ntropy.js';

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));
/** A bound for a broken build, not a timing claim: a loaded machine may take seconds to start a process. */
const SPAWN_TIMEOUT_MS = 20_000;

describeWithRedis(
  'Replicas — Redis over TLS (rediss://)',
  () => {
    let dir: string;
    let redis: RedisServer;
    let upstream: SimulatedNtropy;
    const children: ChildProcess[] = [];
    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'ntropy-bff-redis-tls-'));
      // A self-signed certificate for 127.0.0.1, made for this run only.
      execFileSync(
        'openssl',
        [
          // EC: made in milliseconds, where an RSA key takes a good part of a second of CPU.
          ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'],
          ...['-days', '1', '-subj', '/CN=127.0.0.1'],
          ...[
            '-addext',
            'subjectAltName=IP:127.0.0.1,DNS:localhost',
            '-keyout',
            join(dir, 'key.pem'),
            '-out',
            join(dir, 'cert.pem'),
          ],
        ],
        { stdio: 'ignore' },
      );
      redis = await startRedisServer({
        tls: { certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem') },
      });
      upstream = await startSimulatedNtropy({ apiKey: API_KEY });
    }, REDIS_SETUP_TIMEOUT_MS);
    afterAll(async () => {
      for (const child of children) child.kill('SIGKILL');
      await upstream.close();
      await redis.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    // Independent of each other (the first never reaches Redis, the second never reaches this one): concurrent.
    it.concurrent(
      'refuses a certificate it cannot verify: one warning, requests served from local state',
      async () => {
        const r = await startReplicas(1, { env: { REDIS_URL: redis.tlsUrl } });
        try {
          const [replica] = r.replicas;
          await waitFor(() => Promise.resolve(replica!.logs.records().some((line) => line.level === 40)));
          const warnings = replica!.logs.records().filter((line) => line.level === 40);
          expect(warnings).toEqual([
            expect.objectContaining({
              msg: 'redis unavailable: carrying on with local state',
              cause: 'DEPTH_ZERO_SELF_SIGNED_CERT',
            }),
          ]);
          expect((await replica!.get('/v3/batches', 'tls-user')).status).toBe(200);
          expect(await replica!.metric('ntropy_bff_redis_up')).toBe(0);
        } finally {
          await r.close();
        }
      },
      30_000,
    );

    it.concurrent(
      'names the host in SNI, as TLS proxies in front of managed Redis services need',
      async () => {
        // A TLS listener standing in for such a proxy: it records the server name each client asks for.
        const names: string[] = [];
        const credentials = {
          key: readFileSync(join(dir, 'key.pem')),
          cert: readFileSync(join(dir, 'cert.pem')),
        };
        const proxy = createTlsServer({
          ...credentials,
          SNICallback: (servername, done) => {
            names.push(servername);
            done(null, createSecureContext(credentials));
          },
        });
        proxy.on('tlsClientError', () => {});
        await new Promise<void>((resolve) => proxy.listen(0, resolve));
        const { port } = proxy.address() as { port: number };
        const r = await startReplicas(1, { env: { REDIS_URL: `rediss://localhost:${port}` } });
        try {
          await waitFor(() => Promise.resolve(names.length > 0));
          expect(names[0]).toBe('localhost');
        } finally {
          await r.close();
          proxy.close();
        }
      },
      30_000,
    );

    it.concurrent(
      'shares the limit through a TLS Redis whose CA is given with NODE_EXTRA_CA_CERTS',
      async () => {
        const freeSlot = await acquireStartSlot();
        const child = spawn(process.execPath, [MAIN], {
          cwd: dir,
          env: {
            PATH: process.env.PATH ?? '',
            NODE_EXTRA_CA_CERTS: join(dir, 'cert.pem'),
            ...{
              NTROPY_API_KEY: API_KEY,
              NTROPY_BASE_URL: upstream.url,
              JWT_SECRET,
              HOST: '127.0.0.1',
              PORT: '0',
            },
            REDIS_URL: redis.tlsUrl,
          },
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        children.push(child);
        let stdout = '';
        child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
        let url = '';
        await waitFor(() => {
          const port = /"port":([0-9]+).*"msg":"listening"/.exec(stdout)?.[1];
          url = `http://127.0.0.1:${port}`;
          return Promise.resolve(port !== undefined);
        }, SPAWN_TIMEOUT_MS).finally(freeSlot);
        await waitFor(
          async () => /^ntropy_bff_redis_up 1$/m.test(await (await fetch(`${url}/metrics`)).text()),
          SPAWN_TIMEOUT_MS,
        );

        const res = await fetch(`${url}/v3/batches`, {
          headers: { authorization: bearer(signToken({ claims: { sub: 'tls-user' } })) },
        });
        expect(res.status).toBe(200);
        expect((await redis.dump()).get('ntropy-bff:limit:tls-user')).toBe('"1"');
      },
      3 * SPAWN_TIMEOUT_MS,
    );
  },
  ['openssl'],
);
