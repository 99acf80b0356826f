// The simulated Ntropy behaves like the real `GET /v3/batches` and answers scripts exactly.
import { describe, it, expect, beforeAll, afterAll, beforeEach, vi } from 'vitest';
import { startSimulatedNtropy } from '../src/demo/simulated-ntropy.js';
import type { SimulatedNtropy } from '../src/demo/simulated-ntropy.js';
import { batchPageSchema, type Batch } from '../src/batches/batch-page.js';

interface Page {
  next_cursor: string | null;
  data: Batch[];
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let sim: SimulatedNtropy;

beforeAll(async () => {
  sim = await startSimulatedNtropy();
});
afterAll(async () => {
  await sim.close();
});
beforeEach(() => {
  sim.reset();
});

async function getPage(base: string, query = ''): Promise<Page> {
  const res = await fetch(`${base}/v3/batches${query}`);
  expect(res.status).toBe(200);
  // Every page has the shape the OpenAPI document publishes (the batch page schema).
  return batchPageSchema.parse(await res.json()) as Page;
}

async function walkAll(base: string, query: string): Promise<Batch[]> {
  const all: Batch[] = [];
  let cursor: string | null = null;
  do {
    const suffix: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
    const page = await getPage(base, `?${query}${suffix}`);
    all.push(...page.data);
    cursor = page.next_cursor;
  } while (cursor !== null);
  return all;
}

function toMs(timestamp: string): number {
  return Date.parse(`${timestamp}Z`);
}

describe('simulated Ntropy — realistic GET /v3/batches', () => {
  it('walks all 137 seeded batches exactly once, most recent first', async () => {
    const all = await walkAll(sim.url, 'limit=7');
    expect(all).toHaveLength(137);
    expect(new Set(all.map((b) => b.id)).size).toBe(137);
    const created = all.map((b) => toMs(b.created_at));
    expect(created).toEqual([...created].sort((a, b) => b - a));
  });

  it('serves plausible batches: offsetless timestamps, progress within total, completed means done', async () => {
    const all = await walkAll(sim.url, 'limit=50');
    const earliestMs = Date.UTC(2026, 10, 1) - 91 * 86_400_000;
    for (const b of all) {
      expect(b.id).toMatch(UUID_RE);
      expect(b.created_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/);
      expect(toMs(b.updated_at)).toBeGreaterThanOrEqual(toMs(b.created_at));
      expect(toMs(b.created_at)).toBeGreaterThan(earliestMs);
      expect(b.progress).toBeLessThanOrEqual(b.total);
      expect(b.total).toBeGreaterThanOrEqual(1);
      if (b.status === 'completed') expect(b.progress).toBe(b.total);
    }
    expect(new Set(all.map((b) => b.status))).toEqual(new Set(['processing', 'completed', 'error']));
  });

  it('defaults to 10 per page with a next_cursor, and null on the last page', async () => {
    const first = await getPage(sim.url);
    expect(first.data).toHaveLength(10);
    expect(first.next_cursor).toEqual(expect.any(String));
    const pages = [await getPage(sim.url, '?limit=50')];
    for (let c = pages[0]?.next_cursor; c; c = pages.at(-1)?.next_cursor) {
      pages.push(await getPage(sim.url, `?limit=50&cursor=${c}`));
    }
    expect(pages.map((p) => p.data.length)).toEqual([50, 50, 37]);
    expect(pages.at(-1)?.next_cursor).toBeNull();
  });

  it('filters by status across every page', async () => {
    const all = await walkAll(sim.url, 'limit=50');
    const errors = await walkAll(sim.url, 'limit=5&status=error');
    expect(errors.length).toBeGreaterThan(0);
    expect(errors).toEqual(all.filter((b) => b.status === 'error'));
  });

  it('filters by created_after / created_before, offsetless taken as UTC', async () => {
    const all = await walkAll(sim.url, 'limit=50');
    const afterMs = Date.UTC(2026, 8, 1);
    const beforeMs = Date.UTC(2026, 9, 1);
    const expected = all.filter((b) => toMs(b.created_at) > afterMs && toMs(b.created_at) < beforeMs);
    const plain = await walkAll(
      sim.url,
      'limit=9&created_after=2026-09-01T00:00:00&created_before=2026-10-01',
    );
    const zoned = await walkAll(
      sim.url,
      `limit=50&created_after=${encodeURIComponent('2026-09-01T02:00:00+02:00')}&created_before=2026-10-01T00:00:00Z`,
    );
    expect(expected.length).toBeGreaterThan(0);
    expect(plain).toEqual(expected);
    expect(zoned).toEqual(expected);
  });

  it.each(['limit=0', 'limit=51', 'limit=abc', 'status=done', 'created_after=yesterday'])(
    'answers 422 with a FastAPI-style detail for %s',
    async (query) => {
      const res = await fetch(`${sim.url}/v3/batches?${query}`);
      const body = (await res.json()) as { detail: { loc: string[]; msg: string; type: string }[] };
      expect(res.status).toBe(422);
      expect(body.detail[0]?.loc).toEqual(['query', query.split('=')[0]]);
      expect(body.detail[0]?.msg).toEqual(expect.any(String));
    },
  );

  it('answers 400 "Invalid cursor" for a garbled cursor', async () => {
    const res = await fetch(`${sim.url}/v3/batches?cursor=bm9wZQ`);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ detail: 'Invalid cursor' });
  });

  it('answers 404 for other paths and 405 for other methods', async () => {
    const missing = await fetch(`${sim.url}/v3/transactions`);
    const wrongMethod = await fetch(`${sim.url}/v3/batches`, { method: 'POST' });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ detail: 'Not Found' });
    expect(wrongMethod.status).toBe(405);
  });

  it('gives every response its own X-Request-ID and a JSON content type', async () => {
    sim.enqueue({ status: 500 });
    const urls = ['/v3/batches', '/v3/batches', '/nope', '/v3/batches?limit=0', '/v3/batches?cursor=x'];
    const responses = await Promise.all(urls.map((u) => fetch(sim.url + u)));
    const ids = responses.map((r) => r.headers.get('x-request-id'));
    for (const r of responses) expect(r.headers.get('content-type')).toBe('application/json');
    for (const id of ids) expect(id).toMatch(UUID_RE);
    expect(new Set(ids).size).toBe(urls.length);
  });

  it('records every request with its method, path, query and headers', async () => {
    await fetch(`${sim.url}/v3/batches?limit=3&status=error`, {
      headers: { 'x-api-key': 'k1', 'x-extra': 'y' },
    });
    expect(sim.received).toHaveLength(1);
    const [req] = sim.received;
    expect(req?.method).toBe('GET');
    expect(req?.path).toBe('/v3/batches');
    expect(req?.url).toBe('/v3/batches?limit=3&status=error');
    expect(req?.query.get('status')).toBe('error');
    expect(req?.headers['x-api-key']).toBe('k1');
    expect(req?.headers['x-extra']).toBe('y');
    expect(req?.atMs).toEqual(expect.any(Number));
  });
});

describe('simulated Ntropy — seeds, keys and faults', () => {
  it('serves identical batches for the same seed and different ones for another', async () => {
    const [a, b, c] = await Promise.all([
      startSimulatedNtropy({ seed: 7 }),
      startSimulatedNtropy({ seed: 7 }),
      startSimulatedNtropy({ seed: 8 }),
    ]);
    const pages = await Promise.all([a, b, c].map((s) => getPage(s.url, '?limit=50')));
    await Promise.all([a, b, c].map((s) => s.close()));
    expect(pages[0]).toEqual(pages[1]);
    expect(pages[0]).not.toEqual(pages[2]);
  });

  it('seeds batches over the 90 days before the given now, the newest within the last day', async () => {
    const nowMs = Date.UTC(2031, 4, 17, 9, 30, 15, 750);
    const seeded = await startSimulatedNtropy({ nowMs });
    const all = await walkAll(seeded.url, 'limit=50');
    const lastWeek = await walkAll(seeded.url, `limit=50&created_after=${(nowMs - 7 * 86_400_000) / 1000}`);
    await seeded.close();
    expect(all).toHaveLength(137);
    for (const b of all) {
      expect(toMs(b.created_at)).toBeLessThanOrEqual(nowMs);
      expect(toMs(b.updated_at)).toBeLessThanOrEqual(nowMs);
      expect(toMs(b.created_at)).toBeGreaterThan(nowMs - 90 * 86_400_000);
    }
    expect(nowMs - toMs(all[0]?.created_at ?? '')).toBeLessThan(86_400_000);
    expect(lastWeek.length).toBeGreaterThan(0);
  });

  it('keeps the fixed default now, so tests see the same batches every day', async () => {
    const fixed = await startSimulatedNtropy({ nowMs: Date.UTC(2026, 10, 1) });
    const pages = await Promise.all([sim, fixed].map((s) => getPage(s.url, '?limit=50')));
    await fixed.close();
    expect(pages[0]).toEqual(pages[1]);
  });

  it('answers 401 "Invalid API key" unless X-API-KEY matches', async () => {
    const keyed = await startSimulatedNtropy({ apiKey: 'secret-key' });
    const missing = await fetch(`${keyed.url}/v3/batches`);
    const wrong = await fetch(`${keyed.url}/v3/batches`, { headers: { 'x-api-key': 'other' } });
    const right = await fetch(`${keyed.url}/v3/batches`, { headers: { 'x-api-key': 'secret-key' } });
    await keyed.close();
    expect(missing.status).toBe(401);
    expect(await missing.json()).toEqual({ detail: 'Invalid API key' });
    expect(wrong.status).toBe(401);
    expect(right.status).toBe(200);
  });

  it('injects 429s with Retry-After and 503s, reproducibly for a seed', async () => {
    const always429 = await startSimulatedNtropy({ fault429Rate: 1, retryAfterS: 2 });
    const limited = await fetch(`${always429.url}/v3/batches`);
    await always429.close();
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('2');
    expect(await limited.json()).toEqual({ detail: 'Rate limit exceeded' });

    const runs = await Promise.all(
      [1, 2].map(() => startSimulatedNtropy({ fault429Rate: 0.3, fault503Rate: 0.3 })),
    );
    const statuses: number[][] = [];
    for (const run of runs) {
      const seen: number[] = [];
      for (let i = 0; i < 20; i++) seen.push((await fetch(`${run.url}/v3/batches`)).status);
      statuses.push(seen);
      await run.close();
    }
    expect(statuses[0]).toEqual(statuses[1]);
    expect(new Set(statuses[0])).toEqual(new Set([200, 429, 503]));
  });
});

describe('simulated Ntropy — scripted responses', () => {
  it('answers scripted responses in FIFO order, then realistically again', async () => {
    sim.enqueue(
      { status: 503 },
      { status: 429, headers: { 'retry-after': '3' }, body: { detail: 'slow down' } },
      { body: '{"next_cursor": nul' },
    );
    const first = await fetch(`${sim.url}/v3/batches`);
    const second = await fetch(`${sim.url}/v3/batches`);
    const third = await fetch(`${sim.url}/v3/batches`);
    const fourth = await fetch(`${sim.url}/v3/batches`);
    expect(first.status).toBe(503);
    expect(await first.json()).toEqual({ detail: 'Service Unavailable' });
    expect(second.status).toBe(429);
    expect(second.headers.get('retry-after')).toBe('3');
    expect(await second.json()).toEqual({ detail: 'slow down' });
    expect(third.status).toBe(200);
    expect(await third.text()).toBe('{"next_cursor": nul');
    expect(fourth.status).toBe(200);
    expect(((await fourth.json()) as Page).data).toHaveLength(10);
  });

  it('uses a sticky default when the queue is empty, until it is cleared', async () => {
    sim.setDefault({ status: 502 });
    sim.enqueue({ status: 504 });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await fetch(`${sim.url}/v3/batches`)).status);
    sim.setDefault(undefined);
    statuses.push((await fetch(`${sim.url}/v3/batches`)).status);
    expect(statuses).toEqual([504, 502, 502, 200]);
  });

  it('pads a valid page to bodyBytes', async () => {
    sim.enqueue({ bodyBytes: 200_000 });
    const text = await (await fetch(`${sim.url}/v3/batches`)).text();
    expect(Buffer.byteLength(text)).toBeGreaterThanOrEqual(200_000);
    expect((JSON.parse(text) as Page).data.length).toBeGreaterThan(50);
  });

  it('waits delayMs before answering', async () => {
    sim.enqueue({ delayMs: 120 });
    const startMs = performance.now();
    const res = await fetch(`${sim.url}/v3/batches`);
    expect(res.status).toBe(200);
    expect(performance.now() - startMs).toBeGreaterThanOrEqual(100);
  });

  it('resets the connection without answering', async () => {
    sim.enqueue({ reset: true });
    await expect(fetch(`${sim.url}/v3/batches`)).rejects.toThrow(TypeError);
    expect((await fetch(`${sim.url}/v3/batches`)).status).toBe(200);
  });

  it('hangs until the client gives up, and close() still returns promptly', async () => {
    const hanging = await startSimulatedNtropy();
    hanging.setDefault({ hang: true });
    const startMs = performance.now();
    await expect(fetch(`${hanging.url}/v3/batches`, { signal: AbortSignal.timeout(200) })).rejects.toThrow();
    expect(performance.now() - startMs).toBeGreaterThanOrEqual(180);
    void fetch(`${hanging.url}/v3/batches`).catch(() => undefined);
    await vi.waitFor(() => expect(hanging.received).toHaveLength(2));
    const closeStartMs = performance.now();
    await hanging.close();
    // A hang lasts forever: any bound shows close() did not wait for it (a wide one, for a loaded machine).
    expect(performance.now() - closeStartMs).toBeLessThan(5000);
  });

  it('clears the queue, the default and received on reset()', async () => {
    sim.enqueue({ status: 500 });
    sim.setDefault({ status: 502 });
    await fetch(`${sim.url}/nope`);
    sim.reset();
    expect(sim.received).toHaveLength(0);
    expect((await fetch(`${sim.url}/v3/batches`)).status).toBe(200);
  });
});
