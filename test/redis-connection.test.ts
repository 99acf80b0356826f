// SPEC "Replicas and shared state": the pure parts of the Redis connection — reconnect backoff, what may be logged.
import { ErrorReply } from 'redis';
import { describe, expect, it } from 'vitest';
import {
  describeRedisError,
  describeRedisTarget,
  reconnectDelayMs,
} from '../src/shared-state/redis-connection.js';

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
