// SPEC "Normalized errors", the row "bug": a failure that is not a Problem answers 500 internal_error, its stack only in the log.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import supertest from 'supertest';
import { createApp } from '../src/app.js';
import { createPageCache } from '../src/batches/page-cache.js';
import { createLocalPageStore } from '../src/batches/page-store.js';
import { loadConfig } from '../src/config.js';
import { createTokenVerifier, type TokenVerifier } from '../src/http/token-verifier.js';
import { createLogger } from '../src/logger.js';
import { createMetrics } from '../src/metrics.js';
import { testEnv } from './helpers/harness.js';
import { createLogCapture, type LogCapture } from './helpers/log-capture.js';
import { closedPortUrl, expectProblem } from './helpers/problem.js';
import { bearer } from './helpers/tokens.js';

const SECRET_MESSAGE = 'secret internals: pool slot 7 at /srv/ntropy-bff/dist/upstream/attempt.js';

let logs: LogCapture;
let verifyToken: TokenVerifier;
let request: ReturnType<typeof supertest>;
const loadedKeys: string[] = [];
let thrown: Error | undefined;

// The real app, its real token check, cache and error handler; only the page loader (the Ntropy
// client in service.ts) is one with a bug in it: it throws a plain Error, as a TypeError would.
beforeAll(async () => {
  const config = loadConfig(testEnv(await closedPortUrl()));
  logs = createLogCapture();
  verifyToken = createTokenVerifier(config.jwt);
  const pageCache = createPageCache({
    store: createLocalPageStore({ ...config.cache, now: Date.now }),
    load(key) {
      loadedKeys.push(key);
      thrown = new Error(SECRET_MESSAGE);
      return Promise.reject(thrown);
    },
  });
  const app = createApp({
    config,
    logger: createLogger(config.logLevel, logs.stream),
    verifyToken,
    pageCache,
    metrics: createMetrics({ collectProcessMetrics: false }),
    isReady: () => true,
  });
  request = supertest(app);
});
afterAll(() => verifyToken.close());

describe('GET /v3/batches — a bug', () => {
  it('answers 500 internal_error with no message, stack or file path, and logs the stack once on the server', async () => {
    const res = await request.get('/v3/batches?limit=3').set('Authorization', bearer());

    const body = expectProblem(res, 500, 'internal_error');
    expect(loadedKeys).toEqual(['limit=3']);
    const stack = thrown?.stack ?? '';
    expect(stack).toContain('internal-error.test');
    const answered = res.text + JSON.stringify(res.headers);
    expect(answered).not.toContain('secret internals');
    expect(answered).not.toContain('/srv/');
    expect(answered).not.toContain('internal-error.test');
    expect(answered).not.toMatch(/\bstack\b/i);
    expect(answered).not.toMatch(/\.[jt]s:\d+/);
    expect(Object.keys(body).sort()).toEqual(['code', 'detail', 'request_id', 'status', 'title', 'type']);

    const unhandled = logs.records().filter((record) => record.msg === 'unhandled error');
    expect(unhandled).toHaveLength(1);
    expect(unhandled[0]).toMatchObject({ level: 50, request_id: body.request_id });
    const err = unhandled[0]?.err as { message?: unknown; stack?: unknown };
    expect(err.message).toBe(SECRET_MESSAGE);
    expect(err.stack).toBe(stack);

    const audit = logs.auditLines().filter((record) => record.request_id === body.request_id);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ status: 500, code: 'internal_error', sub: 'alice', cache: 'MISS' });
    expect(JSON.stringify(audit[0])).not.toContain('secret internals');
  });
});
