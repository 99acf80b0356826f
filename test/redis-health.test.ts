// SPEC "Replicas and shared state": one warning per Redis outage, refusals included, on an injected clock.
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { createRedisHealth, REFUSAL_QUIET_MS } from '../src/shared-state/redis-health.js';
import { createLogCapture } from './helpers/log-capture.js';

const REFUSED = 'redis refused a command: carrying on with local state';

function healthOnClock() {
  const logs = createLogCapture();
  const gauge: boolean[] = [];
  let errors = 0;
  let nowMs = 1_000_000;
  const health = createRedisHealth({
    logger: pino({ level: 'info' }, logs.stream),
    observer: { setUp: (isUp) => gauge.push(isUp), countError: () => (errors += 1) },
    target: 'redis://127.0.0.1:6379',
    now: () => nowMs,
  });
  return {
    health,
    refusals: () => logs.records().filter((line) => line.msg === REFUSED),
    gauge,
    errors: () => errors,
    advance: (ms: number) => (nowMs += ms),
  };
}

describe('Redis health — refused commands', () => {
  it('warns once for refusals closer together than the quiet time, and again after it; counts each', () => {
    const t = healthOnClock();
    t.health.reportUp();
    for (let i = 0; i < 10; i += 1) {
      t.health.reportRefusal('OOM');
      t.health.reportUp();
      t.advance(REFUSAL_QUIET_MS / 4);
    }
    expect(t.refusals()).toHaveLength(1);
    expect(t.errors()).toBe(10);
    t.advance(REFUSAL_QUIET_MS);
    t.health.reportRefusal('READONLY');
    expect(t.refusals().map((line) => line.cause)).toEqual(['OOM', 'READONLY']);
  });

  it('leaves the up gauge alone: Redis answered, if only with an error', () => {
    const t = healthOnClock();
    t.health.reportUp();
    t.health.reportRefusal('OOM');
    t.health.reportUp();
    expect(t.gauge).toEqual([false, true]);
  });
});
