// SPEC "Rate-limit-aware retries", adaptive concurrency, as a pure table: how one answer moves the limit.
import { describe, expect, it } from 'vitest';
import { initialAimd, stepAimd, type AimdSignal, type AimdState } from '../src/upstream/aimd.js';

describe('stepAimd — one answer at a time (UPSTREAM_MAX_CONCURRENCY=32)', () => {
  it.each<[string, AimdState, AimdSignal, AimdState]>([
    ['a 429 halves the limit', { limit: 32, successes: 0 }, 'rate_limited', { limit: 16, successes: 0 }],
    ['an odd limit is halved down', { limit: 5, successes: 0 }, 'rate_limited', { limit: 2, successes: 0 }],
    ['never below 1', { limit: 1, successes: 0 }, 'rate_limited', { limit: 1, successes: 0 }],
    [
      'a 429 forgets the successes counted so far',
      { limit: 16, successes: 9 },
      'rate_limited',
      { limit: 8, successes: 0 },
    ],
    [
      'a success short of the limit is counted',
      { limit: 4, successes: 2 },
      'success',
      { limit: 4, successes: 3 },
    ],
    [
      'the limit-th success raises it by one',
      { limit: 4, successes: 3 },
      'success',
      { limit: 5, successes: 0 },
    ],
    ['never above the maximum', { limit: 32, successes: 31 }, 'success', { limit: 32, successes: 0 }],
  ])('%s', (_case, state, signal, expected) => {
    expect(stepAimd(state, signal, 32)).toEqual(expected);
  });

  it('starts at the maximum', () => {
    expect(initialAimd(32)).toEqual({ limit: 32, successes: 0 });
  });

  it('climbs back from 1 to 4 after 1 + 2 + 3 successes', () => {
    let state: AimdState = { limit: 1, successes: 0 };
    const limits: number[] = [];
    for (let i = 0; i < 6; i += 1) {
      state = stepAimd(state, 'success', 32);
      limits.push(state.limit);
    }
    expect(limits).toEqual([2, 2, 3, 3, 3, 4]);
  });
});
