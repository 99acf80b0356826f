// SPEC "Request IDs and audit log": which X-Request-ID is kept, and that every response carries it.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { chooseRequestId } from '../src/http/request-id.js';
import { listenHarness, startHarness, type Harness } from './helpers/harness.js';
import { bearer } from './helpers/tokens.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const FRESH = 'fresh-id';

describe('chooseRequestId', () => {
  it.each([
    ['a single character', 'a'],
    ['letters and digits', 'Abc123'],
    ['every allowed punctuation mark', 'a.b_c:d-e'],
    ['a UUID', '0b6f3c1e-8d2a-4c7e-9f10-2a3b4c5d6e7f'],
    ['exactly 128 characters', 'x'.repeat(128)],
    ['only punctuation', '._:-'],
  ])('keeps the client value: %s', (_case, value) => {
    expect(chooseRequestId(value, () => FRESH)).toBe(value);
  });

  it.each<[string, string | string[] | undefined]>([
    ['absent', undefined],
    ['empty', ''],
    ['129 characters', 'x'.repeat(129)],
    ['a space inside', 'a b'],
    ['a leading space', ' abc'],
    ['a trailing space', 'abc '],
    ['a comma', 'a,b'],
    ['two joined values', 'a, b'],
    ['a slash', 'a/b'],
    ['a newline', 'abc\n'],
    ['unicode letters', 'café'],
    ['an emoji', 'id-😀'],
    ['an array of values', ['a', 'b']],
    ['an array of one valid value', ['abc']],
    ['an empty array', []],
  ])('makes a new id when the client value is %s', (_case, value) => {
    expect(chooseRequestId(value, () => FRESH)).toBe(FRESH);
  });

  it('makes a random UUID by default', () => {
    const first = chooseRequestId(undefined);
    const second = chooseRequestId('not valid!');
    expect(first).toMatch(UUID);
    expect(second).toMatch(UUID);
    expect(first).not.toBe(second);
  });
});

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ env: { CACHE_TTL_MS: '0' } });
});
afterAll(() => h.close());
beforeEach(() => h.upstream.reset());

describe('X-Request-ID — through HTTP', () => {
  it("echoes the client's valid id on the response and sends it upstream", async () => {
    const res = await h.request
      .get('/v3/batches')
      .set('Authorization', bearer())
      .set('X-Request-ID', 'frontend:req-42.a_b');
    expect(res.status).toBe(200);
    expect(res.headers['x-request-id']).toBe('frontend:req-42.a_b');
    expect(h.upstream.received).toHaveLength(1);
    expect(h.upstream.received[0]?.headers['x-request-id']).toBe('frontend:req-42.a_b');
  });

  it.each([
    ['a space', 'has space'],
    ['a comma', 'a,b'],
    ['129 characters', 'y'.repeat(129)],
    ['a slash', 'a/b'],
  ])(
    'replaces an id with %s by a fresh UUID, the same on the response and upstream',
    async (_case, value) => {
      const res = await h.request
        .get('/v3/batches')
        .set('Authorization', bearer())
        .set('X-Request-ID', value);
      expect(res.status).toBe(200);
      const id = res.headers['x-request-id'] as string;
      expect(id).toMatch(UUID);
      expect(h.upstream.received).toHaveLength(1);
      expect(h.upstream.received[0]?.headers['x-request-id']).toBe(id);
    },
  );

  it('replaces a repeated X-Request-ID header by a fresh UUID', async () => {
    const running = await listenHarness(h);
    try {
      const res = await new Promise<IncomingMessage>((resolve, reject) => {
        const req = httpRequest(`${running.url}/v3/batches`, {
          headers: { Authorization: bearer(), 'X-Request-ID': ['first', 'second'] },
        });
        req.on('response', (response) => {
          response.resume();
          response.on('end', () => resolve(response));
        });
        req.on('error', reject);
        req.end();
      });
      expect(res.statusCode).toBe(200);
      const id = res.headers['x-request-id'];
      expect(id).toMatch(UUID);
      expect(h.upstream.received[0]?.headers['x-request-id']).toBe(id);
    } finally {
      await new Promise<void>((resolve) => {
        running.server.close(() => resolve());
        running.server.closeAllConnections();
      });
    }
  });

  it('gives each request without an id its own UUID', async () => {
    const first = await h.request.get('/healthz');
    const second = await h.request.get('/healthz');
    expect(first.headers['x-request-id']).toMatch(UUID);
    expect(second.headers['x-request-id']).toMatch(UUID);
    expect(first.headers['x-request-id']).not.toBe(second.headers['x-request-id']);
  });
});

describe('X-Request-ID — on every response', () => {
  it.each<[string, () => ReturnType<Harness['request']['get']>, number]>([
    ['200 /v3/batches', () => h.request.get('/v3/batches').set('Authorization', bearer()), 200],
    ['400 bad query', () => h.request.get('/v3/batches?limit=0').set('Authorization', bearer()), 400],
    ['401 no token', () => h.request.get('/v3/batches'), 401],
    ['404 unknown path', () => h.request.get('/nope'), 404],
    ['405 wrong method', () => h.request.post('/v3/batches'), 405],
    ['200 /healthz', () => h.request.get('/healthz'), 200],
    ['200 /metrics', () => h.request.get('/metrics'), 200],
  ])('%s carries a fresh id, or the client one', async (_case, send, status) => {
    const fresh = await send();
    expect(fresh.status).toBe(status);
    expect(fresh.headers['x-request-id']).toMatch(UUID);

    const kept = await send().set('X-Request-ID', 'client-id-1');
    expect(kept.status).toBe(status);
    expect(kept.headers['x-request-id']).toBe('client-id-1');
  });

  it.each<[string, () => ReturnType<Harness['request']['get']>, string]>([
    ['400', () => h.request.get('/v3/batches?limit=0').set('Authorization', bearer()), 'invalid_query'],
    ['401', () => h.request.get('/v3/batches'), 'unauthorized'],
    ['404', () => h.request.get('/nope'), 'not_found'],
    ['405', () => h.request.delete('/v3/batches'), 'method_not_allowed'],
    [
      '502 from upstream',
      () => h.request.get('/v3/batches').set('Authorization', bearer()),
      'upstream_error',
    ],
  ])('a %s problem body has request_id equal to the X-Request-ID header', async (_case, send, code) => {
    h.upstream.enqueue({ status: 500 });
    for (const clientId of [undefined, 'client-id-2', 'bad id']) {
      const request = send();
      const res = await (clientId === undefined ? request : request.set('X-Request-ID', clientId));
      const body = res.body as { code?: string; request_id?: string };
      expect(res.headers['content-type']).toBe('application/problem+json');
      expect(body.code).toBe(code);
      expect(body.request_id).toBe(res.headers['x-request-id']);
      if (clientId === 'client-id-2') expect(body.request_id).toBe('client-id-2');
      else expect(body.request_id).toMatch(UUID);
      h.upstream.enqueue({ status: 500 });
    }
  });
});
