// SPEC "Running": loadConfig defaults, a check of every variable, messages naming variables, never secrets.
import { generateKeyPairSync, KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

const API_KEY = 'ntropy-config-test-key-5f3a9c';
const SECRET = 'config-test-secret-of-32-bytes-or-more';
const BASE_ENV = { NTROPY_API_KEY: API_KEY, JWT_SECRET: SECRET };

type Env = Record<string, string | undefined>;

function pemOf(key: KeyObject): string {
  return key.export({ type: 'spki', format: 'pem' }).toString();
}

function configError(env: Env): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('loadConfig accepted the environment');
}

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsaPem = pemOf(rsa.publicKey);

describe('loadConfig — defaults', () => {
  it('applies every SPEC default when only the required variables are set', () => {
    const config = loadConfig(BASE_ENV);
    expect(config).toMatchObject({
      port: 8080,
      host: '0.0.0.0',
      ntropyApiKey: API_KEY,
      ntropyBaseUrl: 'https://api.ntropy.com',
      jwt: {
        issuer: undefined,
        audience: undefined,
        requiredScope: undefined,
        clockToleranceS: 30,
        key: { kind: 'static', algorithm: 'HS256' },
      },
      cache: { ttlMs: 5000, maxEntries: 1000, maxBytes: 52_428_800, staleIfErrorMs: 300_000 },
      upstream: {
        timeoutMs: 10_000,
        maxRetries: 3,
        maxConcurrency: 32,
        quotaHoldMs: 300_000,
        quotaProbeIntervalMs: 30_000,
        proxy: undefined,
      },
      requestDeadlineMs: 15_000,
      userRateLimitPerMin: 300,
      corsOrigins: [],
      trustProxy: undefined,
      metricsPort: undefined,
      http: { headersTimeoutMs: 10_000, keepAliveTimeoutMs: 65_000 },
      shutdownGraceMs: 10_000,
      redis: undefined,
      auditLogFile: undefined,
      logLevel: 'info',
    });
  });

  it('defaults JWT_JWKS_COOLDOWN_MS to 30000 and JWT_JWKS_MAX_AGE_MS to 300000 with a JWKS URL', () => {
    const config = loadConfig({
      NTROPY_API_KEY: API_KEY,
      JWT_JWKS_URL: 'https://id.example.com/.well-known/jwks.json',
    });
    expect(config.jwt.key).toEqual({
      kind: 'jwks',
      url: 'https://id.example.com/.well-known/jwks.json',
      cooldownMs: 30_000,
      maxAgeMs: 300_000,
    });
  });

  it('defaults REDIS_KEY_PREFIX and REDIS_TIMEOUT_MS once REDIS_URL is set', () => {
    const config = loadConfig({ ...BASE_ENV, REDIS_URL: 'redis://127.0.0.1:6379' });
    expect(config.redis).toEqual({ url: 'redis://127.0.0.1:6379', keyPrefix: 'ntropy-bff:', timeoutMs: 250 });
  });
});

describe('loadConfig — accepted values', () => {
  it.each<[string, Env, (config: ReturnType<typeof loadConfig>) => unknown, unknown]>([
    ['PORT=0 (any free port)', { PORT: '0' }, (c) => c.port, 0],
    ['PORT=65535', { PORT: '65535' }, (c) => c.port, 65_535],
    ['HOST=127.0.0.1', { HOST: '127.0.0.1' }, (c) => c.host, '127.0.0.1'],
    [
      'NTROPY_BASE_URL with a trailing slash',
      { NTROPY_BASE_URL: 'https://api.ntropy.com/' },
      (c) => c.ntropyBaseUrl,
      'https://api.ntropy.com',
    ],
    [
      'NTROPY_BASE_URL on local http',
      { NTROPY_BASE_URL: 'http://127.0.0.1:9' },
      (c) => c.ntropyBaseUrl,
      'http://127.0.0.1:9',
    ],
    ['CACHE_TTL_MS=0 (caching off)', { CACHE_TTL_MS: '0' }, (c) => c.cache.ttlMs, 0],
    [
      'USER_RATE_LIMIT_PER_MIN=0 (limit off)',
      { USER_RATE_LIMIT_PER_MIN: '0' },
      (c) => c.userRateLimitPerMin,
      0,
    ],
    ['UPSTREAM_MAX_RETRIES=0', { UPSTREAM_MAX_RETRIES: '0' }, (c) => c.upstream.maxRetries, 0],
    ['JWT_CLOCK_TOLERANCE_S=0', { JWT_CLOCK_TOLERANCE_S: '0' }, (c) => c.jwt.clockToleranceS, 0],
    ['LOG_LEVEL=warn', { LOG_LEVEL: 'warn' }, (c) => c.logLevel, 'warn'],
    [
      'CORS_ORIGINS as a comma-separated list with spaces',
      { CORS_ORIGINS: 'https://a.example.com, http://localhost:5173' },
      (c) => c.corsOrigins,
      ['https://a.example.com', 'http://localhost:5173'],
    ],
    [
      'JWT_ISSUER, JWT_AUDIENCE and JWT_REQUIRED_SCOPE',
      {
        JWT_ISSUER: 'https://id.example.com/',
        JWT_AUDIENCE: 'ntropy-bff',
        JWT_REQUIRED_SCOPE: 'batches:read',
      },
      (c) => [c.jwt.issuer, c.jwt.audience, c.jwt.requiredScope],
      ['https://id.example.com/', 'ntropy-bff', 'batches:read'],
    ],
    ['CACHE_STALE_IF_ERROR_MS=0 (off)', { CACHE_STALE_IF_ERROR_MS: '0' }, (c) => c.cache.staleIfErrorMs, 0],
    ['UPSTREAM_MAX_CONCURRENCY=1', { UPSTREAM_MAX_CONCURRENCY: '1' }, (c) => c.upstream.maxConcurrency, 1],
    ['QUOTA_HOLD_MS=60000', { QUOTA_HOLD_MS: '60000' }, (c) => c.upstream.quotaHoldMs, 60_000],
    [
      'QUOTA_PROBE_INTERVAL_MS=5000',
      { QUOTA_PROBE_INTERVAL_MS: '5000' },
      (c) => c.upstream.quotaProbeIntervalMs,
      5000,
    ],
    [
      'JWT_JWKS_MAX_AGE_MS=60000 with a JWKS URL',
      { JWT_SECRET: undefined, JWT_JWKS_URL: 'https://id.example.com/jwks', JWT_JWKS_MAX_AGE_MS: '60000' },
      (c) => (c.jwt.key.kind === 'jwks' ? c.jwt.key.maxAgeMs : undefined),
      60_000,
    ],
    ['TRUST_PROXY as a hop count', { TRUST_PROXY: '1' }, (c) => c.trustProxy, 1],
    [
      'TRUST_PROXY as addresses, CIDRs and named ranges',
      { TRUST_PROXY: '10.0.0.0/8, 192.168.1.7,fd00::/8, loopback' },
      (c) => c.trustProxy,
      ['10.0.0.0/8', '192.168.1.7', 'fd00::/8', 'loopback'],
    ],
    ['TRUST_PROXY empty (unset)', { TRUST_PROXY: '' }, (c) => c.trustProxy, undefined],
    ['METRICS_PORT=9464', { METRICS_PORT: '9464' }, (c) => c.metricsPort, 9464],
    ['METRICS_PORT=0 (any free port)', { METRICS_PORT: '0' }, (c) => c.metricsPort, 0],
    ['METRICS_PORT empty (unset)', { METRICS_PORT: ' ' }, (c) => c.metricsPort, undefined],
    [
      'HTTPS_PROXY with credentials, and NO_PROXY',
      { HTTPS_PROXY: 'http://user:pw@proxy.internal:3128', NO_PROXY: 'localhost,.internal' },
      (c) => c.upstream.proxy,
      {
        httpsProxy: 'http://user:pw@proxy.internal:3128',
        httpProxy: undefined,
        noProxy: 'localhost,.internal',
      },
    ],
    [
      'https_proxy, lowercase, winning over HTTPS_PROXY as in undici and curl',
      { https_proxy: 'http://lower:3128', HTTPS_PROXY: 'http://upper:3128', http_proxy: 'http://plain:3128' },
      (c) => c.upstream.proxy,
      { httpsProxy: 'http://lower:3128', httpProxy: 'http://plain:3128', noProxy: undefined },
    ],
    [
      'HTTP_HEADERS_TIMEOUT_MS and HTTP_KEEP_ALIVE_TIMEOUT_MS',
      { HTTP_HEADERS_TIMEOUT_MS: '5000', HTTP_KEEP_ALIVE_TIMEOUT_MS: '75000' },
      (c) => c.http,
      { headersTimeoutMs: 5000, keepAliveTimeoutMs: 75_000 },
    ],
    [
      'REDIS_URL with TLS, a password, a prefix and a timeout',
      {
        REDIS_URL: 'rediss://:s3cret@redis.internal:6380/2',
        REDIS_KEY_PREFIX: 'bff-eu:',
        REDIS_TIMEOUT_MS: '100',
      },
      (c) => c.redis,
      { url: 'rediss://:s3cret@redis.internal:6380/2', keyPrefix: 'bff-eu:', timeoutMs: 100 },
    ],
    [
      'AUDIT_LOG_FILE',
      { AUDIT_LOG_FILE: '/var/log/ntropy-bff/audit.log' },
      (c) => c.auditLogFile,
      '/var/log/ntropy-bff/audit.log',
    ],
    [
      'NTROPY_API_KEY of every visible ASCII character',
      { NTROPY_API_KEY: '!~aZ09-_.{}' },
      (c) => c.ntropyApiKey,
      '!~aZ09-_.{}',
    ],
  ])('accepts %s', (_case, env, read, expected) => {
    expect(read(loadConfig({ ...BASE_ENV, ...env }))).toEqual(expected);
  });
});

const NUMERIC_VARIABLES = [
  'PORT',
  'JWT_CLOCK_TOLERANCE_S',
  'JWT_JWKS_COOLDOWN_MS',
  'CACHE_TTL_MS',
  'CACHE_MAX_ENTRIES',
  'CACHE_MAX_BYTES',
  'UPSTREAM_TIMEOUT_MS',
  'UPSTREAM_MAX_RETRIES',
  'REQUEST_DEADLINE_MS',
  'USER_RATE_LIMIT_PER_MIN',
  'SHUTDOWN_GRACE_MS',
  'JWT_JWKS_MAX_AGE_MS',
  'CACHE_STALE_IF_ERROR_MS',
  'QUOTA_HOLD_MS',
  'QUOTA_PROBE_INTERVAL_MS',
  'UPSTREAM_MAX_CONCURRENCY',
  'HTTP_HEADERS_TIMEOUT_MS',
  'HTTP_KEEP_ALIVE_TIMEOUT_MS',
  'REDIS_TIMEOUT_MS',
];
const NOT_WHOLE_NUMBERS = ['abc', '-1', '1.5', '', ' ', '10ms', '1e3', '0x10', '+5'];

describe('loadConfig — rejected values name their variable', () => {
  it.each(NUMERIC_VARIABLES.flatMap((name) => NOT_WHOLE_NUMBERS.map((value) => [name, value] as const)))(
    '%s=%j',
    (name, value) => {
      expect(configError({ ...BASE_ENV, [name]: value }).message).toContain(name);
    },
  );

  it.each<[string, string]>([
    ['PORT', '65536'],
    ['PORT', '99999'],
    ['HOST', ''],
    ['LOG_LEVEL', 'loud'],
    ['LOG_LEVEL', 'INFO '],
    ['NTROPY_BASE_URL', 'https://api.ntropy.com/v3'],
    ['NTROPY_BASE_URL', 'https://api.ntropy.com/?x=1'],
    ['NTROPY_BASE_URL', 'ftp://api.ntropy.com'],
    ['NTROPY_BASE_URL', 'api.ntropy.com'],
    ['NTROPY_BASE_URL', 'not a url'],
    ['CORS_ORIGINS', 'https://app.example.com/path'],
    ['CORS_ORIGINS', '*'],
    ['CORS_ORIGINS', 'https://app.example.com,*'],
    ['CORS_ORIGINS', 'app.example.com'],
    ['JWT_REQUIRED_SCOPE', 'batches read'],
    ['JWT_REQUIRED_SCOPE', 'batches"read'],
    ['UPSTREAM_MAX_CONCURRENCY', '0'],
    ['QUOTA_PROBE_INTERVAL_MS', '0'],
    ['HTTP_HEADERS_TIMEOUT_MS', '0'],
    ['METRICS_PORT', '65536'],
    ['METRICS_PORT', 'x'],
    ['METRICS_PORT', '8080'],
    ['TRUST_PROXY', 'true'],
    ['TRUST_PROXY', '-1'],
    ['TRUST_PROXY', '10.0.0.0/33'],
    ['TRUST_PROXY', 'proxy.internal'],
    ['TRUST_PROXY', '10.0.0.1,,'],
    ['HTTPS_PROXY', 'proxy.internal:3128'],
    ['HTTPS_PROXY', 'socks5://proxy.internal:1080'],
    ['HTTP_PROXY', 'not a url'],
    ['REDIS_URL', 'http://redis.internal:6379'],
    ['REDIS_URL', 'redis.internal:6379'],
    ['REDIS_KEY_PREFIX', ''],
    ['REDIS_KEY_PREFIX', 'has space'],
  ])('%s=%j', (name, value) => {
    expect(configError({ ...BASE_ENV, [name]: value }).message).toContain(name);
  });

  it.each<[string, Env]>([
    ['missing', { NTROPY_API_KEY: undefined }],
    ['empty', { NTROPY_API_KEY: '' }],
    ['with DEL (0x7f)', { NTROPY_API_KEY: 'key-\x7f' }],
    ['with a space', { NTROPY_API_KEY: 'key with space' }],
    ['with a tab', { NTROPY_API_KEY: 'key\tx' }],
    ['with a line break', { NTROPY_API_KEY: 'key\r\nX-Evil: 1' }],
    ['non-ASCII', { NTROPY_API_KEY: 'clé-secrète' }],
  ])('NTROPY_API_KEY %s', (_case, env) => {
    expect(configError({ ...BASE_ENV, ...env }).message).toContain('NTROPY_API_KEY');
  });

  it('JWT_JWKS_URL that is not an http(s) URL', () => {
    const error = configError({ NTROPY_API_KEY: API_KEY, JWT_JWKS_URL: 'ftp://id.example.com/jwks.json' });
    expect(error.message).toContain('JWT_JWKS_URL');
  });
});

describe('loadConfig — JWT_SECRET is counted in UTF-8 bytes', () => {
  it.each<[string, string, boolean]>([
    ['31 ASCII bytes', 'x'.repeat(31), false],
    ['32 ASCII bytes', 'x'.repeat(32), true],
    ['10 × € (10 characters, 30 bytes)', '€'.repeat(10), false],
    ['11 × € (11 characters, 33 bytes)', '€'.repeat(11), true],
  ])('%s → accepted: %s', (_case, secret, isAccepted) => {
    const env = { NTROPY_API_KEY: API_KEY, JWT_SECRET: secret };
    if (!isAccepted) {
      const error = configError(env);
      expect(error.message).toContain('JWT_SECRET');
      expect(error.message).not.toContain(secret);
      return;
    }
    const { key } = loadConfig(env).jwt;
    expect(key.kind === 'static' && key.algorithm).toBe('HS256');
    // The secret's own UTF-8 bytes are the HMAC key, as given.
    expect(key.kind === 'static' && key.key.export()).toEqual(Buffer.from(secret, 'utf8'));
  });
});

describe('loadConfig — exactly one of JWT_SECRET, JWT_PUBLIC_KEY, JWT_JWKS_URL', () => {
  const JWKS = 'https://id.example.com/jwks.json';

  it.each<[string, Env, string[]]>([
    ['none of them', {}, ['JWT_SECRET', 'JWT_PUBLIC_KEY', 'JWT_JWKS_URL']],
    [
      'JWT_SECRET and JWT_PUBLIC_KEY',
      { JWT_SECRET: SECRET, JWT_PUBLIC_KEY: rsaPem },
      ['JWT_SECRET', 'JWT_PUBLIC_KEY'],
    ],
    [
      'JWT_SECRET and JWT_JWKS_URL',
      { JWT_SECRET: SECRET, JWT_JWKS_URL: JWKS },
      ['JWT_SECRET', 'JWT_JWKS_URL'],
    ],
    [
      'JWT_PUBLIC_KEY and JWT_JWKS_URL',
      { JWT_PUBLIC_KEY: rsaPem, JWT_JWKS_URL: JWKS },
      ['JWT_PUBLIC_KEY', 'JWT_JWKS_URL'],
    ],
    [
      'all three',
      { JWT_SECRET: SECRET, JWT_PUBLIC_KEY: rsaPem, JWT_JWKS_URL: JWKS },
      ['JWT_SECRET', 'JWT_PUBLIC_KEY', 'JWT_JWKS_URL'],
    ],
  ])('rejects %s, naming the variables and echoing no value', (_case, env, names) => {
    const error = configError({ NTROPY_API_KEY: API_KEY, ...env });
    for (const name of names) expect(error.message).toContain(name);
    expect(error.message).not.toContain(SECRET);
    expect(error.message).not.toContain('BEGIN PUBLIC KEY');
    expect(error.message).not.toContain(API_KEY);
  });
});

describe('loadConfig — JWT_PUBLIC_KEY fixes the one algorithm', () => {
  const PSS_OPTIONS = {
    modulusLength: 2048,
    hashAlgorithm: 'sha256',
    mgf1HashAlgorithm: 'sha256',
    // @types/node 20 declares saltLength a string; Node wants the number of bytes.
    saltLength: 32 as unknown as string,
  };
  const pss = generateKeyPairSync('rsa-pss', PSS_OPTIONS);

  it.each<[string, () => KeyObject, string]>([
    ['RSA', () => rsa.publicKey, 'RS256'],
    ['RSA-PSS', () => pss.publicKey, 'PS256'],
    ['EC P-256', () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey, 'ES256'],
    ['EC P-384', () => generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey, 'ES384'],
    ['EC P-521', () => generateKeyPairSync('ec', { namedCurve: 'P-521' }).publicKey, 'ES512'],
    ['Ed25519', () => generateKeyPairSync('ed25519').publicKey, 'EdDSA'],
  ])('%s → %s', (_case, makeKey, algorithm) => {
    const { key } = loadConfig({ NTROPY_API_KEY: API_KEY, JWT_PUBLIC_KEY: pemOf(makeKey()) }).jwt;
    expect(key.kind === 'static' && key.algorithm).toBe(algorithm);
  });

  it('reads a PEM written on one line with literal \\n escapes', () => {
    const escaped = rsaPem.trim().replaceAll('\n', '\\n');
    const { key } = loadConfig({ NTROPY_API_KEY: API_KEY, JWT_PUBLIC_KEY: escaped }).jwt;
    expect(key.kind === 'static' && key.algorithm).toBe('RS256');
  });

  it.each<[string, () => string]>([
    ['plain text', () => 'not a pem at all'],
    ['a truncated PEM', () => rsaPem.slice(0, 120)],
    [
      'a PEM private key (a verifier must never hold one)',
      () => rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    ],
    ['an X25519 public key', () => pemOf(generateKeyPairSync('x25519').publicKey)],
    ['an X448 public key', () => pemOf(generateKeyPairSync('x448').publicKey)],
    ['an Ed448 public key', () => pemOf(generateKeyPairSync('ed448').publicKey)],
    [
      'a DSA public key',
      () => pemOf(generateKeyPairSync('dsa', { modulusLength: 1024, divisorLength: 160 }).publicKey),
    ],
    [
      'an EC secp256k1 public key',
      () => pemOf(generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey),
    ],
  ])('rejects %s, naming JWT_PUBLIC_KEY and not echoing the PEM', (_case, makePem) => {
    const pem = makePem();
    const error = configError({ NTROPY_API_KEY: API_KEY, JWT_PUBLIC_KEY: pem });
    expect(error.message).toContain('JWT_PUBLIC_KEY');
    expect(error.message).not.toContain(pem.trim());
    expect(error.message).not.toContain('-----BEGIN');
    for (const line of pem.split('\n').filter((text) => text.length > 20))
      expect(error.message).not.toContain(line);
  });

  it.each<[string, () => KeyObject]>([
    ['an RSA key of 1024 bits', () => generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey],
    ['an RSA key of 2047 bits', () => generateKeyPairSync('rsa', { modulusLength: 2047 }).publicKey],
    [
      'an RSA-PSS key of 1024 bits',
      () => generateKeyPairSync('rsa-pss', { ...PSS_OPTIONS, modulusLength: 1024 }).publicKey,
    ],
  ])('rejects %s (RSA keys need 2048 bits), naming JWT_PUBLIC_KEY', (_case, makeKey) => {
    const error = configError({ NTROPY_API_KEY: API_KEY, JWT_PUBLIC_KEY: pemOf(makeKey()) });
    expect(error.message).toContain('JWT_PUBLIC_KEY');
    expect(error.message).toContain('2048');
    expect(error.message).not.toContain('-----BEGIN');
  });
});

describe('loadConfig — one error for many problems', () => {
  it('throws one ConfigError whose message names every offending variable', () => {
    const error = configError({
      PORT: '65536',
      HOST: '',
      CACHE_TTL_MS: 'abc',
      UPSTREAM_MAX_RETRIES: '-1',
      LOG_LEVEL: 'loud',
      NTROPY_BASE_URL: 'ftp://api.ntropy.com',
      CORS_ORIGINS: '*',
      JWT_SECRET: 'x'.repeat(31),
    });
    expect(error).toBeInstanceOf(ConfigError);
    for (const name of [
      'PORT',
      'HOST',
      'CACHE_TTL_MS',
      'UPSTREAM_MAX_RETRIES',
      'LOG_LEVEL',
      'NTROPY_BASE_URL',
      'CORS_ORIGINS',
      'JWT_SECRET',
      'NTROPY_API_KEY',
    ]) {
      expect(error.message).toContain(name);
    }
  });

  it('names a bad JWT_PUBLIC_KEY alongside the other bad variables', () => {
    const error = configError({
      NTROPY_API_KEY: API_KEY,
      JWT_PUBLIC_KEY: 'nope',
      PORT: 'x',
      LOG_LEVEL: 'loud',
    });
    for (const name of ['JWT_PUBLIC_KEY', 'PORT', 'LOG_LEVEL']) expect(error.message).toContain(name);
  });

  it('never echoes a REDIS_URL or proxy password when another variable is bad', () => {
    const { message } = configError({
      ...BASE_ENV,
      REDIS_URL: 'redis://:redis-password-hidden@r:6379',
      HTTPS_PROXY: 'http://u:proxy-password-hidden@p:3128',
      PORT: 'x',
    });
    expect(message).toContain('PORT');
    expect(message).not.toContain('redis-password-hidden');
    expect(message).not.toContain('proxy-password-hidden');
  });

  it('never echoes the secret values: JWT_SECRET, NTROPY_API_KEY, the PEM', () => {
    const apiKey = 'ntropy-key-that-must-stay-hidden\nsecond-line';
    const shortSecret = 'short-secret-value-hidden';
    const secretCases: Env[] = [
      { NTROPY_API_KEY: apiKey, JWT_SECRET: shortSecret, PORT: 'x' },
      { NTROPY_API_KEY: API_KEY, JWT_SECRET: SECRET, JWT_PUBLIC_KEY: rsaPem, CACHE_TTL_MS: '-5' },
      {
        NTROPY_API_KEY: API_KEY,
        JWT_PUBLIC_KEY: pemOf(generateKeyPairSync('x25519').publicKey),
        LOG_LEVEL: 'loud',
      },
    ];
    for (const env of secretCases) {
      const { message } = configError(env);
      for (const value of Object.values(env)) {
        if (value === undefined || value.length < 8) continue;
        expect(message).not.toContain(value);
        for (const line of value.split('\n').filter((text) => text.length >= 8))
          expect(message).not.toContain(line);
      }
    }
  });
});

describe('loadConfig — the result', () => {
  it('is frozen, nested groups included', () => {
    const config = loadConfig({ ...BASE_ENV, CORS_ORIGINS: 'https://a.example.com' });
    const unfrozen: string[] = [];
    const visit = (value: unknown, path: string) => {
      // A KeyObject is Node's own immutable handle, not configuration data.
      if (typeof value !== 'object' || value === null || value instanceof KeyObject) return;
      if (!Object.isFrozen(value)) unfrozen.push(path);
      for (const [name, child] of Object.entries(value)) visit(child, `${path}.${name}`);
    };
    visit(config, 'config');
    expect(unfrozen).toEqual([]);
    expect(() => {
      (config as { port: number }).port = 1;
    }).toThrow(TypeError);
  });
});
