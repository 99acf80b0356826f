// SPEC "Replicas and shared state": the Redis connection — when it connects, its reconnect backoff, what may be logged.
import { createServer, type Socket } from 'node:net';
import { ErrorReply } from 'redis';
import { describe, expect, it } from 'vitest';
import { listenHarness, startHarness } from './helpers/harness.js';
import { waitFor } from './helpers/replicas.js';
import { bearer } from './helpers/tokens.js';
import {
  describeRedisError,
  describeRedisTarget,
  reconnectDelayMs,
} from '../src/shared-state/redis-connection.js';

describe('Redis connection — startup', () => {
  it('touches Redis only once the server listens, and shows the Redis metrics only with REDIS_URL', async () => {
    // A TCP listener standing in for Redis: it only counts connection attempts.
    const sockets: Socket[] = [];
    const fakeRedis = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => fakeRedis.listen(0, '127.0.0.1', resolve));
    const { port } = fakeRedis.address() as { port: number };
    const h = await startHarness({ env: { REDIS_URL: `redis://127.0.0.1:${port}` } });
    const plain = await startHarness();
    try {
      expect((await h.request.get('/v3/batches').set('Authorization', bearer())).status).toBe(200);
      expect(sockets).toHaveLength(0);
      expect((await h.request.get('/metrics')).text).toMatch(/^ntropy_bff_redis_up 0$/m);
      expect((await plain.request.get('/metrics')).text).not.toContain('ntropy_bff_redis');

      const running = await listenHarness(h);
      await waitFor(() => Promise.resolve(sockets.length > 0));
      await running.shutdown(0);
    } finally {
      for (const socket of sockets) socket.destroy();
      fakeRedis.close();
      await Promise.all([h.close(), plain.close()]);
    }
  });
});

describe('Redis reconnect backoff', () => {
  it.each([
    [0, 0, 50],
    [0, 1, 100],
    [3, 1, 800],
    [4, 0.5, 1200],
    [5, 1, 2000],
    [30, 0, 1000],
    [30, 1, 2000],
  ])(
    'after %i failed attempts with random %f waits %i ms (doubling, capped at 2 s, jittered down to half)',
    (retries, random, waitMs) => {
      expect(reconnectDelayMs(retries, random)).toBe(waitMs);
    },
  );
});

describe('Redis URL in log lines', () => {
  it.each([
    ['redis://127.0.0.1:6379', 'redis://127.0.0.1:6379'],
    ['redis://:s3cret@redis.internal:6379/2', 'redis://redis.internal:6379/2'],
    ['rediss://app:s3cret@redis.example.com:6380/0', 'rediss://redis.example.com:6380/0'],
    ['redis://user:p%40ss@[::1]:6379', 'redis://[::1]:6379'],
    ['redis://redis.internal?password=s3cret', 'redis://redis.internal'],
  ])('%s is logged as %s: never the user or password', (url, logged) => {
    expect(describeRedisTarget(url)).toBe(logged);
  });
});

describe('Redis failure causes in log lines', () => {
  it.each([
    [
      'a socket error',
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' }),
      'ECONNREFUSED',
    ],
    [
      'an error reply',
      new ErrorReply('WRONGPASS invalid username-password pair or user is disabled.'),
      'WRONGPASS',
    ],
    ['a command timeout', new (class TimeoutReadError extends Error {})('Command timed out'), 'timeout'],
    [
      'a closed socket',
      new (class SocketClosedUnexpectedlyError extends Error {})('Socket closed'),
      'SocketClosedUnexpectedlyError',
    ],
    ['something thrown that is not an Error', 'a string', 'unknown'],
  ])('%s is logged by its code or class, never its message', (_what, error, cause) => {
    expect(describeRedisError(error)).toBe(cause);
  });
});
