// A scriptable, deterministic stand-in for Ntropy's `GET /v3/batches`, on node:http at 127.0.0.1.
import { randomUUID } from 'node:crypto';
import { createServer, STATUS_CODES } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { answerListQuery, buildPaddedPage, createPrng, generateBatches } from './seeded-batches.js';

export interface ScriptedResponse {
  /** Default 200. */
  status?: number;
  /** Extra response headers (e.g. 'retry-after'); they override the defaults. */
  headers?: Record<string, string>;
  /** A string is sent raw; an object is JSON-encoded; absent means a realistic page (200) or `{"detail"}`. */
  body?: string | object;
  /** Wait before sending headers (added to the server's base `delayMs`). */
  delayMs?: number;
  /** Destroy the socket without answering (connection reset). */
  reset?: boolean;
  /** Never answer, until the client gives up or the server closes. */
  hang?: boolean;
  /** Serve a valid page padded to at least this many bytes. */
  bodyBytes?: number;
}

export interface ReceivedRequest {
  method: string;
  url: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  atMs: number;
}

export interface SimulatedNtropyOptions {
  apiKey?: string;
  batchCount?: number;
  seed?: number;
  /** The seed's "now": batches fall in the 90 days before it. Default: a fixed instant, for tests. */
  nowMs?: number;
  fault429Rate?: number;
  fault503Rate?: number;
  retryAfterS?: number;
  delayMs?: number;
  port?: number;
}

export interface SimulatedNtropy {
  readonly url: string;
  readonly received: ReceivedRequest[];
  /** Requests being answered right now, and the most at once since the start or the last reset(). */
  inFlight(): number;
  maxInFlight(): number;
  enqueue(...responses: ScriptedResponse[]): void;
  setDefault(response: ScriptedResponse | undefined): void;
  reset(): void;
  close(): Promise<void>;
}

interface Reply {
  status: number;
  headers?: Record<string, string>;
  body: string;
}

const BATCHES_PATH = '/v3/batches';
const ERROR_DETAILS: Record<number, string> = {
  401: 'Invalid API key',
  404: 'Not Found',
  405: 'Method Not Allowed',
  429: 'Rate limit exceeded',
};

function describeStatus(status: number): string {
  return ERROR_DETAILS[status] ?? STATUS_CODES[status] ?? 'Error';
}

function recordRequest(req: IncomingMessage): ReceivedRequest {
  const url = req.url ?? '';
  const queryStart = url.indexOf('?');
  return {
    method: req.method ?? '',
    url,
    path: queryStart < 0 ? url : url.slice(0, queryStart),
    query: new URLSearchParams(queryStart < 0 ? '' : url.slice(queryStart + 1)),
    headers: req.headers,
    atMs: performance.now(),
  };
}

function sendReply(res: ServerResponse, reply: Reply): void {
  res.statusCode = reply.status;
  res.setHeader('content-type', 'application/json');
  res.setHeader('x-request-id', randomUUID());
  for (const [name, value] of Object.entries(reply.headers ?? {})) res.setHeader(name, value);
  res.setHeader('content-length', Buffer.byteLength(reply.body));
  res.end(reply.body);
}

/** Starts the simulator on 127.0.0.1 and resolves once it is listening. */
export async function startSimulatedNtropy(options: SimulatedNtropyOptions = {}): Promise<SimulatedNtropy> {
  const seed = options.seed ?? 1;
  const batches = generateBatches(options.batchCount ?? 137, seed, options.nowMs);
  // A separate stream from the data PRNG, so injected faults are reproducible on their own.
  const drawFault = createPrng(seed ^ 0x5eed_fa17);
  const baseDelayMs = options.delayMs ?? 0;
  const received: ReceivedRequest[] = [];
  const queue: ScriptedResponse[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let stickyDefault: ScriptedResponse | undefined;
  let inFlight = 0;
  let maxInFlight = 0;

  function answerRealistically(request: ReceivedRequest): Reply {
    if (request.path !== BATCHES_PATH) return { status: 404, body: JSON.stringify({ detail: 'Not Found' }) };
    if (request.method !== 'GET') {
      return {
        status: 405,
        headers: { allow: 'GET' },
        body: JSON.stringify({ detail: 'Method Not Allowed' }),
      };
    }
    if (options.apiKey !== undefined && request.headers['x-api-key'] !== options.apiKey) {
      return { status: 401, body: JSON.stringify({ detail: 'Invalid API key' }) };
    }
    const roll = drawFault();
    const rate429 = options.fault429Rate ?? 0;
    if (roll < rate429) {
      const headers = { 'retry-after': String(options.retryAfterS ?? 1) };
      return { status: 429, headers, body: JSON.stringify({ detail: 'Rate limit exceeded' }) };
    }
    if (roll < rate429 + (options.fault503Rate ?? 0)) {
      return { status: 503, body: JSON.stringify({ detail: 'Service Unavailable' }) };
    }
    const answer = answerListQuery(batches, request.query);
    return { status: answer.status, body: JSON.stringify(answer.body) };
  }

  function buildScriptedReply(scripted: ScriptedResponse, request: ReceivedRequest): Reply {
    const status = scripted.status ?? 200;
    const headers = scripted.headers ?? {};
    if (typeof scripted.body === 'string') return { status, headers, body: scripted.body };
    if (scripted.body !== undefined) return { status, headers, body: JSON.stringify(scripted.body) };
    if (scripted.bodyBytes !== undefined)
      return { status, headers, body: buildPaddedPage(scripted.bodyBytes, seed) };
    if (status !== 200) return { status, headers, body: JSON.stringify({ detail: describeStatus(status) }) };
    const answer = answerListQuery(batches, request.query);
    const page = answer.status === 200 ? answer : answerListQuery(batches, new URLSearchParams());
    return { status, headers, body: JSON.stringify(page.body) };
  }

  function chooseReply(scripted: ScriptedResponse | undefined, request: ReceivedRequest): Reply {
    return scripted ? buildScriptedReply(scripted, request) : answerRealistically(request);
  }

  function handleRequest(req: IncomingMessage, res: ServerResponse): void {
    const request = recordRequest(req);
    received.push(request);
    inFlight += 1;
    maxInFlight = Math.max(maxInFlight, inFlight);
    res.once('close', () => (inFlight -= 1));
    req.resume();
    const scripted = queue.shift() ?? stickyDefault;
    if (scripted?.hang) return;
    // Built at arrival (not after the delay) so fault draws follow arrival order, keeping demos reproducible.
    const reply = scripted?.reset ? undefined : chooseReply(scripted, request);
    const finish = (): void => {
      if (reply === undefined) req.socket.resetAndDestroy();
      else sendReply(res, reply);
    };
    const delayMs = baseDelayMs + (scripted?.delayMs ?? 0);
    if (delayMs <= 0) {
      finish();
      return;
    }
    const timer = setTimeout(() => {
      timers.delete(timer);
      finish();
    }, delayMs);
    timers.add(timer);
    res.once('close', () => {
      clearTimeout(timer);
      timers.delete(timer);
    });
  }

  const server = createServer(handleRequest);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    received,
    inFlight: () => inFlight,
    maxInFlight: () => maxInFlight,
    enqueue(...responses) {
      queue.push(...responses);
    },
    setDefault(response) {
      stickyDefault = response;
    },
    reset() {
      queue.length = 0;
      stickyDefault = undefined;
      received.length = 0;
      maxInFlight = inFlight;
    },
    close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      return closed;
    },
  };
}
