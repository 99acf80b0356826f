// GET /v3/batches: validate, look up the page (cache, coalescing, upstream), answer with SPEC's headers.
import type { Request, Response } from 'express';
import { auditFacts, requestIdOf } from '../http/audit-log.js';
import type { Metrics } from '../metrics.js';
import { canonicalQueryString, parseListQuery } from './list-query.js';
import type { UpstreamPage } from '../upstream/ntropy-client.js';
import type { JoinedCall, PageCache } from './page-cache.js';

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

/** Writes the stored bytes as they are: no ETag, no charset, no body for HEAD (a hit's whole cost). */
function sendPage(
  req: Request,
  res: Response,
  page: UpstreamPage,
  xCache: 'HIT' | 'MISS',
  cacheStatus: string,
): void {
  res.setHeader('Content-Type', 'application/json');
  if (page.upstreamRequestId !== undefined) res.setHeader('X-Upstream-Request-ID', page.upstreamRequestId);
  res.setHeader('X-Cache', xCache);
  res.setHeader('Cache-Status', cacheStatus);
  res.setHeader('Content-Length', page.body.length);
  res.writeHead(200);
  res.end(req.method === 'HEAD' ? undefined : page.body);
}

export function createBatchesHandler(options: BatchesRouteOptions) {
  const { pageCache, requestDeadlineMs, metrics } = options;
  const now = options.now ?? Date.now;

  return async function listBatches(req: Request, res: Response): Promise<void> {
    const queryAt = req.url.indexOf('?');
    const query = parseListQuery(new URLSearchParams(queryAt === -1 ? '' : req.url.slice(queryAt + 1)));
    const facts = auditFacts(res);
    facts.query = query;
    const key = canonicalQueryString(query);

    const cached = pageCache.getFresh(key);
    if (cached !== undefined) {
      const { page, ttlLeftMs } = cached;
      facts.cache = 'HIT';
      facts.upstream = {
        attempts: 0,
        lastStatus: undefined,
        lastRequestId: page.upstreamRequestId,
        waitedMs: 0,
      };
      metrics.recordCacheLookup('hit');
      res.setHeader('Age', String(Math.max(0, Math.floor((now() - page.fetchedAtMs) / 1000))));
      return sendPage(req, res, page, 'HIT', `ntropy-bff; hit; ttl=${Math.floor(ttlLeftMs / 1000)}`);
    }

    facts.cache = 'MISS';
    metrics.recordCacheLookup('miss');
    // A client that leaves stops waiting; the shared call is cancelled once nobody waits for it.
    const clientGone = new AbortController();
    res.once('close', () => {
      if (!res.writableEnded) clientGone.abort(new Error('client closed the request'));
    });
    const receivedAtMs = (res.locals as { receivedAtMs?: number }).receivedAtMs ?? now();
    const call = pageCache.join(key, {
      requestId: requestIdOf(res),
      deadlineAtMs: receivedAtMs + requestDeadlineMs,
      signal: clientGone.signal,
    });
    facts.upstream = call.trace;
    let result: Awaited<JoinedCall['result']>;
    try {
      result = await call.result;
    } catch (error) {
      res.setHeader('X-Cache', 'MISS');
      res.setHeader('Cache-Status', missCacheStatus(call.trace.lastStatus, false, call.isCollapsed));
      throw error;
    }
    sendPage(req, res, result.page, 'MISS', missCacheStatus(200, result.isStored, call.isCollapsed));
  };
}
