// SPEC variables, METRICS_PORT: /metrics served only on its own port (same HOST), and 404 on the main port.
import { get } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../src/server.js';
import { listenHarness, startHarness, type Harness } from './helpers/harness.js';
import { bearer } from './helpers/tokens.js';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function fetchFrom(base: string, path: string, method = 'GET', headers: Record<string, string> = {}) {
  return new Promise<Answer>((resolve, reject) => {
    const url = new URL(path, base);
    const req = get(url, { method, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
  });
}

describe('METRICS_PORT set (0 = any free port)', () => {
  let h: Harness;
  let running: RunningServer;
  let metricsUrl: string;
  beforeAll(async () => {
    h = await startHarness({ env: { METRICS_PORT: '0' } });
    running = await listenHarness(h);
    metricsUrl = running.metricsUrl!;
  });
  afterAll(async () => {
    await running.shutdown(0);
    await h.close();
  });

  it('serves /metrics on its own port, on the same host, and logs that port in the listening line', async () => {
    const res = await fetchFrom(metricsUrl, '/metrics');

    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(res.body).toContain('# TYPE ntropy_bff_http_requests_total counter');
    expect(new URL(metricsUrl).hostname).toBe('127.0.0.1');
    expect(new URL(metricsUrl).port).not.toBe(new URL(running.url).port);
    const listening = h.logs.records().find((line) => line.msg === 'listening');
    expect(listening?.metrics_port).toBe(Number(new URL(metricsUrl).port));
  });

  it('answers on the metrics port with the same security headers, Cache-Control and X-Request-ID as the main port', async () => {
    const SHARED = [
      'cache-control',
      'content-security-policy',
      'cross-origin-resource-policy',
      'referrer-policy',
      'strict-transport-security',
      'x-content-type-options',
      'x-frame-options',
    ];
    const main = await fetchFrom(running.url, '/healthz');
    for (const res of [await fetchFrom(metricsUrl, '/metrics'), await fetchFrom(metricsUrl, '/nothing')]) {
      for (const name of SHARED) expect([name, res.headers[name]]).toEqual([name, main.headers[name]]);
      expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    }
    expect(main.headers['content-security-policy']).toBe("default-src 'none';frame-ancestors 'none'");
  });

  it('answers /metrics on the main port 404 not_found, counted as unmatched', async () => {
    const res = await fetchFrom(running.url, '/metrics');

    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(JSON.parse(res.body)).toMatchObject({ status: 404, code: 'not_found' });
    const text = (await fetchFrom(metricsUrl, '/metrics')).body;
    expect(text).toMatch(
      /^ntropy_bff_http_requests_total\{[^}]*route="unmatched"[^}]*status="404"[^}]*\} \d+$/m,
    );
    expect(text).not.toMatch(/route="\/metrics"[^}]*status="404"/);
  });

  it('serves nothing else on the metrics port: the API is 404 there, without an audit line', async () => {
    const auditedBefore = h.logs.auditLines().length;
    const batches = await fetchFrom(metricsUrl, '/v3/batches', 'GET', { Authorization: bearer() });
    const health = await fetchFrom(metricsUrl, '/healthz');
    const post = await fetchFrom(metricsUrl, '/metrics', 'POST');

    expect(batches.status).toBe(404);
    expect(JSON.parse(batches.body)).toMatchObject({ code: 'not_found' });
    expect(health.status).toBe(404);
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    expect(h.upstream.received).toHaveLength(0);
    expect(h.logs.auditLines()).toHaveLength(auditedBefore);
  });

  it('the main port keeps serving the API', async () => {
    const res = await fetchFrom(running.url, '/v3/batches?limit=2', 'GET', { Authorization: bearer() });
    expect(res.status).toBe(200);
  });
});

describe('METRICS_PORT taken', () => {
  it('fails to listen with an error naming METRICS_PORT, and leaves the main port closed', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as AddressInfo;
    const h = await startHarness({ env: { METRICS_PORT: String(port) } });
    try {
      await expect(listenHarness(h)).rejects.toThrow(
        /^METRICS_PORT: cannot listen on 127\.0\.0\.1:\d+ \(EADDRINUSE\)$/,
      );
      const listening = h.logs.records().filter((line) => line.msg === 'listening');
      expect(listening).toEqual([]);
    } finally {
      await h.close();
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });
});
