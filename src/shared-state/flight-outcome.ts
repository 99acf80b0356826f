// What an upstream call's owner leaves for the replicas waiting on it, and what a waiter does next (pure).
import { catalogue, Problem, type FieldError, type ProblemCode } from '../problem.js';
import type { UpstreamPage } from '../upstream/upstream-page.js';

/** A problem as the waiters rebuild it: what the client sees, with Retry-After as an instant. */
export interface SharedProblem {
  code: ProblemCode;
  detail: string;
  errors?: FieldError[];
  upstreamStatus?: number;
  upstreamRequestId?: string;
  retryAtMs?: number;
  reason?: string;
}

export type FlightOutcome =
  /** The call got a page (`isStored`: it is in the shared cache too). */
  | { owner: string; kind: 'page'; page: UpstreamPage; isStored: boolean }
  /** The call ended in this problem: its waiters answer with it rather than call again. */
  | { owner: string; kind: 'failed'; problem: SharedProblem }
  /** The call waits until `untilMs`; a waiter whose deadline comes first answers now with `problem`. */
  | { owner: string; kind: 'waiting'; untilMs: number; problem: SharedProblem }
  /** The call ended without an answer to share (nobody waited any more, its own deadline, a bug). */
  | { owner: string; kind: 'released' };

export type FollowStep =
  | { action: 'wait' }
  /** The lock has another owner now: wait on that one's call. */
  | { action: 'follow'; owner: string }
  /** The owner disappeared without an outcome: call upstream here (after claiming the lock). */
  | { action: 'take_over' }
  | { action: 'answer'; outcome: Extract<FlightOutcome, { kind: 'page' | 'failed' }> }
  | { action: 'release_before'; untilMs: number; problem: SharedProblem };

/** What a replica waiting on `owner`'s call does, given the lock's holder and the last outcome written. */
export function nextFollowStep(
  lock: string | undefined,
  outcome: FlightOutcome | undefined,
  owner: string,
): FollowStep {
  if (outcome?.owner === owner) {
    if (outcome.kind === 'page' || outcome.kind === 'failed') return { action: 'answer', outcome };
    if (outcome.kind === 'released') return { action: 'take_over' };
    if (lock === owner)
      return { action: 'release_before', untilMs: outcome.untilMs, problem: outcome.problem };
  }
  if (lock === owner) return { action: 'wait' };
  if (lock !== undefined) return { action: 'follow', owner: lock };
  return { action: 'take_over' };
}

export function shareProblem(problem: Problem, nowMs: number): SharedProblem {
  return {
    code: problem.code,
    detail: problem.detail,
    ...(problem.errors && { errors: problem.errors }),
    ...(problem.upstreamStatus !== undefined && { upstreamStatus: problem.upstreamStatus }),
    ...(problem.upstreamRequestId !== undefined && { upstreamRequestId: problem.upstreamRequestId }),
    ...(problem.retryAfterS !== undefined && { retryAtMs: nowMs + problem.retryAfterS * 1000 }),
    ...(problem.reason !== undefined && { reason: problem.reason }),
  };
}

export function rebuildProblem(shared: SharedProblem, nowMs: number): Problem {
  const { code, detail, retryAtMs, ...rest } = shared;
  return new Problem(code, detail, {
    ...rest,
    ...(retryAtMs !== undefined && { retryAfterS: (retryAtMs - nowMs) / 1000 }),
  });
}

/** One line of JSON, a newline, then the page body when there is one. */
export function encodeOutcome(outcome: FlightOutcome): Buffer {
  if (outcome.kind !== 'page') return Buffer.from(`${JSON.stringify(outcome)}\n`);
  const { page, ...rest } = outcome;
  const header = { ...rest, fetchedAtMs: page.fetchedAtMs, upstreamRequestId: page.upstreamRequestId };
  return Buffer.concat([Buffer.from(`${JSON.stringify(header)}\n`), page.body]);
}

/** The outcome, or undefined for anything this version did not write. */
export function decodeOutcome(value: unknown): FlightOutcome | undefined {
  if (!Buffer.isBuffer(value)) return undefined;
  const newline = value.indexOf(0x0a);
  if (newline === -1) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.subarray(0, newline).toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const header = parsed as Record<string, unknown>;
  const { owner, kind } = header;
  if (typeof owner !== 'string') return undefined;
  switch (kind) {
    case 'page':
      return typeof header.fetchedAtMs === 'number' && typeof header.isStored === 'boolean'
        ? {
            owner,
            kind,
            isStored: header.isStored,
            page: {
              body: value.subarray(newline + 1),
              fetchedAtMs: header.fetchedAtMs,
              upstreamRequestId:
                typeof header.upstreamRequestId === 'string' ? header.upstreamRequestId : undefined,
            },
          }
        : undefined;
    case 'failed':
      return isSharedProblem(header.problem) ? { owner, kind, problem: header.problem } : undefined;
    case 'waiting':
      return isSharedProblem(header.problem) && typeof header.untilMs === 'number'
        ? { owner, kind, untilMs: header.untilMs, problem: header.problem }
        : undefined;
    case 'released':
      return { owner, kind };
    default:
      return undefined;
  }
}

function isSharedProblem(value: unknown): value is SharedProblem {
  if (typeof value !== 'object' || value === null) return false;
  const { code, detail, errors } = value as { code?: unknown; detail?: unknown; errors?: unknown };
  return (
    typeof code === 'string' &&
    Object.hasOwn(catalogue, code) &&
    typeof detail === 'string' &&
    (errors === undefined || Array.isArray(errors))
  );
}
