// A GET /v3/batches on its own socket, so that a test can disconnect exactly that client.
import { request as httpRequest, type ClientRequest } from 'node:http';
import { bearer } from './tokens.js';

/** Sends the request and leaves it open; the caller may `destroy()` it to disconnect. */
export function sendAndHold(url: string, requestId: string, target = ''): ClientRequest {
  const req = httpRequest(`${url}/v3/batches${target}`, {
    agent: false,
    headers: { authorization: bearer(), 'x-request-id': requestId },
  });
  req.on('error', () => {});
  req.end();
  return req;
}
