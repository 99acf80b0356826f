// A fresh harness per test whose clock the test moves forward (the real clock keeps running beneath it).
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach } from 'vitest';
import { startHarness, type Harness, type HarnessOptions } from './harness.js';

export interface ClockedHarness {
  h: Harness;
  /** Moves the proxy's clock to `ms` after the test began. */
  advanceTo: (ms: number) => Promise<void>;
  /**
   * Whole seconds on the proxy's clock since an event at `ms` on the test's clock, at least and at most:
   * the real clock runs on beneath the moved one, and the event happened at some real moment since the start.
   */
  secondsSince: (ms: number) => { min: number; max: number };
}

/**
 * Starts a harness before each test of the enclosing describe (retries without backoff) and closes it
 * after. A `frozen` clock moves only when the test moves it: for rules that count time exactly, as long
 * as nothing in the test waits for the proxy's own timeouts (which then never come).
 */
export function useClockedHarness(
  options: HarnessOptions = {},
  clock: { frozen?: boolean } = {},
): () => ClockedHarness {
  let current: ClockedHarness | undefined;
  beforeEach(async () => {
    let offsetMs = 0;
    const startedAtMs = Date.now();
    const now = clock.frozen === true ? () => startedAtMs + offsetMs : () => Date.now() + offsetMs;
    const h = await startHarness({ now, random: () => 0, ...options });
    current = {
      h,
      secondsSince(ms) {
        // Whatever happened at `ms` happened at some real moment since the start: bound by all of it.
        const elapsedMs = clock.frozen === true ? 0 : Date.now() - startedAtMs;
        return {
          min: Math.floor((offsetMs - ms) / 1000),
          max: Math.floor((offsetMs - ms + elapsedMs) / 1000),
        };
      },
      async advanceTo(ms) {
        offsetMs = ms;
        // lru-cache reuses a clock reading for 1 ms; a short pause makes it read the moved clock.
        await sleep(5);
      },
    };
  });
  afterEach(async () => {
    await current?.h.close();
    current = undefined;
  });
  return () => {
    if (current === undefined) throw new Error('harness not started');
    return current;
  };
}
