// The response headers SPEC names, as OpenAPI header objects, and which of them each status of /v3/batches carries.

const HEADERS = {
  'X-Request-ID': {
    description:
      "This request's id: the client's X-Request-ID when it is 1–128 of [A-Za-z0-9._:-], else a new UUID. Equals a problem's request_id.",
    schema: { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,128}$' },
  },
  'Cache-Control': {
    description: 'Browsers and shared caches must not keep the answer.',
    schema: { type: 'string', const: 'private, no-store' },
  },
  'X-Upstream-Request-ID': {
    description:
      "Ntropy's X-Request-ID for the call that produced this page or error (quote it to Ntropy support); absent when no upstream response came.",
    schema: { type: 'string' },
  },
  'X-Cache': {
    description:
      'HIT: served from the cache; MISS: fetched for this request (or joined a call in flight); STALE: a stale page served instead of an upstream error.',
    schema: { type: 'string', enum: ['HIT', 'MISS', 'STALE'] },
  },
  'Cache-Status': {
    description: 'RFC 9211 cache status of this proxy.',
    schema: { type: 'string' },
    examples: {
      hit: { value: 'ntropy-bff; hit; ttl=4' },
      miss: { value: 'ntropy-bff; fwd=uri-miss; fwd-status=200; stored' },
      stale: { value: 'ntropy-bff; fwd=stale; fwd-status=503; ttl=-12' },
    },
  },
  Age: {
    description: 'Seconds since the page was fetched from Ntropy; on HIT and STALE.',
    schema: { type: 'integer', minimum: 0 },
  },
  'Retry-After': {
    description: 'Whole seconds to wait before trying again, at least 1.',
    schema: { type: 'integer', minimum: 1 },
  },
  RateLimit: {
    description:
      "The caller's per-user limit (IETF draft-8): requests left (r) and seconds until the window resets (t); absent when the limit is off.",
    schema: { type: 'string' },
    example: '"user";r=299;t=60',
  },
  'RateLimit-Policy': {
    description: 'The per-user limit policy (IETF draft-8): quota (q) per window of w seconds.',
    schema: { type: 'string' },
    example: '"user";q=300;w=60',
  },
  'WWW-Authenticate': {
    description:
      'RFC 6750 Bearer challenge: error="invalid_token" for a bad token, error="insufficient_scope" with the scope for a missing scope.',
    schema: { type: 'string' },
    example: 'Bearer realm="ntropy-bff", error="invalid_token"',
  },
  Allow: {
    description: 'The methods the path answers.',
    schema: { type: 'string', const: 'GET, HEAD' },
  },
} as const;

export type HeaderName = keyof typeof HEADERS;

/** components.headers of the document. */
export function headerComponents(): Record<HeaderName, object> {
  return HEADERS;
}

const FROM_UPSTREAM: HeaderName[] = ['X-Upstream-Request-ID', 'X-Cache', 'Cache-Status'];
const RATE_LIMIT: HeaderName[] = ['RateLimit', 'RateLimit-Policy'];

// SPEC "Order of checks": answers after the per-user limit carry its headers; upstream-caused ones the cache headers.
const BATCHES_HEADERS_BY_STATUS: Record<number, HeaderName[]> = {
  200: [...FROM_UPSTREAM, 'Age', ...RATE_LIMIT],
  400: [...FROM_UPSTREAM, ...RATE_LIMIT],
  401: ['WWW-Authenticate'],
  403: ['WWW-Authenticate'],
  404: [...FROM_UPSTREAM, ...RATE_LIMIT],
  405: ['Allow'],
  429: ['Retry-After', ...FROM_UPSTREAM, ...RATE_LIMIT],
  502: [...FROM_UPSTREAM, ...RATE_LIMIT],
  503: ['Retry-After', ...FROM_UPSTREAM, ...RATE_LIMIT],
  504: [...FROM_UPSTREAM, ...RATE_LIMIT],
};

/** The headers one response carries, as references into components.headers (every answer has the first two). */
export function headerRefs(status: number, isBatches: boolean): Record<string, { $ref: string }> {
  const names: HeaderName[] = [
    'X-Request-ID',
    'Cache-Control',
    ...(isBatches ? (BATCHES_HEADERS_BY_STATUS[status] ?? []) : []),
  ];
  return Object.fromEntries(names.map((name) => [name, { $ref: `#/components/headers/${name}` }]));
}
