// The one table from an upstream outcome to the client's problem (SPEC "Normalized errors").
import { Problem, type FieldError } from '../problem.js';
import { retryAfterMs, type AttemptOutcome } from './retry-policy.js';

export interface OutcomeContext {
  /** Milliseconds left on the process-wide pause when the answer is made. */
  pauseRemainingMs: number;
  /** Milliseconds until the quota hold's next probe: the proxy's own Retry-After for a spent quota. */
  quotaRetryAfterMs: number;
  /** Removes the server's secret from any upstream text before it is passed on. */
  scrub: (text: string) => string;
  /** The last upstream response of this call, for outcomes that have none of their own. */
  lastResponse: { upstreamStatus: number | undefined; upstreamRequestId: string | undefined };
}

/** SPEC "Request IDs and audit log": `reason` is the transport cause or body problem, kept on the server. */
export function problemForOutcome(outcome: AttemptOutcome, context: OutcomeContext): Problem {
  switch (outcome.kind) {
    case 'timeout':
      return new Problem('upstream_timeout', 'Ntropy did not answer in time', {
        ...context.lastResponse,
        reason: outcome.byDeadline === true ? 'deadline' : 'timeout',
      });
    case 'unreachable':
      return new Problem('upstream_unavailable', 'Ntropy could not be reached', {
        ...context.lastResponse,
        reason: outcome.errorCode,
      });
    case 'too_large':
      return new Problem('upstream_error', 'Ntropy sent a response larger than the proxy accepts', {
        ...(outcome.status === undefined
          ? context.lastResponse
          : {
              upstreamStatus: outcome.status,
              upstreamRequestId: readRequestId(outcome.headers, context.scrub),
            }),
        reason: 'too_large',
      });
    case 'response':
      return problemForResponse(outcome, context);
    default:
      return assertNever(outcome);
  }
}

function problemForResponse(
  outcome: Extract<AttemptOutcome, { kind: 'response' }>,
  context: OutcomeContext,
): Problem {
  const status = outcome.status;
  const upstream = {
    upstreamStatus: status,
    upstreamRequestId: readRequestId(outcome.headers, context.scrub),
    reason: status >= 300 && status < 400 ? 'redirect' : status === 200 ? 'malformed_body' : `http_${status}`,
  };
  if (status === 400 || status === 422) {
    const { detail, errors } = readUpstreamDetail(outcome.body, context.scrub);
    return new Problem('invalid_query', detail, { ...upstream, errors });
  }
  if (status === 401 || status === 403) {
    return new Problem('upstream_auth_failed', 'Ntropy rejected the server credentials', upstream);
  }
  if (status === 404) return new Problem('not_found', 'Ntropy found no such resource', upstream);
  if (status === 423) {
    return new Problem('upstream_quota_exhausted', 'Ntropy credits are exhausted', {
      ...upstream,
      retryAfterS: context.quotaRetryAfterMs / 1000,
    });
  }
  if (status === 429) {
    // With a readable Retry-After it is a rate limit; without, Ntropy's error guide says the quota is spent.
    return retryAfterMs(outcome) !== undefined
      ? new Problem('upstream_rate_limited', 'Ntropy is rate limiting this account', {
          ...upstream,
          retryAfterS: context.pauseRemainingMs / 1000,
        })
      : new Problem('upstream_quota_exhausted', 'Ntropy quota is exhausted', {
          ...upstream,
          retryAfterS: context.quotaRetryAfterMs / 1000,
        });
  }
  if (status >= 300 && status < 400) {
    return new Problem('upstream_error', 'Ntropy answered with a redirect, which is not followed', upstream);
  }
  if (status === 200) return new Problem('upstream_error', 'Ntropy sent a malformed page', upstream);
  return new Problem('upstream_error', `Ntropy answered with status ${status}`, upstream);
}

function readRequestId(
  headers: Record<string, string | string[] | undefined>,
  scrub: (text: string) => string,
): string | undefined {
  const requestId = headers['x-request-id'];
  return typeof requestId === 'string' ? scrub(requestId) : undefined;
}

/** Upstream's `detail` as readable text; a FastAPI-style list also fills `errors`. */
export function readUpstreamDetail(
  body: Buffer,
  scrub: (text: string) => string,
): { detail: string; errors: FieldError[] | undefined } {
  let detail: unknown;
  try {
    detail = (JSON.parse(body.toString('utf8')) as { detail?: unknown } | null)?.detail;
  } catch {
    detail = undefined;
  }
  if (typeof detail === 'string' && detail !== '') return { detail: scrub(detail), errors: undefined };
  if (Array.isArray(detail) && detail.length > 0) {
    const errors = detail.map((entry: unknown) => readFieldError(entry, scrub));
    return { detail: errors.map((error) => `${error.field}: ${error.message}`).join('; '), errors };
  }
  if (detail !== undefined && detail !== null)
    return { detail: scrub(JSON.stringify(detail)), errors: undefined };
  return { detail: 'Ntropy rejected the query', errors: undefined };
}

function readFieldError(entry: unknown, scrub: (text: string) => string): FieldError {
  const record = (typeof entry === 'object' && entry !== null ? entry : {}) as {
    loc?: unknown;
    msg?: unknown;
  };
  const loc = Array.isArray(record.loc) ? record.loc : [];
  const field = loc.length > 0 ? String(loc[loc.length - 1]) : 'query';
  const message = typeof record.msg === 'string' ? record.msg : JSON.stringify(entry);
  return { field: scrub(field), message: scrub(message) };
}

function assertNever(value: never): never {
  throw new Error(`unhandled upstream outcome ${JSON.stringify(value)}`);
}
