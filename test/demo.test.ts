// SPEC "Running": `npm run demo` honours the proxy's variables, says what it overrides and whether faults are on.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../src/config.js';
import { describeFaults } from '../src/demo/demo-banner.js';
import { buildDemoEnv, readDemoSettings } from '../src/demo/demo-env.js';
import { startDemo, type Demo } from '../src/demo/start-demo.js';
import { createLogCapture } from './helpers/log-capture.js';

const FACTS = {
  apiKey: 'demo-key',
  upstreamUrl: 'http://127.0.0.1:9999',
  secret: 'demo-secret',
  pageOrigins: ['http://127.0.0.1:8081', 'http://localhost:8081'],
};

describe('demo — the environment it builds from the proxy variables', () => {
  it.each([
    ['nothing set', {}, { HOST: '127.0.0.1', PORT: '8080', CORS_ORIGINS: FACTS.pageOrigins.join(',') }, []],
    [
      'HOST, PORT and CORS_ORIGINS set',
      { HOST: '0.0.0.0', PORT: '9000', CORS_ORIGINS: 'https://app.example.com, http://localhost:8081' },
      {
        HOST: '0.0.0.0',
        PORT: '9000',
        CORS_ORIGINS: 'https://app.example.com,http://localhost:8081,http://127.0.0.1:8081',
      },
      [],
    ],
    [
      'the upstream and key variables set',
      { NTROPY_API_KEY: 'real', NTROPY_BASE_URL: 'https://api.ntropy.com', JWT_JWKS_URL: 'https://idp/jwks' },
      { NTROPY_API_KEY: 'demo-key', NTROPY_BASE_URL: FACTS.upstreamUrl, JWT_SECRET: 'demo-secret' },
      ['NTROPY_API_KEY', 'NTROPY_BASE_URL', 'JWT_JWKS_URL'],
    ],
    [
      'empty values, as a copied .env.example has',
      { NTROPY_API_KEY: '', JWT_PUBLIC_KEY: '', HOST: '', PORT: ' ' },
      { HOST: '127.0.0.1', PORT: '8080', JWT_PUBLIC_KEY: undefined },
      [],
    ],
    [
      'any other proxy variable',
      { CACHE_TTL_MS: '0', USER_RATE_LIMIT_PER_MIN: '5', LOG_LEVEL: 'warn' },
      { CACHE_TTL_MS: '0', USER_RATE_LIMIT_PER_MIN: '5', LOG_LEVEL: 'warn' },
      [],
    ],
  ])('with %s', (_label, userEnv: Record<string, string>, expected, ignored) => {
    const built = buildDemoEnv(userEnv, FACTS);
    expect(built.env).toMatchObject(expected);
    expect(built.env.JWT_JWKS_URL).toBeUndefined();
    expect(built.ignored).toEqual(ignored);
  });

  it.each([
    [{}, { DEMO_FAULT_429_RATE: 0, DEMO_FAULT_503_RATE: 0, DEMO_LATENCY_MS: 20, DEMO_WEB_PORT: undefined }],
    [
      { DEMO_FAULT_429_RATE: '0.3', DEMO_FAULT_503_RATE: '1', DEMO_LATENCY_MS: '0', DEMO_WEB_PORT: '0' },
      { DEMO_FAULT_429_RATE: 0.3, DEMO_FAULT_503_RATE: 1, DEMO_LATENCY_MS: 0, DEMO_WEB_PORT: 0 },
    ],
  ])('reads the DEMO_* variables %j', (env, settings) => {
    expect(readDemoSettings(env)).toEqual(settings);
  });

  it.each([
    ['DEMO_FAULT_429_RATE', '1.5', 'must be a number from 0 to 1'],
    ['DEMO_FAULT_503_RATE', 'often', 'must be a number from 0 to 1'],
    ['DEMO_LATENCY_MS', '-5', 'must be whole milliseconds, 0–60000'],
    ['DEMO_WEB_PORT', '70000', 'must be a port, 0–65535'],
  ])('refuses %s=%s, naming the variable and not the value', (name, value, reason) => {
    expect(() => readDemoSettings({ [name]: value })).toThrow(`${name} ${reason}`);
    expect(() => readDemoSettings({ [name]: value })).not.toThrow(value);
  });

  it.each([
    [0, 0, 'Fault injection: off'],
    [0.3, 0, 'Fault injection: ON, 30% of upstream calls answer 429 (Retry-After 1 s) and 0% answer 503'],
    [0, 0.125, 'Fault injection: ON, 0% of upstream calls answer 429 (Retry-After 1 s) and 12.5% answer 503'],
  ])('describes 429 rate %d and 503 rate %d as %j', (rate429, rate503, text) => {
    expect(describeFaults(rate429, rate503)).toBe(text);
  });
});

describe('demo — started from an environment', () => {
  const NOW_MS = Date.UTC(2031, 0, 10, 8, 0, 0);
  let demo: Demo;
  beforeAll(async () => {
    demo = await startDemo({
      env: {
        PORT: '0',
        DEMO_WEB_PORT: '0',
        DEMO_LATENCY_MS: '0',
        DEMO_FAULT_429_RATE: '0.25',
        CORS_ORIGINS: 'https://app.example.com',
        JWT_REQUIRED_SCOPE: 'batches:read',
        JWT_JWKS_URL: 'https://idp.example.com/jwks',
        USER_RATE_LIMIT_PER_MIN: '1000',
      },
      nowMs: NOW_MS,
      logDestination: createLogCapture().stream,
    });
  });
  afterAll(() => demo.close());

  it("honours the proxy's variables and adds the page's origin to CORS_ORIGINS", () => {
    expect(demo.config.corsOrigins).toEqual([
      'https://app.example.com',
      demo.web.origin,
      `http://localhost:${new URL(demo.web.origin).port}`,
    ]);
    expect(demo.config.jwt.requiredScope).toBe('batches:read');
    expect(demo.config.userRateLimitPerMin).toBe(1000);
    expect(demo.config.host).toBe('127.0.0.1');
  });

  it('says in its banner what it set, what of yours it ignored, and that faults are on', () => {
    expect(demo.banner).toContain('Fault injection: ON, 25% of upstream calls answer 429');
    expect(demo.banner).toContain('the demo sets NTROPY_API_KEY, NTROPY_BASE_URL, JWT_SECRET');
    expect(demo.banner).toContain('yours are not used: JWT_JWKS_URL');
    expect(demo.banner).toContain(demo.pageUrl);
    expect(demo.banner).toContain('npm run -s token -- --sub alice --scope batches:read');
    expect(demo.banner).toContain(`${demo.proxyUrl}/openapi.json`);
  });

  it('answers the page origin preflight with CORS headers, and a token with the required scope', async () => {
    const preflight = await fetch(`${demo.proxyUrl}/v3/batches`, {
      method: 'OPTIONS',
      headers: {
        Origin: demo.web.origin,
        'Access-Control-Request-Method': 'GET',
        'Access-Control-Request-Headers': 'authorization',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(demo.web.origin);
    // Fault injection is on: a 429 with Retry-After is retried, so the page still comes.
    const res = await fetch(`${demo.proxyUrl}/v3/batches?limit=50`, {
      headers: {
        Authorization: `Bearer ${new URLSearchParams(new URL(demo.pageUrl).hash.slice(1)).get('token')}`,
      },
    });
    expect(res.status).toBe(200);
    const page = (await res.json()) as { data: { created_at: string }[] };
    const newestMs = Date.parse(`${page.data[0]?.created_at}Z`);
    expect(NOW_MS - newestMs).toBeLessThan(86_400_000);
    expect(NOW_MS - newestMs).toBeGreaterThanOrEqual(0);
  });

  it('serves the page and its script from the web origin, with a strict CSP', async () => {
    const html = await fetch(`${demo.web.origin}/`);
    expect(html.status).toBe(200);
    expect(html.headers.get('content-type')).toMatch(/^text\/html/);
    expect(html.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await html.text()).toContain('<script type="module" src="app.js"></script>');
    const script = await fetch(`${demo.web.origin}/app.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toMatch(/javascript/);
  });

  it('stops with the ConfigError naming a bad proxy variable', async () => {
    const failure = await startDemo({ env: { PORT: '0', DEMO_WEB_PORT: '0', CACHE_TTL_MS: 'soon' } }).catch(
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(ConfigError);
    expect((failure as ConfigError).message).toMatch(/CACHE_TTL_MS/);
    expect((failure as ConfigError).message).not.toContain('soon');
  });
});

describe('demo — AUDIT_LOG_FILE, honoured as the proxy honours it', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ntropy-bff-demo-audit-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('appends the audit lines to the file, and keeps the other lines where they were', async () => {
    const file = join(dir, 'audit.log');
    writeFileSync(file, '{"earlier":true}\n');
    const logs = createLogCapture();
    const demo = await startDemo({
      env: { PORT: '0', DEMO_WEB_PORT: '0', DEMO_LATENCY_MS: '0', AUDIT_LOG_FILE: file },
      logDestination: logs.stream,
    });
    try {
      const res = await fetch(`${demo.proxyUrl}/v3/batches?limit=2`, {
        headers: { Authorization: `Bearer ${demo.token}`, 'X-Request-ID': 'demo-audited' },
      });
      expect(res.status).toBe(200);
      expect(demo.banner).not.toContain('AUDIT_LOG_FILE');
    } finally {
      await demo.close();
    }
    const lines = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toEqual([
      { earlier: true },
      expect.objectContaining({ audit: true, request_id: 'demo-audited', status: 200 }),
    ]);
    expect(logs.auditLines()).toEqual([]);
    expect(logs.records().map((line) => line.msg)).toContain('listening');
  });

  it('that cannot be opened stops the demo with the ConfigError naming AUDIT_LOG_FILE, not its path', async () => {
    const failure = await startDemo({
      env: { PORT: '0', DEMO_WEB_PORT: '0', AUDIT_LOG_FILE: join(dir, 'no-such-directory', 'audit.log') },
      logDestination: createLogCapture().stream,
    }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ConfigError);
    expect((failure as ConfigError).message).toMatch(
      /AUDIT_LOG_FILE: cannot be opened for appending \(ENOENT\)/,
    );
    expect((failure as ConfigError).message).not.toContain('no-such-directory');
  });
});

// The built entry (node dist/demo/demo.js) is tested in demo-entry.test.ts.
