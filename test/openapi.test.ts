// SPEC "GET /openapi.json": an OpenAPI 3.1 document generated from the code's schemas, valid and usable for a typed client.
import { Validator } from '@seriousme/openapi-schema-validator';
import openapiTS, { astToString, type OpenAPI3 } from 'openapi-typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BATCH_STATUSES, batchPageSchema } from '../src/batches/batch-page.js';
import { listQuerySchema } from '../src/batches/list-query.js';
import { problemSchema, PROBLEM_CODES } from '../src/openapi/problem-schema.js';
import type { RunningServer } from '../src/server.js';
import { listenHarness, startHarness, type Harness } from './helpers/harness.js';
import { compileAndImport } from './helpers/typed-client.js';
import { bearer, signToken } from './helpers/tokens.js';

interface Document {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: {
    schemas: Record<string, { properties?: Record<string, { enum?: string[] }> }>;
    headers: Record<string, unknown>;
    securitySchemes: Record<string, Record<string, string>>;
  };
}

interface Operation {
  security?: Record<string, string[]>[];
  parameters?: { name: string; in: string; schema: Record<string, unknown>; description?: string }[];
  responses: Record<string, { headers?: Record<string, { $ref: string }> }>;
}

let h: Harness;
let server: RunningServer;
let document: Document;
let served: string;
beforeAll(async () => {
  h = await startHarness({ env: { JWT_REQUIRED_SCOPE: 'batches:read', USER_RATE_LIMIT_PER_MIN: '1000' } });
  server = await listenHarness(h);
  const res = await h.request.get('/openapi.json');
  served = res.text;
  document = JSON.parse(served) as Document;
});
afterAll(async () => {
  await server.shutdown(1000);
  await h.close();
});

describe('GET /openapi.json — the route', () => {
  it('answers 200 JSON without a token, with X-Request-ID and Cache-Control: private, no-store', async () => {
    const res = await h.request.get('/openapi.json');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.headers['cache-control']).toBe('private, no-store');
    expect(res.headers['x-request-id']).toEqual(expect.any(String));
    expect(res.text).toBe(served);
  });

  it('answers HEAD with the headers only and other methods with 405 and Allow', async () => {
    const head = await h.request.head('/openapi.json');
    expect([head.status, head.text ?? '']).toEqual([200, '']);
    expect(Number(head.headers['content-length'])).toBe(Buffer.byteLength(served));
    const post = await h.request.post('/openapi.json');
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
  });
});

describe('GET /openapi.json — the document', () => {
  it('is a valid OpenAPI 3.1 document whose references all resolve', async () => {
    const validator = new Validator();
    const result = await validator.validate(JSON.parse(served) as Parameters<Validator['validate']>[0]);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
    expect(() => validator.resolveRefs()).not.toThrow();
  });

  it('describes every query parameter the query schema validates, from that schema', () => {
    const list = document.paths['/v3/batches']?.get;
    const parameters = list?.parameters ?? [];
    expect(parameters.map((p) => p.name)).toEqual(Object.keys(listQuerySchema.shape));
    expect(parameters.every((p) => p.in === 'query')).toBe(true);
    const byName = Object.fromEntries(parameters.map((p) => [p.name, p]));
    expect(byName.limit?.schema).toMatchObject({ type: 'integer', minimum: 1, maximum: 50, default: 10 });
    expect(byName.status?.schema).toMatchObject({ type: 'string', enum: [...BATCH_STATUSES] });
    expect(byName.cursor?.schema).toMatchObject({ type: 'string', maxLength: 1024 });
    for (const name of ['created_after', 'created_before']) {
      expect(byName[name]?.schema).toMatchObject({ type: 'string' });
      expect(byName[name]?.description).toMatch(/±hh:mm.*Unix time.*2×10¹⁰/);
    }
  });

  it('requires a bearer JWT for /v3/batches (with the configured scope) and nothing for the others', () => {
    expect(document.components.securitySchemes.bearerAuth).toMatchObject({
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'JWT',
    });
    expect(document.paths['/v3/batches']?.get?.security).toEqual([{ bearerAuth: ['batches:read'] }]);
    for (const path of ['/healthz', '/readyz', '/metrics', '/openapi.json']) {
      expect(document.paths[path]?.get?.security).toEqual([]);
    }
  });

  it('names every problem code of the catalogue in the problem schema', () => {
    const problem = document.components.schemas.Problem?.properties;
    expect(problem?.code?.enum).toEqual(PROBLEM_CODES);
    expect(PROBLEM_CODES).toEqual(expect.arrayContaining(['invalid_query', 'upstream_quota_exhausted']));
  });

  it('declares every response header SPEC names, each used by some /v3/batches response', () => {
    const named = [
      'X-Request-ID',
      'X-Upstream-Request-ID',
      'X-Cache',
      'Cache-Status',
      'Age',
      'Cache-Control',
      'Retry-After',
      'RateLimit',
      'RateLimit-Policy',
      'WWW-Authenticate',
    ];
    expect(Object.keys(document.components.headers)).toEqual(expect.arrayContaining(named));
    const responses = document.paths['/v3/batches']?.get?.responses ?? {};
    const used = new Set(Object.values(responses).flatMap((r) => Object.keys(r.headers ?? {})));
    for (const name of named) expect(used).toContain(name);
    expect(Object.keys(responses['200']?.headers ?? {})).toEqual(
      expect.arrayContaining(['X-Request-ID', 'X-Cache', 'Cache-Status', 'Age', 'RateLimit']),
    );
    expect(Object.keys(responses['401']?.headers ?? {})).toContain('WWW-Authenticate');
    expect(Object.keys(responses['429']?.headers ?? {})).toContain('Retry-After');
  });
});

describe('GET /openapi.json — its schemas describe what the proxy answers', () => {
  it('the page schema reads a real page', async () => {
    const token = bearer(signToken({ claims: { scope: 'batches:read' } }));
    const res = await h.request.get('/v3/batches?limit=3').set('Authorization', token);
    expect(res.status).toBe(200);
    expect(batchPageSchema.parse(JSON.parse(res.text)).data).toHaveLength(3);
  });

  it.each([
    ['400', '/v3/batches?limit=0&foo=1', 'batches:read'],
    ['401', '/v3/batches', undefined],
    ['403', '/v3/batches', 'profile'],
    ['404', '/v3/nothing', undefined],
  ])('the problem schema reads a real %s', async (status, path, scope) => {
    const req = h.request.get(path);
    if (scope !== undefined) void req.set('Authorization', bearer(signToken({ claims: { scope } })));
    const res = await req;
    expect(String(res.status)).toBe(status);
    expect(problemSchema.parse(JSON.parse(res.text))).toMatchObject({ status: res.status });
  });
});

// tsc type-checks lib.dom and openapi-fetch: seconds of CPU, many more on a loaded machine.
describe('GET /openapi.json — a typed client generated from it', { timeout: 60_000 }, () => {
  it('compiles a typed openapi-fetch call, refuses misuse at compile time, and gets a page', async () => {
    const schema = astToString(await openapiTS(JSON.parse(served) as OpenAPI3));
    const client = await compileAndImport(schema);
    const token = signToken({ claims: { scope: 'batches:read' } });
    const result = await client.listCompleted(server.url, token);
    expect(result).toEqual({
      statuses: ['completed', 'completed'],
      nextCursor: expect.any(String) as string,
      requestId: expect.any(String) as string,
    });
    expect(h.upstream.received.at(-1)?.query.get('created_after')).toBe('2024-01-01T00:00:00Z');
    const refused = await client.listCompleted(server.url, 'not-a-token');
    expect(refused).toEqual({ problemCode: 'unauthorized' });
  });
});
