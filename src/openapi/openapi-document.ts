// Builds the OpenAPI 3.1 document of this proxy (SPEC "GET /openapi.json") from the schemas the code validates with.
import { z } from 'zod';
import { batchPageSchema, batchSchema } from '../batches/batch-page.js';
import { listQuerySchema } from '../batches/list-query.js';
import { catalogue, type ProblemCode } from '../problem.js';
import { codesWithStatus, fieldErrorSchema, problemSchema, problemStatuses } from './problem-schema.js';
import { headerComponents, headerRefs } from './response-headers.js';

export interface OpenApiOptions {
  /** The proxy's version, package.json's. */
  version: string;
  /** JWT_REQUIRED_SCOPE, when set: named in the security description. */
  requiredScope?: string | undefined;
}

type JsonObject = Record<string, unknown>;

const PROBLEM_JSON = 'application/problem+json';
// /readyz answers it; /v3/batches never does.
const READYZ_ONLY: readonly ProblemCode[] = ['shutting_down'];

/** Drops `$schema` and `$id`: the document's dialect is OpenAPI 3.1's, and components are named by their key. */
function withoutDialect(schema: object): JsonObject {
  const copy: JsonObject = { ...schema };
  delete copy.$schema;
  delete copy.$id;
  return copy;
}

/** components.schemas from zod, with refs between them; $schema and $id are left out of each. */
function componentSchemas(): Record<string, JsonObject> {
  const registry = z.registry<{ id: string }>();
  registry.add(batchSchema, { id: 'Batch' });
  registry.add(batchPageSchema, { id: 'BatchPage' });
  registry.add(fieldErrorSchema, { id: 'FieldError' });
  registry.add(problemSchema, { id: 'Problem' });
  const { schemas } = z.toJSONSchema(registry, { io: 'output', uri: (id) => `#/components/schemas/${id}` });
  return Object.fromEntries(Object.entries(schemas).map(([id, schema]) => [id, withoutDialect(schema)]));
}

/** The query parameters, from the query schema's JSON Schema (output side: `limit` is the integer it becomes). */
function queryParameters(): JsonObject[] {
  const { properties = {} } = jsonSchemaOf(listQuerySchema) as { properties?: Record<string, JsonObject> };
  return Object.entries(properties).map(([name, { description, ...schema }]) => ({
    name,
    in: 'query',
    required: false,
    description,
    schema,
  }));
}

function problemResponse(status: number, codes: readonly ProblemCode[], isBatches: boolean): JsonObject {
  return {
    description: codes.map((code) => `${code} (${catalogue[code].title})`).join(', '),
    headers: headerRefs(status, isBatches),
    content: {
      [PROBLEM_JSON]: {
        schema: {
          allOf: [
            { $ref: '#/components/schemas/Problem' },
            { properties: { status: { const: status }, code: { enum: codes } } },
          ],
        },
      },
    },
  };
}

function listBatches(requiredScope: string | undefined): JsonObject {
  const errors = Object.fromEntries(
    problemStatuses()
      .map(
        (status) => [status, codesWithStatus(status).filter((code) => !READYZ_ONLY.includes(code))] as const,
      )
      .filter(([, codes]) => codes.length > 0)
      .map(([status, codes]) => [String(status), problemResponse(status, codes, true)]),
  );
  return {
    operationId: 'listBatches',
    summary: "List batches (Ntropy's GET /v3/batches, through the proxy)",
    description:
      "Same query and body as Ntropy's. The query is validated before anything goes upstream; datetimes are " +
      'sent upstream in UTC. HEAD answers as GET without a body.' +
      (requiredScope === undefined ? '' : ` The token must grant the scope ${requiredScope}.`),
    security: [{ bearerAuth: requiredScope === undefined ? [] : [requiredScope] }],
    parameters: queryParameters(),
    responses: {
      '200': {
        description: 'A page of batches, most recent first',
        headers: headerRefs(200, true),
        content: { 'application/json': { schema: { $ref: '#/components/schemas/BatchPage' } } },
      },
      ...errors,
    },
  };
}

function openOperation(operationId: string, summary: string, content: JsonObject, more: JsonObject = {}) {
  return {
    get: {
      operationId,
      summary,
      security: [],
      responses: { '200': { description: summary, headers: headerRefs(200, false), content }, ...more },
    },
  };
}

/** The JSON Schema of a zod schema (output side), in the document's dialect. */
function jsonSchemaOf(schema: z.ZodType): JsonObject {
  return withoutDialect(z.toJSONSchema(schema, { io: 'output' }));
}

function statusBody(status: string): JsonObject {
  return { 'application/json': { schema: jsonSchemaOf(z.object({ status: z.literal(status) })) } };
}

export function buildOpenApiDocument(options: OpenApiOptions): JsonObject {
  return {
    openapi: '3.1.0',
    info: {
      title: 'ntropy-bff',
      version: options.version,
      description:
        "A backend-for-frontend proxy in front of Ntropy's GET /v3/batches: call it with your own JWT; " +
        'every error is application/problem+json.',
    },
    paths: {
      '/v3/batches': { get: listBatches(options.requiredScope) },
      '/healthz': openOperation('getHealth', 'The process runs', statusBody('ok')),
      '/readyz': openOperation('getReadiness', 'Serving (503 once shutdown has begun)', statusBody('ready'), {
        '503': problemResponse(503, READYZ_ONLY, false),
      }),
      '/metrics': openOperation('getMetrics', 'Prometheus metrics (404 here when METRICS_PORT is set)', {
        'text/plain': { schema: { type: 'string' } },
      }),
      '/openapi.json': openOperation('getOpenApi', 'This document', {
        'application/json': { schema: { type: 'object' } },
      }),
    },
    components: {
      schemas: componentSchemas(),
      headers: headerComponents(),
      securitySchemes: {
        bearerAuth: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: 'Authorization: Bearer <JWT>, in the header only; exp and sub are required.',
        },
      },
    },
  };
}
