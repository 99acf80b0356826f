// SPEC variables HTTPS_PROXY / HTTP_PROXY / NO_PROXY: the upstream calls go through an outbound proxy, read as usual.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { startForwardProxy, type ForwardProxy } from './helpers/forward-proxy.js';
import { API_KEY, startHarness, type Harness } from './helpers/harness.js';
import { closedPortUrl, freePort } from './helpers/problem.js';
import { bearer } from './helpers/tokens.js';

describe('GET /v3/batches — outbound proxy', () => {
  let proxy: ForwardProxy;
  const harnesses: Harness[] = [];
  beforeAll(async () => {
    proxy = await startForwardProxy();
  });
  afterEach(async () => {
    vi.unstubAllEnvs();
    proxy.seen.length = 0;
    await Promise.all(harnesses.splice(0).map((h) => h.close()));
  });
  afterAll(() => proxy.close());

  async function harnessWith(env: (upstreamPort: string) => Record<string, string>): Promise<Harness> {
    // The upstream's port is chosen first: the NO_PROXY tests name it.
    const port = await freePort();
    const h = await startHarness({ env: env(String(port)), upstream: { port } });
    harnesses.push(h);
    return h;
  }

  it('sends an http:// upstream call through HTTP_PROXY (a CONNECT tunnel), and the key arrives upstream', async () => {
    const h = await harnessWith(() => ({ HTTP_PROXY: proxy.url }));
    const res = await h.request.get('/v3/batches').set('Authorization', bearer());
    expect(res.status).toBe(200);
    expect(proxy.seen).toEqual([
      expect.objectContaining({ method: 'CONNECT', target: new URL(h.upstream.url).host }),
    ]);
    expect(h.upstream.received).toHaveLength(1);
    expect(h.upstream.received[0]!.headers['x-api-key']).toBe(API_KEY);
  });

  it.each([
    ['the host', () => '127.0.0.1'],
    ['the host and port, among others', (port: string) => `internal.example, 127.0.0.1:${port}`],
    ['*', () => '*'],
  ])('goes direct when NO_PROXY names %s', async (_what, noProxy) => {
    const h = await harnessWith((port) => ({ HTTP_PROXY: proxy.url, NO_PROXY: noProxy(port) }));
    expect((await h.request.get('/v3/batches').set('Authorization', bearer())).status).toBe(200);
    expect(proxy.seen).toEqual([]);
    expect(h.upstream.received).toHaveLength(1);
  });

  it('still uses the proxy when NO_PROXY names another port of the host', async () => {
    const h = await harnessWith((port) => ({
      HTTP_PROXY: proxy.url,
      NO_PROXY: `127.0.0.1:${Number(port) + 1}`,
    }));
    expect((await h.request.get('/v3/batches').set('Authorization', bearer())).status).toBe(200);
    expect(proxy.seen).toHaveLength(1);
  });

  it('uses HTTPS_PROXY only for https:// upstreams: an http:// upstream goes direct', async () => {
    const h = await harnessWith(() => ({ HTTPS_PROXY: proxy.url }));
    expect((await h.request.get('/v3/batches').set('Authorization', bearer())).status).toBe(200);
    expect(proxy.seen).toEqual([]);
  });

  it('reads the proxy settings from its configuration only, never from process.env behind it', async () => {
    vi.stubEnv('no_proxy', '*');
    vi.stubEnv('NO_PROXY', '*');
    const h = await harnessWith(() => ({ HTTP_PROXY: proxy.url }));
    expect((await h.request.get('/v3/batches').set('Authorization', bearer())).status).toBe(200);
    expect(proxy.seen).toHaveLength(1);
  });

  it('sends credentials in the proxy URL as Proxy-Authorization, and never logs them', async () => {
    const h = await harnessWith(() => ({ HTTP_PROXY: proxy.url.replace('//', '//proxy-user:proxy-pa55@') }));
    expect((await h.request.get('/v3/batches').set('Authorization', bearer())).status).toBe(200);
    expect(proxy.seen[0]!.proxyAuthorization).toBe(
      `Basic ${Buffer.from('proxy-user:proxy-pa55').toString('base64')}`,
    );
    expect(h.logs.text()).not.toContain('proxy-pa55');
  });

  it('keeps the 5 MB body cap through the proxy: a larger page is 502 upstream_error', async () => {
    const h = await harnessWith(() => ({ HTTP_PROXY: proxy.url, UPSTREAM_MAX_RETRIES: '0' }));
    h.upstream.enqueue({ bodyBytes: 5_100_000 });
    const res = await h.request.get('/v3/batches').set('Authorization', bearer());
    expect(res.status).toBe(502);
    expect(res.body).toMatchObject({ code: 'upstream_error' });
    expect(proxy.seen).toHaveLength(1);
  });

  it('answers 502 upstream_unavailable when the proxy cannot be reached', async () => {
    const closed = await closedPortUrl();
    const h = await harnessWith(() => ({ HTTP_PROXY: closed, UPSTREAM_MAX_RETRIES: '0' }));
    const res = await h.request.get('/v3/batches').set('Authorization', bearer());
    expect(res.status).toBe(502);
    expect(res.body).toMatchObject({ code: 'upstream_unavailable' });
    expect(h.upstream.received).toHaveLength(0);
  });
});
