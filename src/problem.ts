// The problem catalogue (SPEC "Normalized errors") and the one error type every layer throws.

export const catalogue = {
  invalid_query: { status: 400, title: 'Invalid query' },
  bad_request: { status: 400, title: 'Bad request' },
  unauthorized: { status: 401, title: 'Unauthorized' },
  forbidden: { status: 403, title: 'Forbidden' },
  not_found: { status: 404, title: 'Not found' },
  method_not_allowed: { status: 405, title: 'Method not allowed' },
  request_timeout: { status: 408, title: 'Request timeout' },
  expectation_failed: { status: 417, title: 'Expectation failed' },
  headers_too_large: { status: 431, title: 'Request header fields too large' },
  rate_limited: { status: 429, title: 'Too many requests' },
  upstream_rate_limited: { status: 429, title: 'Upstream rate limited' },
  upstream_auth_failed: { status: 502, title: 'Upstream rejected the server credentials' },
  upstream_quota_exhausted: { status: 503, title: 'Upstream quota exhausted' },
  upstream_error: { status: 502, title: 'Upstream error' },
  upstream_unavailable: { status: 502, title: 'Upstream unavailable' },
  upstream_timeout: { status: 504, title: 'Upstream timeout' },
  // Not in SPEC's table: /readyz needs a problem for "shutdown has begun" (SPEC "Shutdown").
  shutting_down: { status: 503, title: 'Shutting down' },
  internal_error: { status: 500, title: 'Internal server error' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ProblemCode = keyof typeof catalogue;

export interface FieldError {
  field: string;
  message: string;
}

export interface ProblemOptions {
  errors?: FieldError[];
  upstreamStatus?: number;
  upstreamRequestId?: string;
  retryAfterS?: number;
  headers?: Record<string, string>;
  /** The cause that stays on the server (the audit line's `reason`); never in the body. */
  reason?: string;
}

export class Problem extends Error {
  readonly code: ProblemCode;
  readonly status: number;
  readonly title: string;
  readonly type: string;
  readonly detail: string;
  readonly errors: FieldError[] | undefined;
  readonly upstreamStatus: number | undefined;
  readonly upstreamRequestId: string | undefined;
  readonly retryAfterS: number | undefined;
  readonly headers: Record<string, string>;
  readonly reason: string | undefined;

  constructor(code: ProblemCode, detail: string, options: ProblemOptions = {}) {
    super(detail);
    this.name = 'Problem';
    this.code = code;
    this.status = catalogue[code].status;
    this.title = catalogue[code].title;
    this.type = problemType(code);
    this.detail = detail;
    this.errors = options.errors;
    this.upstreamStatus = options.upstreamStatus;
    this.upstreamRequestId = options.upstreamRequestId;
    // SPEC: Retry-After on the proxy's own 429/503 is whole seconds, rounded up, at least 1.
    this.retryAfterS =
      options.retryAfterS === undefined ? undefined : Math.max(1, Math.ceil(options.retryAfterS));
    this.headers = options.headers ?? {};
    this.reason = options.reason;
  }

  toBody(requestId: string): Record<string, unknown> {
    return {
      type: this.type,
      title: this.title,
      status: this.status,
      detail: this.detail,
      code: this.code,
      request_id: requestId,
      ...(this.errors && this.errors.length > 0 ? { errors: this.errors } : {}),
      ...(this.upstreamStatus === undefined ? {} : { upstream_status: this.upstreamStatus }),
      ...(this.upstreamRequestId === undefined ? {} : { upstream_request_id: this.upstreamRequestId }),
    };
  }
}

export function problemType(code: ProblemCode): string {
  return `urn:ntropy-bff:problem:${code.replaceAll('_', '-')}`;
}
