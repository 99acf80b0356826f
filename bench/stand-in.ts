// A fast Ntropy stand-in: GET /v3/batches from a precomputed page, a distinct next_cursor per cursor, optional faults, calls at /__calls.
import { createServer, type ServerResponse } from 'node:http';
import { parseArgs } from 'node:util';
import { FIRST_PAGE, renderPage } from './page.js';

const { values } = parseArgs({
  options: {
    'delay-ms': { type: 'string', default: '0' },
    'fault-503-rate': { type: 'string', default: '0' },
    'fault-429-rate': { type: 'string', default: '0' },
    'retry-after-s': { type: 'string', default: '1' },
  },
});
const port = Number(process.env.PORT ?? 0);
const delayMs = Number(values['delay-ms']);
const fault503Rate = Number(values['fault-503-rate']);
const fault429Rate = Number(values['fault-429-rate']);
const retryAfter = String(Number(values['retry-after-s']));
const firstPage = Buffer.from(FIRST_PAGE);
let calls = 0;
const faults = { 503: 0, 429: 0 };
// A fixed sequence (mulberry32): every run draws the same faults in the same order of calls.
let seed = 0x5eed;
function draw(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
}

/** The `cursor` parameter, read without URLSearchParams: this server must cost far less than the proxy. */
function readCursor(url: string): string | undefined {
  const at = url.search(/[?&]cursor=/);
  if (at === -1) return undefined;
  const end = url.indexOf('&', at + 1);
  return decodeURIComponent(url.slice(at + 8, end === -1 ? undefined : end));
}

function send(
  res: ServerResponse,
  status: number,
  body: Buffer | string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'x-request-id': `stand-in-${calls}`,
    ...headers,
  });
  res.end(body);
}

const server = createServer((req, res) => {
  const url = req.url ?? '/';
  if (url === '/__calls') return send(res, 200, JSON.stringify({ calls, faults }));
  if (url === '/healthz') return send(res, 200, '{"status":"ok"}');
  if (!url.startsWith('/v3/batches')) return send(res, 404, '{"detail":"Not Found"}');
  calls += 1;
  const roll = fault429Rate + fault503Rate > 0 ? draw() : 1;
  if (roll < fault429Rate) {
    faults[429] += 1;
    return send(res, 429, '{"detail":"Rate limit exceeded"}', { 'retry-after': retryAfter });
  }
  if (roll < fault429Rate + fault503Rate) {
    faults[503] += 1;
    return send(res, 503, '{"detail":"Service Unavailable"}');
  }
  const cursor = readCursor(url);
  // Each cursor gets its own next page, as Ntropy's would, so every distinct request is a distinct page.
  const body = cursor === undefined ? firstPage : renderPage(`after-${cursor}`);
  if (delayMs > 0) setTimeout(() => send(res, 200, body), delayMs);
  else send(res, 200, body);
});
server.listen(port, '127.0.0.1');
