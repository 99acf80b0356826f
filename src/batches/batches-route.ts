// GET /v3/batches: validate, look up the page (cache, coalescing, upstream), answer with SPEC's headers.
import type { Request, Response } from 'express';
import { auditFacts } from '../http/audit-log.js';
import type { Metrics } from '../metrics.js';
import { canonicalQueryString, parseListQuery } from './list-query.js';
import type { PageCache, PageLookup, ServedPage } from './page-cache.js';

export interface BatchesRouteOptions {
  pageCache: PageCache;
  requestDeadlineMs: number;
  metrics: Metrics;
  now?: () => number;
}

/** RFC 9211 Cache-Status for a miss (also on upstream-caused errors). */
export function missCacheStatus(
  upstreamStatus: number | undefined,
  isStored: boolean,
  isCollapsed: boolean,
): string {
  return (
    'ntropy-bff; fwd=uri-miss' +
    (upstreamStatus === undefined ? '' : `; fwd-status=${upstreamStatus}`) +
    (isStored ? '; stored' : '') +
    (isCollapsed ? '; collapsed' : '')
  );
}

function setPageHeaders(res: Response, lookup: PageLookup, page: ServedPage, nowMs: number): void {
  res.setHeader('Content-Type', 'application/json');
  if (page.upstreamRequestId !== undefined) res.setHeader('X-Upstream-Request-ID', page.upstreamRequestId);
  res.setHeader('X-Cache', lookup.cache);
  if (lookup.cache === 'HIT') {
    res.setHeader('Cache-Status', `ntropy-bff; hit; ttl=${Math.floor((page.ttlLeftMs ?? 0) / 1000)}`);
    res.setHeader('Age', String(Math.max(0, Math.floor((nowMs - page.fetchedAtMs) / 1000))));
  } else {
    res.setHeader('Cache-Status', missCacheStatus(200, page.isStored, lookup.isCollapsed));
  }
}

export function createBatchesHandler(options: BatchesRouteOptions) {
  const { pageCache, requestDeadlineMs, metrics } = options;
  const now = options.now ?? Date.now;

  return async function listBatches(req: Request, res: Response): Promise<void> {
    const queryAt = req.url.indexOf('?');
    const query = parseListQuery(new URLSearchParams(queryAt === -1 ? '' : req.url.slice(queryAt + 1)));
    const facts = auditFacts(res);
    facts.query = query;

    // A client that leaves stops waiting; the shared call is cancelled once nobody waits for it.
    const clientGone = new AbortController();
    res.once('close', () => {
      if (!res.writableEnded) clientGone.abort(new Error('client closed the request'));
    });
    const receivedAtMs = (res.locals as { receivedAtMs?: number }).receivedAtMs ?? now();
    const lookup = pageCache.lookup(canonicalQueryString(query), {
      requestId: req.id as string,
      deadlineAtMs: receivedAtMs + requestDeadlineMs,
      signal: clientGone.signal,
    });
    facts.cache = lookup.cache;
    facts.upstream = lookup.trace;
    metrics.recordCacheLookup(lookup.cache === 'HIT' ? 'hit' : 'miss');

    let page: ServedPage;
    try {
      page = await lookup.page;
    } catch (error) {
      res.setHeader('X-Cache', 'MISS');
      res.setHeader('Cache-Status', missCacheStatus(lookup.trace.lastStatus, false, lookup.isCollapsed));
      throw error;
    }
    if (lookup.cache === 'HIT') facts.upstream = { ...lookup.trace, lastRequestId: page.upstreamRequestId };
    setPageHeaders(res, lookup, page, now());
    res.status(200).send(page.body);
  };
}
