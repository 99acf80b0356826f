// SPEC "Replicas and shared state": what replicas leave each other in Redis, and what a waiting replica does next.
import { describe, expect, it } from 'vitest';
import { Problem } from '../src/problem.js';
import {
  decodeOutcome,
  encodeOutcome,
  nextFollowStep,
  rebuildProblem,
  shareProblem,
  type FlightOutcome,
} from '../src/shared-state/flight-outcome.js';
import { decodePageEntry, encodePageEntry } from '../src/shared-state/page-entry.js';
import { formatHold, parseHold } from '../src/shared-state/shared-quota-hold.js';

const page = {
  body: Buffer.from('{"next_cursor":null,"data":[{"id":"b-1"}]}'),
  upstreamRequestId: 'req-1',
  fetchedAtMs: 1_000,
};
const problem = {
  code: 'upstream_error' as const,
  detail: 'Ntropy answered with status 503',
  upstreamStatus: 503,
};

describe('a waiting replica — what it does next', () => {
  it.each<[string, string | undefined, FlightOutcome | undefined, ReturnType<typeof nextFollowStep>]>([
    ['the owner still holds the lock', 'A', undefined, { action: 'wait' }],
    [
      'the owner got a page',
      undefined,
      { owner: 'A', kind: 'page', page, isStored: true },
      { action: 'answer', outcome: { owner: 'A', kind: 'page', page, isStored: true } },
    ],
    [
      'the owner failed',
      undefined,
      { owner: 'A', kind: 'failed', problem },
      { action: 'answer', outcome: { owner: 'A', kind: 'failed', problem } },
    ],
    [
      'the owner waits until 5000',
      'A',
      { owner: 'A', kind: 'waiting', untilMs: 5000, problem },
      { action: 'release_before', untilMs: 5000, problem },
    ],
    [
      'the owner released the lock without an answer',
      undefined,
      { owner: 'A', kind: 'released' },
      { action: 'take_over' },
    ],
    [
      'the lock expired without an outcome (the owner vanished)',
      undefined,
      undefined,
      { action: 'take_over' },
    ],
    [
      'the lock expired while the owner announced a wait',
      undefined,
      { owner: 'A', kind: 'waiting', untilMs: 5000, problem },
      { action: 'take_over' },
    ],
    ['another replica took the lock over', 'B', undefined, { action: 'follow', owner: 'B' }],
    [
      "an earlier owner's outcome is not this call's",
      'A',
      { owner: 'Z', kind: 'failed', problem },
      { action: 'wait' },
    ],
    [
      "an earlier owner's page does not end the wait for a later owner",
      'A',
      { owner: 'Z', kind: 'page', page, isStored: false },
      { action: 'wait' },
    ],
  ])('%s', (_case, lock, outcome, step) => {
    expect(nextFollowStep(lock, outcome, 'A')).toEqual(step);
  });
});

describe('flight outcomes in Redis', () => {
  it.each<[string, FlightOutcome]>([
    ['a page, body byte for byte', { owner: 'A', kind: 'page', page, isStored: true }],
    [
      'a page without an upstream request id',
      { owner: 'A', kind: 'page', page: { ...page, upstreamRequestId: undefined }, isStored: false },
    ],
    ['a failure', { owner: 'A', kind: 'failed', problem }],
    ['a wait', { owner: 'A', kind: 'waiting', untilMs: 9000, problem }],
    ['a release', { owner: 'A', kind: 'released' }],
  ])('reads back %s as written', (_case, outcome) => {
    expect(decodeOutcome(encodeOutcome(outcome))).toEqual(outcome);
  });

  it.each<[string, unknown]>([
    ['nothing', null],
    ['text, not bytes', '{"owner":"A","kind":"released"}\n'],
    ['no newline', Buffer.from('{"owner":"A","kind":"released"}')],
    ['JSON null', Buffer.from('null\n')],
    ['an unknown kind', Buffer.from('{"owner":"A","kind":"exploded"}\n')],
    [
      'a problem code outside the catalogue',
      Buffer.from('{"owner":"A","kind":"failed","problem":{"code":"teapot","detail":"x"}}\n'),
    ],
    ['a page without its times', Buffer.from('{"owner":"A","kind":"page","isStored":true}\n{}')],
  ])('treats %s as no outcome', (_case, value) => {
    expect(decodeOutcome(value)).toBeUndefined();
  });

  it("rebuilds a failure with the client's view: Retry-After counted to the same instant", () => {
    const original = new Problem('upstream_rate_limited', 'Ntropy is rate limiting this account', {
      upstreamStatus: 429,
      upstreamRequestId: 'req-9',
      retryAfterS: 10,
      reason: 'http_429',
    });
    const rebuilt = rebuildProblem(shareProblem(original, 50_000), 53_500);
    expect(rebuilt).toMatchObject({
      code: 'upstream_rate_limited',
      status: 429,
      detail: 'Ntropy is rate limiting this account',
      upstreamStatus: 429,
      upstreamRequestId: 'req-9',
      retryAfterS: 7,
      reason: 'http_429',
    });
  });
});

describe('page entries in Redis', () => {
  const entry = { page, freshUntilMs: 6_000, staleUntilMs: 306_000 };

  it('reads back an entry as written, body byte for byte, its header first', () => {
    const encoded = encodePageEntry(entry);
    expect(encoded.toString()).toMatch(/^\{"fresh_until_ms":6000,/);
    expect(decodePageEntry(encoded)).toEqual(entry);
  });

  it.each<[string, unknown]>([
    ['nothing', null],
    ['no newline', Buffer.from('{"fresh_until_ms":1}')],
    ['a header that is not JSON', Buffer.from('fresh\n{}')],
    ['missing times', Buffer.from('{"fresh_until_ms":1,"stale_until_ms":2}\n{}')],
    [
      'a numeric request id',
      Buffer.from('{"fresh_until_ms":1,"stale_until_ms":2,"fetched_at_ms":0,"upstream_request_id":7}\n{}'),
    ],
  ])('treats %s as a miss', (_case, value) => {
    expect(decodePageEntry(value)).toBeUndefined();
  });
});

describe('the quota hold in Redis', () => {
  it.each<[unknown, ReturnType<typeof parseHold>]>([
    ['60000:1000', { heldUntilMs: 60_000, lastProbeAtMs: 1000 }],
    [null, undefined],
    ['60000', undefined],
    ['60000:-1', undefined],
    ['x:1', undefined],
  ])('reads %j as %j', (value, state) => {
    expect(parseHold(value)).toEqual(state);
  });

  it('writes what it reads', () => {
    expect(
      parseHold(formatHold({ heldUntilMs: 1_700_000_060_000, lastProbeAtMs: 1_700_000_000_000 })),
    ).toEqual({
      heldUntilMs: 1_700_000_060_000,
      lastProbeAtMs: 1_700_000_000_000,
    });
  });
});
