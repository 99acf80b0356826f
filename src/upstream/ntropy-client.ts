// Calls Ntropy's GET /v3/batches with the server key: retries within the deadline, through the pause, quota hold and concurrency limit.
import { setTimeout as sleep } from 'node:timers/promises';
import { Problem } from '../problem.js';
import { createAttempt, type AttemptRequest } from './attempt.js';
import type { ConcurrencyLimiter } from './concurrency-limiter.js';
import { problemForOutcome } from './outcome-problem.js';
import type { PauseGate } from './pause-gate.js';
import type { QuotaHold } from './quota-hold.js';
import type { QuotaAdmission } from './quota-policy.js';
import { decideRetry, isQuotaSpent, type AttemptOutcome } from './retry-policy.js';
import type { UpstreamEvents } from './upstream-events.js';
import { isPage, lastResponseOf, type UpstreamPage, type UpstreamTrace } from './upstream-page.js';
import { createUpstreamDispatcher, type UpstreamProxy } from './upstream-dispatcher.js';

/** SPEC "Upstream request": bodies over 5 MB are refused. */
export const MAX_RESPONSE_BYTES = 5_000_000;

export interface FetchPageRequest extends AttemptRequest {
  trace: UpstreamTrace;
  /** A wait until `untilMs` begins: the requests whose deadline comes first are answered now with `problem`. */
  releaseBefore?: (untilMs: number, problem: Problem) => void;
  /** Whether a stale page could answer instead: then a pause is not waited out (SPEC "Serving stale"). */
  hasFallback?: () => Promise<boolean>;
}

export interface NtropyClientOptions {
  baseUrl: string;
  apiKey: string;
  userAgent: string;
  timeoutMs: number;
  maxRetries: number;
  /** HTTPS_PROXY/HTTP_PROXY/NO_PROXY; undefined = direct. */
  proxy?: UpstreamProxy;
  gate: PauseGate;
  quota: QuotaHold;
  limiter: ConcurrencyLimiter;
  events: UpstreamEvents;
  now?: () => number;
  random?: () => number;
}

export interface NtropyClient {
  fetchPage(request: FetchPageRequest): Promise<UpstreamPage>;
  close(): Promise<void>;
}

/** One turn in the queue: the pause was on, or one attempt was made. */
type Turn =
  | { kind: 'paused'; pauseMs: number }
  | { kind: 'answered'; outcome: AttemptOutcome; admission: QuotaAdmission };

export function createNtropyClient(options: NtropyClientOptions): NtropyClient {
  const { apiKey, gate, quota, limiter, events, maxRetries } = options;
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  // No redirect interceptor: undici's request() does not follow redirects (SPEC: a 3xx is an upstream_error).
  const pool = createUpstreamDispatcher(options.baseUrl, options.proxy, {
    connections: 64,
    keepAliveTimeout: 4_000,
    maxResponseSize: MAX_RESPONSE_BYTES,
  });
  const attempt = createAttempt({
    pool,
    apiKey,
    userAgent: options.userAgent,
    timeoutMs: options.timeoutMs,
    now,
  });
  const scrub = (text: string) => text.replaceAll(apiKey, '[redacted]');

  // The pause and the hold are checked once a slot is free, so no attempt leaves while either is on.
  async function takeTurn(request: FetchPageRequest): Promise<Turn> {
    const pauseMs = await gate.remainingMs(now());
    if (pauseMs > 0) return { kind: 'paused', pauseMs };
    if (now() >= request.deadlineAtMs()) {
      throw new Problem('upstream_timeout', 'The request deadline ran out', {
        ...lastResponseOf(request.trace),
        reason: 'deadline',
      });
    }
    const admission = await quota.admit(now());
    if (admission.action === 'refuse') {
      throw new Problem('upstream_quota_exhausted', 'Ntropy quota is exhausted; calls are on hold', {
        ...lastResponseOf(request.trace),
        retryAfterS: admission.retryAfterMs / 1000,
        reason: 'quota_hold',
      });
    }
    request.trace.attempts += 1;
    try {
      return { kind: 'answered', outcome: await attempt(request), admission };
    } catch (error) {
      events.attempt('cancelled');
      throw error;
    }
  }

  async function waitForPause(request: FetchPageRequest, pauseMs: number): Promise<void> {
    const problem = new Problem('upstream_rate_limited', 'Ntropy is rate limiting this account', {
      ...lastResponseOf(request.trace),
      retryAfterS: pauseMs / 1000,
      reason: 'paused',
    });
    if ((await request.hasFallback?.()) === true) throw problem;
    if (now() + pauseMs >= request.deadlineAtMs()) throw problem;
    request.releaseBefore?.(now() + pauseMs, problem);
    events.pauseWait(pauseMs);
    await sleep(pauseMs, undefined, { signal: request.signal });
    // Counted once over: a request released at its start did not wait it.
    request.trace.waitedMs += pauseMs;
  }

  /** Notes the answer in the trace, the AIMD limit and the quota hold; returns the page when it is one. */
  async function learn(outcome: AttemptOutcome, admission: QuotaAdmission, trace: UpstreamTrace) {
    if ((outcome.kind === 'response' || outcome.kind === 'too_large') && outcome.status !== undefined) {
      const requestId = outcome.headers['x-request-id'];
      trace.lastStatus = outcome.status;
      trace.lastRequestId = typeof requestId === 'string' ? scrub(requestId) : undefined;
    }
    events.attempt(outcome.kind === 'response' ? String(outcome.status) : outcome.kind);
    // SPEC AIMD: a 429 is Ntropy's rate-limit signal; 502/503/504 are not.
    if (outcome.kind === 'response' && outcome.status === 429) limiter.record('rate_limited');
    const quotaRetryAfterMs = isQuotaSpent(outcome) ? await quota.hold(now()) : 0;
    if (outcome.kind !== 'response' || outcome.status !== 200 || !isPage(outcome.body)) {
      return { page: undefined, quotaRetryAfterMs };
    }
    limiter.record('success');
    if (admission.action === 'probe') await quota.lift(now());
    const page = {
      body: outcome.body,
      upstreamRequestId: trace.lastRequestId,
      fetchedAtMs: outcome.receivedAtMs,
    };
    return { page, quotaRetryAfterMs };
  }

  // Hand-written rather than undici's RetryAgent: that retries 500s and bare 429s, caps Retry-After
  // at 30 s, and has neither a process-wide pause nor a total deadline.
  async function runCall(request: FetchPageRequest): Promise<UpstreamPage> {
    const { trace, signal } = request;
    for (;;) {
      const turn = await limiter.run(() => takeTurn(request), signal);
      if (turn.kind === 'paused') {
        await waitForPause(request, turn.pauseMs);
        continue;
      }
      const { outcome } = turn;
      const { page, quotaRetryAfterMs } = await learn(outcome, turn.admission, trace);
      if (page !== undefined) return page;

      const decision = decideRetry({
        outcome,
        retriesMade: trace.attempts - 1,
        maxRetries,
        nowMs: now(),
        deadlineAtMs: request.deadlineAtMs(),
        random,
      });
      if (decision.pauseUntilMs !== undefined) await gate.pauseUntil(decision.pauseUntilMs, now());
      const problem = problemForOutcome(outcome, {
        // Only a 429's answer names the pause (and with REDIS_URL reading it is a Redis call).
        pauseRemainingMs:
          outcome.kind === 'response' && outcome.status === 429 ? await gate.remainingMs(now()) : 0,
        quotaRetryAfterMs,
        scrub,
        lastResponse: lastResponseOf(trace),
      });
      if (decision.action === 'give_up') throw problem;
      events.retry();
      // A 429's Retry-After wait is served by the gate on the next turn, shared with every other call.
      if (decision.pauseUntilMs !== undefined && decision.pauseUntilMs > now()) continue;
      request.releaseBefore?.(now() + decision.waitMs, problem);
      await sleep(decision.waitMs, undefined, { signal });
      trace.waitedMs += decision.waitMs;
    }
  }

  async function fetchPage(request: FetchPageRequest): Promise<UpstreamPage> {
    try {
      return await runCall(request);
    } catch (error) {
      // SPEC "Request IDs and audit log": one warning per failed call, not per waiter; a call cancelled
      // for want of waiters, a refusal that reached no one upstream and a client-caused answer are not failures.
      const { trace } = request;
      if (error instanceof Problem && error.code.startsWith('upstream_') && trace.attempts > 0) {
        events.callFailed({
          requestId: request.requestId,
          code: error.code,
          reason: error.reason,
          attempts: trace.attempts,
          upstreamStatus: trace.lastStatus,
          upstreamRequestId: trace.lastRequestId,
        });
      }
      throw error;
    }
  }

  return { fetchPage, close: () => pool.close() };
}
