// SPEC "Normalized errors": every code of SPEC's table with its status, in the catalogue and in the OpenAPI document.
import { describe, expect, it } from 'vitest';
import { buildOpenApiDocument } from '../src/openapi/openapi-document.js';
import { catalogue } from '../src/problem.js';

/** SPEC's table of codes, each with the status it is answered with. */
const SPEC_PROBLEMS: [code: string, status: number][] = [
  ['invalid_query', 400],
  ['unauthorized', 401],
  ['forbidden', 403],
  ['not_found', 404],
  ['method_not_allowed', 405],
  ['bad_request', 400],
  ['headers_too_large', 431],
  ['request_timeout', 408],
  ['expectation_failed', 417],
  ['rate_limited', 429],
  ['upstream_rate_limited', 429],
  ['upstream_auth_failed', 502],
  ['upstream_quota_exhausted', 503],
  ['upstream_error', 502],
  ['upstream_unavailable', 502],
  ['upstream_timeout', 504],
  ['internal_error', 500],
];
const SPEC_STATUS = new Map(SPEC_PROBLEMS);

interface ProblemResponse {
  content?: Record<string, { schema?: { allOf?: { properties?: ProblemProperties }[] } }>;
}
type ProblemProperties = Partial<Record<'status' | 'code', { const?: number; enum?: string[] }>>;
interface Document {
  paths: Record<string, { get: { responses: Record<string, ProblemResponse> } }>;
  components: { schemas: { Problem: { properties: Record<'code' | 'type', { enum: string[] }> } } };
}

const document = buildOpenApiDocument({ version: '0.0.0' }) as unknown as Document;
const batchesResponses = document.paths['/v3/batches']?.get.responses ?? {};

/** The status and codes one /v3/batches response declares in its problem+json schema. */
function declared(status: string): ProblemProperties {
  const allOf = batchesResponses[status]?.content?.['application/problem+json']?.schema?.allOf ?? [];
  return Object.assign({}, ...allOf.map((part) => part.properties ?? {})) as ProblemProperties;
}

describe('problem catalogue — SPEC "Normalized errors"', () => {
  it.each(SPEC_PROBLEMS)('answers %s with %i', (code, status) => {
    expect(Object.hasOwn(catalogue, code)).toBe(true);
    expect(catalogue[code as keyof typeof catalogue].status).toBe(status);
  });

  it('holds no code beyond SPEC\'s table but /readyz\'s shutting_down (SPEC "Shutdown")', () => {
    const extra = Object.keys(catalogue).filter((code) => !SPEC_STATUS.has(code));
    expect(extra).toEqual(['shutting_down']);
  });
});

describe('GET /openapi.json — every problem code', () => {
  it.each(SPEC_PROBLEMS)('the problem schema names %s and its type URI', (code) => {
    const { properties } = document.components.schemas.Problem;
    expect(properties.code.enum).toContain(code);
    expect(properties.type.enum).toContain(`urn:ntropy-bff:problem:${code.replaceAll('_', '-')}`);
  });

  it.each(SPEC_PROBLEMS)('GET /v3/batches lists %s under its %i problem+json response', (code, status) => {
    const properties = declared(String(status));
    expect(properties.status?.const).toBe(status);
    expect(properties.code?.enum).toContain(code);
  });

  it('lists each code of a /v3/batches error response under the status SPEC gives it', () => {
    const misplaced = Object.keys(batchesResponses)
      .filter((status) => Number(status) >= 400)
      .flatMap((status) =>
        (declared(status).code?.enum ?? []).filter((code) => SPEC_STATUS.get(code) !== Number(status)),
      );
    expect(misplaced).toEqual([]);
  });
});
