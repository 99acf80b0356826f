// Calls Ntropy's GET /v3/batches with the server key: one keep-alive pool, the pause gate, retries, deadline.
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool, type Dispatcher } from 'undici';
import { Problem } from '../problem.js';
import { problemForOutcome } from './outcome-problem.js';
import type { PauseGate } from './pause-gate.js';
import { decideRetry, type AttemptOutcome } from './retry-policy.js';

/** SPEC "Upstream request": bodies over 5 MB are refused. */
export const MAX_RESPONSE_BYTES = 5_000_000;

export interface UpstreamPage {
  /** The upstream JSON body, byte for byte. */
  body: Buffer;
  upstreamRequestId: string | undefined;
  fetchedAtMs: number;
}

/** What happened upstream for one call, filled in as it goes (read by the audit line and metrics). */
export interface UpstreamTrace {
  attempts: number;
  lastStatus: number | undefined;
  lastRequestId: string | undefined;
  waitedMs: number;
}

export interface FetchPageRequest {
  queryString: string;
  requestId: string;
  deadlineAtMs: number;
  signal: AbortSignal;
  trace: UpstreamTrace;
}

export interface UpstreamObserver {
  onAttempt(outcome: string): void;
  onRetry(): void;
  onPauseWait(waitMs: number): void;
}

export interface NtropyClientOptions {
  baseUrl: string;
  apiKey: string;
  userAgent: string;
  timeoutMs: number;
  maxRetries: number;
  gate: PauseGate;
  observer?: UpstreamObserver;
  now?: () => number;
  random?: () => number;
}

export interface NtropyClient {
  fetchPage(request: FetchPageRequest): Promise<UpstreamPage>;
  close(): Promise<void>;
}

export function newTrace(): UpstreamTrace {
  return { attempts: 0, lastStatus: undefined, lastRequestId: undefined, waitedMs: 0 };
}

const quietObserver: UpstreamObserver = { onAttempt() {}, onRetry() {}, onPauseWait() {} };

export function createNtropyClient(options: NtropyClientOptions): NtropyClient {
  const { apiKey, gate, maxRetries, timeoutMs } = options;
  const observer = options.observer ?? quietObserver;
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  // No redirect interceptor: undici's request() does not follow redirects (SPEC: a 3xx is an upstream_error).
  const pool = new Pool(options.baseUrl, {
    connections: 64,
    keepAliveTimeout: 4_000,
    maxResponseSize: MAX_RESPONSE_BYTES,
  });
  const scrub = (text: string) => text.replaceAll(apiKey, '[redacted]');

  async function attempt(request: FetchPageRequest): Promise<AttemptOutcome> {
    // One controller and one timer per attempt: cheaper than AbortSignal.timeout joined with
    // AbortSignal.any, which on Node 20 cost a large share of a cache miss (BENCHMARKS.md).
    const controller = new AbortController();
    const abort = () => controller.abort();
    let isTimedOut = false;
    const timer = setTimeout(
      () => {
        isTimedOut = true;
        controller.abort();
      },
      Math.max(1, Math.min(timeoutMs, request.deadlineAtMs - now())),
    );
    request.signal.addEventListener('abort', abort, { once: true });
    let response: Dispatcher.ResponseData | undefined;
    try {
      response = await pool.request({
        path: `/v3/batches${request.queryString === '' ? '' : '?'}${request.queryString}`,
        method: 'GET',
        // Built from scratch: nothing the client sent is forwarded (SPEC "Upstream request").
        headers: {
          'x-api-key': apiKey,
          accept: 'application/json',
          'user-agent': options.userAgent,
          'x-request-id': request.requestId,
        },
        signal: controller.signal,
      });
      const body = Buffer.from(await response.body.arrayBuffer());
      return {
        kind: 'response',
        status: response.statusCode,
        headers: response.headers,
        body,
        receivedAtMs: now(),
      };
    } catch (error) {
      if (request.signal.aborted) throw error;
      if (isTimedOut) return { kind: 'timeout' };
      const code = (error as { code?: unknown }).code;
      if (code === 'UND_ERR_RES_EXCEEDED_MAX_SIZE') {
        return { kind: 'too_large', status: response?.statusCode, headers: response?.headers ?? {} };
      }
      return { kind: 'unreachable', errorCode: typeof code === 'string' ? code : 'unknown' };
    } finally {
      clearTimeout(timer);
      request.signal.removeEventListener('abort', abort);
    }
  }

  // Hand-written rather than undici's RetryAgent: that retries 500s and bare 429s, caps Retry-After
  // at 30 s, and has neither a process-wide pause nor a total deadline.
  async function fetchPage(request: FetchPageRequest): Promise<UpstreamPage> {
    const { trace } = request;
    for (;;) {
      const pauseMs = gate.remainingMs(now());
      if (pauseMs > 0) {
        if (now() + pauseMs >= request.deadlineAtMs) {
          throw new Problem('upstream_rate_limited', 'Ntropy is rate limiting this account', {
            retryAfterS: pauseMs / 1000,
            ...lastResponseOf(trace),
          });
        }
        observer.onPauseWait(pauseMs);
        trace.waitedMs += pauseMs;
        await sleep(pauseMs, undefined, { signal: request.signal });
      }
      if (now() >= request.deadlineAtMs)
        throw new Problem('upstream_timeout', 'The request deadline ran out', lastResponseOf(trace));

      const outcome = await attempt(request);
      trace.attempts += 1;
      if ((outcome.kind === 'response' || outcome.kind === 'too_large') && outcome.status !== undefined) {
        const requestId = outcome.headers['x-request-id'];
        trace.lastStatus = outcome.status;
        trace.lastRequestId = typeof requestId === 'string' ? scrub(requestId) : undefined;
      }
      observer.onAttempt(outcome.kind === 'response' ? String(outcome.status) : outcome.kind);
      if (outcome.kind === 'response' && outcome.status === 200 && isPage(outcome.body)) {
        return {
          body: outcome.body,
          upstreamRequestId: trace.lastRequestId,
          fetchedAtMs: outcome.receivedAtMs,
        };
      }

      const decision = decideRetry({
        outcome,
        retriesMade: trace.attempts - 1,
        maxRetries,
        nowMs: now(),
        deadlineAtMs: request.deadlineAtMs,
        random,
      });
      if (decision.pauseUntilMs !== undefined) gate.pauseUntil(decision.pauseUntilMs);
      if (decision.action === 'give_up') {
        throw problemForOutcome(outcome, {
          pauseRemainingMs: gate.remainingMs(now()),
          scrub,
          lastResponse: lastResponseOf(trace),
        });
      }
      observer.onRetry();
      // A 429's Retry-After wait is served by the gate at the top of the loop, shared with every other call.
      if (decision.pauseUntilMs === undefined || decision.pauseUntilMs <= now()) {
        trace.waitedMs += decision.waitMs;
        await sleep(decision.waitMs, undefined, { signal: request.signal });
      }
    }
  }

  return { fetchPage, close: () => pool.close() };
}

/** SPEC "Normalized errors": upstream_status and upstream_request_id of the call's last response. */
function lastResponseOf(trace: UpstreamTrace) {
  return { upstreamStatus: trace.lastStatus, upstreamRequestId: trace.lastRequestId };
}

/** A loose shape check: `data` is an array, `next_cursor` a string, null or absent; the rest passes through. */
function isPage(body: Buffer): boolean {
  try {
    const page = JSON.parse(body.toString('utf8')) as unknown;
    if (typeof page !== 'object' || page === null || Array.isArray(page)) return false;
    const { data, next_cursor: nextCursor } = page as { data?: unknown; next_cursor?: unknown };
    return (
      Array.isArray(data) &&
      (nextCursor === undefined || nextCursor === null || typeof nextCursor === 'string')
    );
  } catch {
    return false;
  }
}
