// GET /v3/batches: validate, look up the page (cache, coalescing, upstream, stale), answer with SPEC's headers.
import type { Request, Response } from 'express';
import { requestIdOf, writeAnswerHead } from '../http/answer-headers.js';
import { auditFacts, type AuditFacts } from '../http/audit-log.js';
import type { Metrics } from '../metrics.js';
import { Problem } from '../problem.js';
import type { UpstreamPage } from '../upstream/upstream-page.js';
import {
  ageSeconds,
  hitCacheStatus,
  isStaleReplaceable,
  keptPageAnswer,
  missCacheStatus,
  staleCacheStatus,
} from './cache-status.js';
import { createListQueryReader } from './list-query.js';
import type { CallResult, PageCache } from './page-cache.js';

export interface BatchesRouteOptions {
  pageCache: PageCache;
  requestDeadlineMs: number;
  metrics: Metrics;
  now?: () => number;
}

/** Writes the stored bytes as they are, in one writeHead: no ETag, no charset, no body for HEAD (a hit's whole cost). */
function sendPage(
  req: Request,
  res: Response,
  page: UpstreamPage,
  xCache: 'HIT' | 'MISS' | 'STALE',
  cacheStatus: string,
  ageS?: number,
): void {
  const headers = ['Content-Type', 'application/json'];
  if (page.upstreamRequestId !== undefined) headers.push('X-Upstream-Request-ID', page.upstreamRequestId);
  headers.push('X-Cache', xCache, 'Cache-Status', cacheStatus);
  if (ageS !== undefined) headers.push('Age', String(ageS));
  headers.push('Content-Length', String(page.body.length));
  writeAnswerHead(res, 200, headers);
  res.end(req.method === 'HEAD' ? undefined : page.body);
}

export function createBatchesHandler(options: BatchesRouteOptions) {
  const { pageCache, requestDeadlineMs, metrics } = options;
  const now = options.now ?? Date.now;
  const readListQuery = createListQueryReader();

  function answerHit(req: Request, res: Response, facts: AuditFacts, page: UpstreamPage, ttlLeftMs: number) {
    facts.cache = 'HIT';
    metrics.recordCacheLookup('hit');
    sendPage(req, res, page, 'HIT', hitCacheStatus(ttlLeftMs), ageSeconds(page.fetchedAtMs, now()));
  }

  async function answerMiss(req: Request, res: Response, facts: AuditFacts, key: string): Promise<void> {
    // A stale entry is never served as fresh: the call goes upstream (or joins the one in flight) first.
    facts.cache = 'MISS';
    // A client that leaves stops waiting; the shared call is cancelled once nobody waits for it.
    const clientGone = new AbortController();
    const leave = () => {
      if (!res.writableEnded) clientGone.abort(new Error('client closed the request'));
    };
    res.on('close', leave);
    // A client that left while an earlier check awaited (a JWKS fetch, a shared limit) has nobody to call for.
    if (res.destroyed) leave();
    const receivedAtMs = (res.locals as { receivedAtMs?: number }).receivedAtMs ?? now();
    const call = pageCache.join(key, {
      requestId: requestIdOf(res),
      deadlineAtMs: receivedAtMs + requestDeadlineMs,
      signal: clientGone.signal,
    });
    facts.upstream = call.trace;
    let result: CallResult;
    try {
      result = await call.result;
    } catch (error) {
      // The shared trace goes on for other waiters: this request's line keeps what it saw.
      facts.upstream = { ...call.trace };
      // SPEC "Request IDs and audit log": a client that left is an ordinary outcome (its audit line
      // says 499), not an error for the error handler.
      if (clientGone.signal.aborted) return metrics.recordCacheLookup('miss');
      // SPEC "Serving stale": an upstream-caused error is answered with the page kept for this query.
      const kept =
        error instanceof Problem && isStaleReplaceable(error.code) ? await pageCache.getKept(key) : undefined;
      if (kept !== undefined && keptPageAnswer(kept.staleForMs) === 'HIT') {
        return answerHit(req, res, facts, kept.page, -kept.staleForMs);
      }
      if (kept !== undefined) {
        facts.cache = 'STALE';
        metrics.recordCacheLookup('stale');
        const cacheStatus = staleCacheStatus(call.trace.lastStatus, kept.staleForMs);
        return sendPage(req, res, kept.page, 'STALE', cacheStatus, ageSeconds(kept.page.fetchedAtMs, now()));
      }
      metrics.recordCacheLookup('miss');
      res.setHeader('X-Cache', 'MISS');
      res.setHeader('Cache-Status', missCacheStatus(call.trace.lastStatus, false, call.isCollapsed));
      throw error;
    }
    facts.upstream = { ...call.trace };
    // SPEC "Replicas and shared state": a page another replica stored is a hit here too.
    if (result.hitTtlLeftMs !== undefined)
      return answerHit(req, res, facts, result.page, result.hitTtlLeftMs);
    metrics.recordCacheLookup('miss');
    sendPage(req, res, result.page, 'MISS', missCacheStatus(200, result.isStored, call.isCollapsed));
  }

  // Synchronous on a hit: no promise is made for the path that needs none.
  return function listBatches(req: Request, res: Response): Promise<void> | undefined {
    const queryAt = req.url.indexOf('?');
    const { query, key } = readListQuery(queryAt === -1 ? '' : req.url.slice(queryAt + 1));
    const facts = auditFacts(res);
    facts.query = query;
    const cached = pageCache.getFresh(key);
    if (cached === undefined) return answerMiss(req, res, facts, key);
    facts.upstream = {
      attempts: 0,
      lastStatus: undefined,
      lastRequestId: cached.page.upstreamRequestId,
      waitedMs: 0,
    };
    answerHit(req, res, facts, cached.page, cached.ttlLeftMs);
    return undefined;
  };
}
