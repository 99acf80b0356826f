// Starts a real redis-server on a free loopback port for one test file, and kills, pauses or restarts it by PID.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { once } from 'node:events';
import { Socket } from 'node:net';
import { describe, it } from 'vitest';
import { createClient } from 'redis';
import { freePort } from './problem.js';

export interface RedisServer {
  readonly port: number;
  /** `redis://127.0.0.1:<port>`, with the password when one was asked for. */
  readonly url: string;
  /** `rediss://127.0.0.1:<tls port>` when started with a certificate. */
  readonly tlsUrl: string | undefined;
  /** SIGKILL, as an outage: no goodbye to the clients. */
  kill(): Promise<void>;
  /** Starts it again on the same port, empty. */
  restart(): Promise<void>;
  /** SIGSTOP / SIGCONT: connected, but answering nothing (a slow Redis). */
  pause(): void;
  resume(): void;
  /** Every key and its value(s) as JSON text, found with SCAN and read by type. */
  dump(): Promise<Map<string, string>>;
  /** Sends one command on a connection of its own (e.g. CONFIG SET), and returns the reply. */
  command(args: string[]): Promise<unknown>;
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 10_000;
/** For beforeAll hooks that start redis-server and replicas: generous, as a loaded machine is slow to spawn. */
export const REDIS_SETUP_TIMEOUT_MS = 30_000;

function isOnPath(command: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * `describe` for tests that need redis-server (and `alsoNeeds`, e.g. openssl). Without them on PATH the
 * tests are skipped with a visible line, except under CI=true, where their absence fails the run.
 */
export function describeWithRedis(name: string, body: () => void, alsoNeeds: string[] = []): void {
  const missing = ['redis-server', ...alsoNeeds].filter((command) => !isOnPath(command));
  if (missing.length === 0) {
    describe(name, body);
    return;
  }
  if (process.env.CI === 'true') {
    describe(name, () => {
      it(`needs ${missing.join(' and ')} on PATH (CI=true: the Redis tests may not be skipped)`, () => {
        throw new Error(`${missing.join(' and ')} not installed; .ci/run installs them with apt`);
      });
    });
    return;
  }
  process.stderr.write(`\n  SKIPPED (${missing.join(' and ')} not on PATH): ${name}\n\n`);
  describe.skip(name, body);
}

/** Resolves once the server answers PING on its port (with AUTH when it has a password). */
async function waitUntilAnswering(port: number, child: ChildProcess, password?: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
    const reply = await new Promise<string>((resolve) => {
      const socket = new Socket();
      let data = '';
      socket.setTimeout(500, () => socket.destroy());
      socket.on('data', (chunk: Buffer) => {
        data += chunk.toString();
        if (data.includes('PONG')) socket.end();
      });
      socket.on('error', () => resolve(''));
      socket.on('close', () => resolve(data));
      socket.connect(port, '127.0.0.1', () =>
        socket.write(`${password ? `AUTH ${password}\r\n` : ''}PING\r\n`),
      );
    });
    if (reply.includes('PONG')) return;
    if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const READ_BY_TYPE: Record<string, (key: string) => string[]> = {
  string: (key) => ['GET', key],
  hash: (key) => ['HGETALL', key],
  list: (key) => ['LRANGE', key, '0', '-1'],
  set: (key) => ['SMEMBERS', key],
  zset: (key) => ['ZRANGE', key, '0', '-1', 'WITHSCORES'],
  stream: (key) => ['XRANGE', key, '-', '+'],
};

async function readValue(send: (args: string[]) => Promise<unknown>, key: string): Promise<unknown> {
  const type = String(await send(['TYPE', key]));
  const read = READ_BY_TYPE[type];
  if (read === undefined) throw new Error(`unexpected Redis type ${type} at ${key}`);
  return send(read(key));
}

export interface RedisServerOptions {
  password?: string;
  /** Also listen with TLS (no client certificates) on another port. */
  tls?: { certFile: string; keyFile: string };
}

export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const { password, tls } = options;
  const port = await freePort();
  const tlsPort = tls === undefined ? undefined : await freePort();
  let child: ChildProcess | undefined;

  async function start(): Promise<void> {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
    if (password) args.push('--requirepass', password);
    if (tls !== undefined) {
      args.push(
        '--tls-port',
        String(tlsPort),
        '--tls-cert-file',
        tls.certFile,
        '--tls-key-file',
        tls.keyFile,
      );
      args.push('--tls-auth-clients', 'no');
    }
    child = spawn('redis-server', args, { stdio: 'ignore' });
    await waitUntilAnswering(port, child, password);
  }

  async function kill(): Promise<void> {
    const running = child;
    if (running?.pid === undefined || running.exitCode !== null || running.signalCode !== null) return;
    const exited = once(running, 'exit');
    process.kill(running.pid, 'SIGCONT');
    process.kill(running.pid, 'SIGKILL');
    await exited;
  }

  function signal(name: 'SIGSTOP' | 'SIGCONT'): void {
    if (child?.pid !== undefined) process.kill(child.pid, name);
  }

  await start();
  const url = `redis://${password ? `:${encodeURIComponent(password)}@` : ''}127.0.0.1:${port}`;
  return {
    port,
    url,
    tlsUrl: tlsPort === undefined ? undefined : `rediss://127.0.0.1:${tlsPort}`,
    kill,
    async restart() {
      await kill();
      await start();
    },
    pause: () => signal('SIGSTOP'),
    resume: () => signal('SIGCONT'),
    async command(args) {
      const client = createClient({ url });
      await client.connect();
      try {
        return await client.sendCommand(args);
      } finally {
        client.destroy();
      }
    },
    async dump() {
      const client = createClient({ url });
      await client.connect();
      try {
        const entries = new Map<string, string>();
        for await (const keys of client.scanIterator({ COUNT: 100 })) {
          for (const key of keys)
            entries.set(key, JSON.stringify(await readValue((args) => client.sendCommand(args), key)));
        }
        return entries;
      } finally {
        client.destroy();
      }
    },
    stop: kill,
  };
}
