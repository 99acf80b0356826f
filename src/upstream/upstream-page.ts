// What one upstream call yields: the page (bytes as Ntropy sent them) and the trace of what happened on the way.

export interface UpstreamPage {
  /** The upstream JSON body, byte for byte. */
  body: Buffer;
  upstreamRequestId: string | undefined;
  fetchedAtMs: number;
}

/** What happened upstream for one call, filled in as it goes (read by the audit line and metrics). */
export interface UpstreamTrace {
  /** Attempts started, including one cut short because nobody waited any more. */
  attempts: number;
  lastStatus: number | undefined;
  lastRequestId: string | undefined;
  waitedMs: number;
}

export function newTrace(): UpstreamTrace {
  return { attempts: 0, lastStatus: undefined, lastRequestId: undefined, waitedMs: 0 };
}

/** SPEC "Normalized errors": upstream_status and upstream_request_id of the call's last response. */
export function lastResponseOf(trace: UpstreamTrace) {
  return { upstreamStatus: trace.lastStatus, upstreamRequestId: trace.lastRequestId };
}

/** A loose shape check: `data` is an array, `next_cursor` a string, null or absent; the rest passes through. */
export function isPage(body: Buffer): boolean {
  try {
    const page = JSON.parse(body.toString('utf8')) as unknown;
    if (typeof page !== 'object' || page === null || Array.isArray(page)) return false;
    const { data, next_cursor: nextCursor } = page as { data?: unknown; next_cursor?: unknown };
    return (
      Array.isArray(data) &&
      (nextCursor === undefined || nextCursor === null || typeof nextCursor === 'string')
    );
  } catch {
    return false;
  }
}
