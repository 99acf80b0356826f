// A page as Redis keeps it: one line of JSON (its times and upstream request id), a newline, then the body byte for byte.
import type { UpstreamPage } from '../upstream/upstream-page.js';

export interface PageEntry {
  page: UpstreamPage;
  /** Fresh before this instant (the storing replica's clock), kept for stale answers until `staleUntilMs`. */
  freshUntilMs: number;
  staleUntilMs: number;
}

const NEWLINE = 0x0a;

/**
 * One string rather than a hash: one `SET … PX` writes it and one `GET` reads it, atomically, and
 * JSON.stringify never writes a raw newline, so the first one ends the header. The field names are the
 * ones a Lua script reads (`fresh_until_ms`) and an operator sees with `GET`.
 */
export function encodePageEntry(entry: PageEntry): Buffer {
  const header = JSON.stringify({
    fresh_until_ms: entry.freshUntilMs,
    stale_until_ms: entry.staleUntilMs,
    fetched_at_ms: entry.page.fetchedAtMs,
    upstream_request_id: entry.page.upstreamRequestId ?? null,
  });
  return Buffer.concat([Buffer.from(`${header}\n`), entry.page.body]);
}

/** The entry, or undefined for anything this version did not write (a foreign or damaged value is a miss). */
export function decodePageEntry(value: unknown): PageEntry | undefined {
  if (!Buffer.isBuffer(value)) return undefined;
  const newline = value.indexOf(NEWLINE);
  if (newline === -1) return undefined;
  const header = parseHeader(value.subarray(0, newline).toString('utf8'));
  if (header === undefined) return undefined;
  return {
    page: {
      body: value.subarray(newline + 1),
      upstreamRequestId: header.upstream_request_id ?? undefined,
      fetchedAtMs: header.fetched_at_ms,
    },
    freshUntilMs: header.fresh_until_ms,
    staleUntilMs: header.stale_until_ms,
  };
}

interface Header {
  fresh_until_ms: number;
  stale_until_ms: number;
  fetched_at_ms: number;
  upstream_request_id: string | null;
}

function parseHeader(text: string): Header | undefined {
  try {
    const header = JSON.parse(text) as Partial<Record<keyof Header, unknown>> | null;
    if (typeof header !== 'object' || header === null) return undefined;
    const { fresh_until_ms: fresh, stale_until_ms: stale, fetched_at_ms: fetched } = header;
    const requestId = header.upstream_request_id;
    if (![fresh, stale, fetched].every((ms) => typeof ms === 'number' && Number.isFinite(ms)))
      return undefined;
    if (requestId !== null && typeof requestId !== 'string') return undefined;
    return header as Header;
  } catch {
    return undefined;
  }
}
