// Finds the audit line of one request in a harness's captured log, waiting briefly for it to be written.
import type { Response } from 'supertest';
import type { Harness } from './harness.js';

export async function auditLineOf(h: Harness, requestId: string): Promise<Record<string, unknown>> {
  for (let tries = 0; tries < 100; tries += 1) {
    const line = h.logs.auditLines().find((record) => record.request_id === requestId);
    if (line) return line;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`no audit line for ${requestId}`);
}

/** The audit line of the request that got `res`, found by its X-Request-ID. */
export async function auditOf(h: Harness, res: Response): Promise<Record<string, unknown>> {
  return auditLineOf(h, String(res.headers['x-request-id']));
}
