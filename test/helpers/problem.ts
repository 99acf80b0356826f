// Shared helpers for tests of problem+json answers: the authorized request, the strict assertion, a dead origin.
import { createServer, type AddressInfo } from 'node:net';
import type { Response } from 'supertest';
import { expect } from 'vitest';
import type { Harness } from './harness.js';
import { bearer } from './tokens.js';

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  request_id: string;
  errors?: { field: string; message: string }[];
  upstream_status?: number;
  upstream_request_id?: string;
}

/** GET /v3/batches with a valid bearer token (HS256, sub alice). */
export function getBatches(h: Harness, query = '') {
  return h.request.get(`/v3/batches${query}`).set('Authorization', bearer());
}

/** Every error: problem+json, a stable `type` per code, and `request_id` equal to X-Request-ID. */
export function expectProblem(res: Response, status: number, code: string): ProblemBody {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toBe('application/problem+json');
  const body = JSON.parse(res.text) as ProblemBody;
  expect(body.type).toBe(`urn:ntropy-bff:problem:${code.replaceAll('_', '-')}`);
  expect(body.code).toBe(code);
  expect(body.status).toBe(status);
  expect(typeof body.title).toBe('string');
  expect(typeof body.detail).toBe('string');
  expect(body.request_id).toBe(res.headers['x-request-id']);
  expect(body.request_id).not.toBe('');
  return body;
}

/** A port on 127.0.0.1 that was free a moment ago: bind port 0, note the port, close it. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** An origin on 127.0.0.1 where nothing listens. */
export async function closedPortUrl(): Promise<string> {
  return `http://127.0.0.1:${await freePort()}`;
}
