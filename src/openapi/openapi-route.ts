// GET /openapi.json (SPEC "GET /openapi.json"): the document, built once when the app is made and served as bytes.
import type { Request, Response } from 'express';
import { readUserAgent } from '../version.js';
import { buildOpenApiDocument } from './openapi-document.js';

export function createOpenApiRoute(requiredScope: string | undefined) {
  const version = readUserAgent().split('/')[1] ?? '0.0.0';
  const body = Buffer.from(JSON.stringify(buildOpenApiDocument({ version, requiredScope })));
  return function serveOpenApi(_req: Request, res: Response): void {
    res.setHeader('Content-Type', 'application/json');
    res.setHeader('Content-Length', body.length);
    res.writeHead(200);
    res.end(body);
  };
}
