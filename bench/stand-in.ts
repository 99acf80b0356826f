// A fast Ntropy stand-in: GET /v3/batches from a precomputed page, a distinct next_cursor per cursor, calls at /__calls.
import { createServer, type ServerResponse } from 'node:http';
import { parseArgs } from 'node:util';
import { FIRST_PAGE, renderPage } from './page.js';

const { values } = parseArgs({
  options: { 'delay-ms': { type: 'string', default: '0' } },
});
const port = Number(process.env.PORT ?? 0);
const delayMs = Number(values['delay-ms']);
const firstPage = Buffer.from(FIRST_PAGE);
let calls = 0;

/** The `cursor` parameter, read without URLSearchParams: this server must cost far less than the proxy. */
function readCursor(url: string): string | undefined {
  const at = url.search(/[?&]cursor=/);
  if (at === -1) return undefined;
  const end = url.indexOf('&', at + 1);
  return decodeURIComponent(url.slice(at + 8, end === -1 ? undefined : end));
}

function send(res: ServerResponse, status: number, body: Buffer | string): void {
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'x-request-id': `stand-in-${calls}`,
  });
  res.end(body);
}

const server = createServer((req, res) => {
  const url = req.url ?? '/';
  if (url === '/__calls') return send(res, 200, JSON.stringify({ calls }));
  if (url === '/healthz') return send(res, 200, '{"status":"ok"}');
  if (!url.startsWith('/v3/batches')) return send(res, 404, '{"detail":"Not Found"}');
  calls += 1;
  const cursor = readCursor(url);
  // Each cursor gets its own next page, as Ntropy's would, so every distinct request is a distinct page.
  const body = cursor === undefined ? firstPage : renderPage(`after-${cursor}`);
  if (delayMs > 0) setTimeout(() => send(res, 200, body), delayMs);
  else send(res, 200, body);
});
server.listen(port, '127.0.0.1');
