// One upstream HTTP attempt over the keep-alive pool: headers built from scratch, a timer that follows the deadline.
import type { Dispatcher } from 'undici';
import type { AttemptOutcome } from './retry-policy.js';

export interface AttemptRequest {
  queryString: string;
  requestId: string;
  /** The latest deadline among the requests waiting for this call; it may move while the attempt runs. */
  deadlineAtMs: () => number;
  /** Aborts when nobody waits any more: the attempt then rejects with the signal's reason. */
  signal: AbortSignal;
}

export interface AttemptOptions {
  /** The keep-alive pool (or any dispatcher whose origin is Ntropy's). */
  pool: Dispatcher;
  apiKey: string;
  userAgent: string;
  timeoutMs: number;
  now: () => number;
}

export function createAttempt(options: AttemptOptions) {
  const { pool, apiKey, userAgent, timeoutMs, now } = options;

  return async function attempt(request: AttemptRequest): Promise<AttemptOutcome> {
    request.signal.throwIfAborted();
    // One controller and one timer per attempt: cheaper than AbortSignal.timeout joined with
    // AbortSignal.any, which on Node 20 cost a large share of a cache miss (BENCHMARKS.md).
    const controller = new AbortController();
    const abort = () => controller.abort();
    const timeoutAtMs = now() + timeoutMs;
    let cut: 'timeout' | 'deadline' | undefined;
    let timer: NodeJS.Timeout | undefined;
    // A request that joins the call late moves its deadline on (SPEC "Caching and coalescing"): when the
    // timer fires it looks again, and only cuts the attempt once neither limit leaves any time.
    const arm = () => {
      const deadlineAtMs = request.deadlineAtMs();
      const leftMs = Math.min(timeoutAtMs, deadlineAtMs) - now();
      if (leftMs > 0) {
        timer = setTimeout(arm, leftMs);
        return;
      }
      cut = timeoutAtMs <= deadlineAtMs ? 'timeout' : 'deadline';
      controller.abort();
    };
    arm();
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
          'user-agent': userAgent,
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
      if (cut !== undefined) return { kind: 'timeout', byDeadline: cut === 'deadline' };
      const code = (error as { code?: unknown }).code;
      if (code === 'UND_ERR_RES_EXCEEDED_MAX_SIZE') {
        return { kind: 'too_large', status: response?.statusCode, headers: response?.headers ?? {} };
      }
      return { kind: 'unreachable', errorCode: typeof code === 'string' ? code : 'unknown' };
    } finally {
      clearTimeout(timer);
      request.signal.removeEventListener('abort', abort);
    }
  };
}
