// Property-based hostile input: random queries, headers, tokens and targets never crash, leak the key, or reach upstream unvalidated.
import fc from 'fast-check';
import { request as httpRequest, Agent, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { canonicalQueryString, parseListQuery } from '../src/batches/list-query.js';
import type { RunningServer } from '../src/server.js';
import { API_KEY, listenHarness, startHarness, type Harness } from './helpers/harness.js';
import { bearer, signToken } from './helpers/tokens.js';

const PARAMETERS = ['created_after', 'created_before', 'cursor', 'limit', 'status'] as const;
const KNOWN_ROUTES = ['/v3/batches', '/healthz', '/readyz', '/metrics'];
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const UPSTREAM_HEADERS = ['x-api-key', 'accept', 'user-agent', 'x-request-id', 'host', 'connection'];
const PROBLEM_JSON = 'application/problem+json';

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

let h: Harness;
let running: RunningServer;
let agent: Agent;
let port: number;
let token: string;

beforeAll(async () => {
  h = await startHarness({ env: { CACHE_TTL_MS: '0', USER_RATE_LIMIT_PER_MIN: '0' } });
  running = await listenHarness(h);
  port = Number(new URL(running.url).port);
  agent = new Agent({ keepAlive: true, maxSockets: 1 });
  token = signToken();
});
afterAll(async () => {
  agent.destroy();
  await new Promise<void>((resolve) => {
    running.server.close(() => resolve());
    running.server.closeAllConnections();
  });
  await h.close();
});
beforeEach(() => h.upstream.reset());

/** One request over a keep-alive socket; `target` goes on the wire exactly as given. */
function send(target: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: target, method, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString(),
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Writes raw bytes on a fresh connection and returns everything the server answered before closing. */
function sendRaw(head: Buffer | string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(head));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
  });
}

function parseRawAnswer(text: string): Answer {
  const headEnd = text.indexOf('\r\n\r\n');
  const [statusLine = '', ...lines] = text.slice(0, headEnd < 0 ? text.length : headEnd).split('\r\n');
  const headers: IncomingHttpHeaders = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return {
    status: Number(statusLine.split(' ')[1]),
    headers,
    body: headEnd < 0 ? '' : text.slice(headEnd + 4),
  };
}

function expectProblem(answer: Answer): Record<string, unknown> {
  expect(answer.headers['content-type']).toBe(PROBLEM_JSON);
  const problem = JSON.parse(answer.body) as Record<string, unknown>;
  expect(problem.status).toBe(answer.status);
  expect(typeof problem.code).toBe('string');
  expect(problem.request_id).toBe(answer.headers['x-request-id']);
  return problem;
}

/** Never 5xx, and every non-2xx is a problem document. */
function expectNoCrash(answer: Answer): void {
  expect(answer.status).toBeGreaterThanOrEqual(200);
  expect(answer.status).toBeLessThan(500);
  if (answer.status >= 300) expectProblem(answer);
}

/** SPEC "Anything else": what the HTTP parser rejects produces no audit line. */
function expectNoAuditLine(auditedBefore: number, answer: Answer): void {
  expect(answer.headers['x-request-id']).toMatch(UUID);
  expect(h.logs.auditLines()).toHaveLength(auditedBefore);
  expect(h.logs.auditLines().map((line) => line.request_id)).not.toContain(answer.headers['x-request-id']);
}

function expectNoKey(answer: Answer): void {
  expect(answer.body).not.toContain(API_KEY);
  expect(JSON.stringify(answer.headers)).not.toContain(API_KEY);
}

/** Percent-encodes the UTF-8 bytes of `text`; `keep` says which ASCII characters stay raw. */
function percentEncode(text: string, keep: RegExp): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const char = String.fromCharCode(byte);
    out += byte < 0x80 && keep.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

// 'strict' is encodeURIComponent's set; 'raw' leaves '%', '+', '&', '=' and friends as typed (never '#').
const encodings = {
  strict: (text: string) => percentEncode(text, /[A-Za-z0-9\-_.!~*'()]/),
  raw: (text: string) => percentEncode(text, /[\x21-\x22\x24-\x7e]/),
};
const encoding = fc.constantFrom<keyof typeof encodings>('strict', 'raw');

// Header values Node's client will put on the wire: tab, printable ASCII and Latin-1.
const headerChar = fc
  .integer({ min: 0, max: 0xff })
  .filter((code) => code === 9 || (code >= 0x20 && code !== 0x7f))
  .map((code) => String.fromCharCode(code));
const headerValue = fc.string({ unit: headerChar, maxLength: 60 });

// prettier-ignore
const JUNK_NAMES = ['', 'LIMIT', 'limit ', 'limit[]', 'x-api-key', 'api_key', '__proto__', 'constructor'];
// prettier-ignore
const EDGE_VALUES = [
  '10', '1', '50', '0', '51', '01', '+5', '-1', '1e1', ' 5', '５',
  'processing', 'completed', 'error', 'COMPLETED',
  '2024-01-01', '2024-01-01T00:00:00', '2024-01-01T00:00:00Z', '2024-01-01T00:00:00.123+02:00',
  '2024-02-30', '2024-01-01T24:00:00', '2024-W01-1', '20240101T000000Z', '2024-01-01T00:00:00+0200',
  '', '%', '+', '&', '=', '%25', '%zz', '%E0%A4%A', '%00', '\u0000',
];

const parameterName = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...PARAMETERS) },
  { weight: 2, arbitrary: fc.constantFrom(...JUNK_NAMES) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
  { weight: 1, arbitrary: fc.constant(API_KEY) },
);

const parameterValue = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...EDGE_VALUES, API_KEY) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
  {
    weight: 2,
    arbitrary: fc.string({ unit: fc.constantFrom('%', '+', '&', '=', 'a', '1', ':', '-'), maxLength: 12 }),
  },
  { weight: 1, arbitrary: fc.integer({ min: 1000, max: 3000 }).map((length) => 'x'.repeat(length)) },
);

const pair = fc
  .record({
    name: parameterName,
    value: parameterValue,
    nameAs: encoding,
    valueAs: encoding,
    hasEquals: fc.boolean(),
  })
  .map(({ name, value, nameAs, valueAs, hasEquals }) =>
    hasEquals || value !== ''
      ? `${encodings[nameAs](name)}=${encodings[valueAs](value)}`
      : encodings[nameAs](name),
  );

/** Mostly key=value lists, some valid by construction, some a single raw string. */
const clientQuery = fc.oneof(
  { weight: 4, arbitrary: fc.array(pair, { maxLength: 6 }).map((pairs) => pairs.join('&')) },
  {
    weight: 2,
    arbitrary: fc
      .record(
        {
          limit: fc.integer({ min: 1, max: 50 }).map(String),
          status: fc.constantFrom('processing', 'completed', 'error'),
          created_after: fc.constantFrom('2024-01-01', '2026-09-01T02:00:00+02:00', '2026-08-01T00:00:00.5Z'),
          cursor: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }),
        },
        { requiredKeys: [] },
      )
      .chain((params) =>
        fc.shuffledSubarray(Object.entries(params), { minLength: Object.keys(params).length }),
      )
      .map((entries) => entries.map(([name, value]) => `${name}=${encodings.strict(value)}`).join('&')),
  },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }).map(encodings.raw) },
);

// Headers that change the framing or are set per property: left out of the random ones.
// prettier-ignore
const forbiddenHeaderNames = new Set([
  'host', 'connection', 'content-length', 'transfer-encoding', 'expect', 'upgrade', 'te', 'keep-alive',
  'trailer', 'authorization', 'x-request-id',
]);
// prettier-ignore
const SENSITIVE_HEADER_NAMES = [
  'cookie', 'x-api-key', 'x-forwarded-for', 'x-forwarded-host', 'forwarded', 'x-real-ip',
  'proxy-authorization', 'accept', 'user-agent', 'accept-encoding', 'origin', 'referer',
];
const clientHeaders = fc.dictionary(
  fc
    .oneof(fc.constantFrom(...SENSITIVE_HEADER_NAMES), fc.stringMatching(/^[a-z][a-z0-9-]{0,15}$/))
    .filter((name) => !forbiddenHeaderNames.has(name)),
  fc.oneof(headerValue, fc.constant(API_KEY)),
  { maxKeys: 4 },
);

/** The one canonical query a valid client query maps to, or undefined when it is invalid. */
function expectedUpstreamQuery(query: string): string | undefined {
  try {
    return canonicalQueryString(parseListQuery(new URLSearchParams(query)));
  } catch {
    return undefined;
  }
}

describe('hostile input — random list queries', () => {
  it("never answer 5xx, and upstream only ever sees the canonical query and the proxy's own four headers", async () => {
    let reachedUpstream = 0;
    await fc.assert(
      fc.asyncProperty(clientQuery, fc.boolean(), clientHeaders, async (query, hasMark, extraHeaders) => {
        h.upstream.reset();
        const target = `/v3/batches${query !== '' || hasMark ? '?' : ''}${query}`;
        const answer = await send(target, { ...extraHeaders, Authorization: bearer(token) });

        expectNoCrash(answer);
        expectNoKey(answer);
        const expected = expectedUpstreamQuery(query);
        if (expected === undefined) {
          expect(answer.status).toBe(400);
          expect(h.upstream.received).toHaveLength(0);
        }
        if (answer.status === 200) expect(h.upstream.received).toHaveLength(1);
        for (const sent of h.upstream.received) {
          reachedUpstream += 1;
          const sentQuery = sent.url.slice(sent.url.indexOf('?') + 1);
          expect(sent.path).toBe('/v3/batches');
          expect(canonicalQueryString(parseListQuery(new URLSearchParams(sentQuery)))).toBe(sentQuery);
          expect(sentQuery).toBe(expected);
          expect(Object.keys(sent.headers).filter((name) => !UPSTREAM_HEADERS.includes(name))).toEqual([]);
          expect(sent.headers['x-api-key']).toBe(API_KEY);
          expect(sent.headers.accept).toBe('application/json');
          expect(sent.headers['user-agent']).toMatch(/^ntropy-bff\//);
          expect(sent.headers['x-request-id']).toBe(answer.headers['x-request-id']);
        }
      }),
      { numRuns: 150 },
    );
    // The property must not hold vacuously: a fair share of the runs went upstream.
    expect(reachedUpstream).toBeGreaterThan(15);
  });
});

describe('hostile input — X-Request-ID', () => {
  const requestId = fc.oneof(
    fc.stringMatching(/^[A-Za-z0-9._:-]{1,140}$/),
    headerValue,
    fc.constantFrom(API_KEY, `${API_KEY}.1`, ` ${API_KEY} `, `x${API_KEY}`),
  );

  it('never crashes, and echoes the value only when it is 1–128 of [A-Za-z0-9._:-] (else a fresh UUID)', async () => {
    await fc.assert(
      fc.asyncProperty(requestId, async (value) => {
        h.upstream.reset();
        const answer = await send('/v3/batches?limit=2', {
          Authorization: bearer(token),
          'X-Request-ID': value,
        });

        expect(answer.status).toBe(200);
        expectNoKey(answer);
        // What the server reads is the header value without surrounding whitespace (RFC 9110 §5.5).
        const seen = value.replace(/^[\t ]+|[\t ]+$/g, '');
        const id = answer.headers['x-request-id'];
        if (REQUEST_ID.test(seen) && !seen.includes(API_KEY)) expect(id).toBe(seen);
        else expect(id).toMatch(UUID);
        expect(h.upstream.received[0]?.headers['x-request-id']).toBe(id);
      }),
      { numRuns: 100 },
    );
  });
});

describe('hostile input — Authorization', () => {
  const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const segment = fc.stringMatching(/^[A-Za-z0-9_-]{0,60}$/);
  const jwtLooking = fc
    .record({
      header: fc.oneof(
        fc.constantFrom(
          { alg: 'none' },
          { alg: 'HS256' },
          { alg: 'HS512' },
          { alg: 'RS256' },
          {},
          { alg: 'none', typ: 'JWT' },
        ),
        fc.jsonValue(),
      ),
      payload: fc.oneof(
        fc.record({ sub: fc.string(), exp: fc.oneof(fc.integer(), fc.string()) }, { requiredKeys: [] }),
        fc.constant({ sub: 'alice', exp: Math.floor(Date.now() / 1000) + 3600 }),
        fc.jsonValue(),
      ),
      signature: segment,
    })
    .map(({ header, payload, signature }) => `${base64url(header)}.${base64url(payload)}.${signature}`);
  const tampered = fc.record({ sub: fc.string({ minLength: 1 }), admin: fc.boolean() }).map((claims) => {
    const [header = '', , signature = ''] = token.split('.');
    return `${header}.${base64url({ ...claims, exp: Math.floor(Date.now() / 1000) + 3600 })}.${signature}`;
  });
  const rightKeyButInvalid = fc.constantFrom(
    () => signToken({ expiresInS: null }),
    () => signToken({ expiresInS: -3600 }),
    () => signToken({ claims: { sub: '' } }),
    () => signToken({ claims: { sub: 42 } }),
    () => signToken({ claims: { nbf: Math.floor(Date.now() / 1000) + 3600 } }),
    () => signToken({ key: 'another-secret-of-at-least-thirty-two-bytes' }),
    () => signToken({ algorithm: 'HS512' }),
  );
  const tokenSent = fc.oneof(
    jwtLooking,
    tampered,
    rightKeyButInvalid.map((make) => make()),
    fc.tuple(segment, segment, segment).map((parts) => parts.join('.')),
    fc.constantFrom(API_KEY, 'null', 'undefined', '..', 'a.b.c', `${token}.x`, `${token} ${token}`),
  );
  // RFC 6750 §2.1: the scheme and the token are separated by spaces (with a tab it is another scheme).
  const scheme = fc.constantFrom('Bearer ', 'bearer ', 'BEARER  ', ' Bearer   ');

  it('random JWT-looking bearer tokens always get 401 invalid_token, never 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(scheme, tokenSent, async (prefix, sent) => {
        h.upstream.reset();
        const answer = await send('/v3/batches', { Authorization: `${prefix}${sent}` });

        expect(answer.status).toBe(401);
        expect(expectProblem(answer).code).toBe('unauthorized');
        expect(answer.headers['www-authenticate']).toBe('Bearer realm="ntropy-bff", error="invalid_token"');
        expectNoKey(answer);
        expect(h.upstream.received).toHaveLength(0);
      }),
      { numRuns: 100 },
    );
  });

  it('random Authorization values always get 401, never 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          headerValue,
          fc
            .constantFrom('Bearer', 'Bearer\t', 'Basic ', 'Token ', '')
            .chain((prefix) => headerValue.map((v) => prefix + v)),
          scheme.chain((prefix) => headerValue.map((v) => prefix + v)),
        ),
        async (value) => {
          h.upstream.reset();
          const answer = await send('/v3/batches', { Authorization: value });

          expect(answer.status).toBe(401);
          expect(expectProblem(answer).code).toBe('unauthorized');
          expect(answer.headers['www-authenticate']).toMatch(/^Bearer realm="ntropy-bff"/);
          expect(h.upstream.received).toHaveLength(0);
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('hostile input — request targets', () => {
  const pathOf = (target: string) => target.replace(/^https?:\/\/[^/?#]*/i, '').split('?', 1)[0];

  it('random paths get a 4xx problem (never 5xx) unless they name a known route', async () => {
    const webPath = fc.webPath().map((path) => (path.startsWith('/') ? path : `/${path}`));
    const segmentPath = fc
      .array(fc.webSegment(), { maxLength: 4 })
      .map((segments) => `/${segments.join('/')}`);
    await fc.assert(
      fc.asyncProperty(fc.oneof(webPath, segmentPath), async (path) => {
        const answer = await send(path);

        expectNoCrash(answer);
        if (!KNOWN_ROUTES.includes(path)) {
          expect(answer.status).toBeGreaterThanOrEqual(400);
          expectProblem(answer);
        }
      }),
      { numRuns: 100 },
    );
  });

  it('raw request targets on the wire get an answer that is a 4xx problem (never 5xx) unless they name a known route', async () => {
    const rawTarget = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 30 }),
      fc.string({
        unit: fc.constantFrom('/', '.', '%', '?', '*', '#', ':', 'a', 'v3', 'batches', '%2e', '%2F', '\\'),
        maxLength: 12,
      }),
      fc.constantFrom(
        '*',
        '//',
        '/v3/../healthz',
        'http://x/v3/batches',
        'http://x',
        '/%',
        '/%zz',
        '/v3/batches#x',
      ),
    );
    await fc.assert(
      fc.asyncProperty(rawTarget, async (target) => {
        // No CR/LF: they would end the request line early and smuggle in headers; one request per connection here.
        const oneLine = target.replace(/[\r\n]/g, '');
        const answer = parseRawAnswer(
          await sendRaw(Buffer.from(`GET ${oneLine} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)),
        );

        expectNoCrash(answer);
        if (answer.status < 300)
          expect(KNOWN_ROUTES.filter((route) => route !== '/v3/batches')).toContain(pathOf(oneLine));
      }),
      { numRuns: 100 },
    );
  });
});

describe('hostile input — the API key is never reflected', () => {
  const encodedKey = encodings
    .raw(API_KEY)
    .replace(/[a-z]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`);

  it.each([
    ['a cursor value', `/v3/batches?cursor=${API_KEY}`, {}],
    ['a limit value', `/v3/batches?limit=${API_KEY}`, {}],
    ['a status value', `/v3/batches?status=${API_KEY}`, {}],
    ['a datetime value', `/v3/batches?created_after=${API_KEY}`, {}],
    ['a parameter name', `/v3/batches?${API_KEY}=1`, {}],
    ['a percent-encoded parameter name', `/v3/batches?${encodedKey}=1`, {}],
    ['a repeated parameter name', `/v3/batches?${API_KEY}=1&${API_KEY}=2`, {}],
    ['a path segment', `/v3/${API_KEY}`, {}],
    ['a path segment under the endpoint', `/v3/batches/${API_KEY}`, {}],
    ['the X-Request-ID', '/v3/batches', { 'X-Request-ID': API_KEY }],
    ['the bearer token', '/v3/batches', { Authorization: `Bearer ${API_KEY}` }],
    ['the client X-API-KEY', '/v3/batches', { 'X-API-KEY': API_KEY }],
  ])('when the client sends it as %s', async (_case, target, headers: Record<string, string>) => {
    const answer = await send(target, { Authorization: bearer(token), ...headers });

    expectNoCrash(answer);
    expectNoKey(answer);
  });

  it('nor puts it in a log line when a client sends it as a query value, name, path or request id', async () => {
    const before = h.logs.text().length;
    await send(`/v3/batches?cursor=${API_KEY}`, { Authorization: bearer(token) });
    await send(`/v3/batches?${API_KEY}=1`, { Authorization: bearer(token) });
    await send(`/v3/${API_KEY}`, { Authorization: bearer(token) });
    await send('/v3/batches', { Authorization: bearer(token), 'X-Request-ID': API_KEY });

    expect(h.logs.text().slice(before)).not.toContain(API_KEY);
  });
});

describe('hostile input — oversized', () => {
  it('refuses a validly signed token over 8192 characters as 401 invalid_token', async () => {
    const huge = signToken({ claims: { pad: 'x'.repeat(9000) } });
    expect(huge.length).toBeGreaterThan(9000);

    const answer = await send('/v3/batches', { Authorization: bearer(huge) });

    expect(answer.status).toBe(401);
    expect(expectProblem(answer).code).toBe('unauthorized');
    expect(answer.headers['www-authenticate']).toBe('Bearer realm="ntropy-bff", error="invalid_token"');
    expect(h.upstream.received).toHaveLength(0);
  });

  it('answers a 20 KB request target with a 431 problem, and no audit line', async () => {
    const auditedBefore = h.logs.auditLines().length;
    const target = `/v3/batches?cursor=${'c'.repeat(20_000)}`;
    const answer = parseRawAnswer(await sendRaw(`GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`));

    expect(answer.status).toBe(431);
    expect(expectProblem(answer).code).toBe('headers_too_large');
    expectNoAuditLine(auditedBefore, answer);
  });

  it('answers a 20 KB header with a 431 problem, and no audit line', async () => {
    const auditedBefore = h.logs.auditLines().length;
    const answer = parseRawAnswer(
      await sendRaw(`GET /v3/batches HTTP/1.1\r\nHost: x\r\nX-Padding: ${'p'.repeat(20_000)}\r\n\r\n`),
    );

    expect(answer.status).toBe(431);
    expect(expectProblem(answer).code).toBe('headers_too_large');
    expectNoAuditLine(auditedBefore, answer);
  });
});

describe('hostile input — afterwards', () => {
  it('after 200 random requests /healthz still answers 200 and no request hit the bug handler', async () => {
    const anyRequest = fc.record({
      target: fc.oneof(
        clientQuery.map((query) => `/v3/batches?${query}`),
        fc.webPath().map((path) => (path.startsWith('/') ? path : `/${path}`)),
      ),
      headers: clientHeaders,
      method: fc.constantFrom('GET', 'HEAD', 'POST', 'DELETE', 'OPTIONS', 'PATCH'),
      isAuthenticated: fc.boolean(),
    });
    for (const { target, headers, method, isAuthenticated } of fc.sample(anyRequest, 200)) {
      const answer = await send(
        target,
        isAuthenticated ? { ...headers, Authorization: bearer(token) } : headers,
        method,
      );
      expect(answer.status).toBeLessThan(500);
    }

    const health = await send('/healthz');

    expect(health.status).toBe(200);
    expect(h.logs.records().filter((record) => record.msg === 'unhandled error')).toEqual([]);
  });
});
