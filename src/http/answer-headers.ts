// The headers every answer carries (X-Request-ID, Cache-Control, the security headers, CORS): set at once, or held for the page's one writeHead.
import type { IncomingMessage, ServerResponse } from 'node:http';

/** name, value, name, value, ...: the form `res.writeHead` takes without building a header object. */
type HeaderList = string[];

interface HeldHeaders {
  requestId: string;
  /** Computed once at startup (security headers, Cache-Control), shared by every response. */
  fixed: readonly string[];
  /** Added for this request (X-Request-ID first); undefined once they are set on the response. */
  added: HeaderList | undefined;
}

const HELD = Symbol('ntropy-bff.answerHeaders');
type WithHeld = ServerResponse & { [HELD]?: HeldHeaders };

/**
 * Holds the headers of every answer until the response is written. Node's `writeHead(status, list)` writes a
 * list at once when nothing was set before; each `setHeader` instead validates, lowercases and stores a header
 * that is read back when the head is written (BENCHMARKS.md: a hit's header writes were its largest share).
 */
export function holdAnswerHeaders(res: ServerResponse, requestId: string, fixed: readonly string[]): void {
  (res as WithHeld)[HELD] = { requestId, fixed, added: ['X-Request-ID', requestId] };
}

export function requestIdOf(res: ServerResponse): string {
  return (res as WithHeld)[HELD]?.requestId ?? '';
}

/**
 * The headers a middleware sets for `req`, as a list, when they cannot depend on anything but `req`: the
 * middleware runs once, at startup, on a response that only records them. Throws unless it set them
 * synchronously and went on without an error (then they are not fixed, and must not be read this way).
 */
export function recordFixedHeaders(
  middleware: (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void,
  req: Pick<IncomingMessage, 'method' | 'headers'>,
  name: string,
): string[] {
  const list: string[] = [];
  const recorder = {
    getHeader(header: string): string | undefined {
      for (let index = 0; index + 1 < list.length; index += 2)
        if (list[index] === header) return list[index + 1];
      return undefined;
    },
    setHeader(header: string, value: string | number | readonly string[]) {
      list.push(header, String(value));
    },
    removeHeader() {},
  };
  let isSync = false;
  middleware(req as IncomingMessage, recorder as unknown as ServerResponse, (error?: unknown) => {
    isSync = error === undefined;
  });
  if (!isSync) throw new Error(`${name} did not set its headers synchronously and without error`);
  return list;
}

/** Adds a list of headers (name, value, ...) as `addAnswerHeader` adds one. */
export function addAnswerHeaders(res: ServerResponse, list: readonly string[]): void {
  for (let index = 0; index + 1 < list.length; index += 2) {
    addAnswerHeader(res, list[index] as string, list[index + 1] as string);
  }
}

/** Adds a header to the held ones, or sets it at once when they are already set. */
export function addAnswerHeader(res: ServerResponse, name: string, value: string): void {
  const added = (res as WithHeld)[HELD]?.added;
  if (added === undefined) res.setHeader(name, value);
  else added.push(name, value);
}

/** Sets the held headers on the response, for the paths that write through Express or another library. */
export function applyAnswerHeaders(res: ServerResponse): void {
  const held = (res as WithHeld)[HELD];
  if (held?.added === undefined) return;
  setList(res, held.fixed);
  setList(res, held.added);
  held.added = undefined;
}

/** The one writeHead of a response: the held headers, then `more`. */
export function writeAnswerHead(res: ServerResponse, status: number, more: readonly string[]): void {
  const held = (res as WithHeld)[HELD];
  if (held?.added === undefined) {
    setList(res, more);
    res.writeHead(status);
    return;
  }
  res.writeHead(status, held.fixed.concat(held.added, more));
  held.added = undefined;
}

function setList(res: ServerResponse, list: readonly string[]): void {
  for (let index = 0; index + 1 < list.length; index += 2) {
    res.setHeader(list[index] as string, list[index + 1] as string);
  }
}
