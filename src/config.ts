// Environment -> one frozen, typed Config; names every bad variable and never echoes a value (SPEC "Running").
import { z } from 'zod';
import {
  httpUrl,
  integer,
  optionalInteger,
  optionalText,
  originList,
  proxyUrl,
  redisUrl,
  trustProxy,
} from './config-fields.js';
import { parseJwtKey, type JwtKey } from './config-jwt.js';

export type { JwtKey } from './config-jwt.js';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const envSchema = z.object({
  PORT: integer(8080, 0, 65535),
  HOST: z.string().min(1, 'must not be empty').default('0.0.0.0'),
  NTROPY_API_KEY: z
    .string({ error: 'is required' })
    .min(1, 'is required')
    // It goes out as a header value: anything else would fail every upstream call, not startup.
    .refine((value) => /^[\x21-\x7E]*$/.test(value), 'must be visible ASCII only (0x21-0x7E)'),
  NTROPY_BASE_URL: httpUrl('must be an http(s) origin such as https://api.ntropy.com')
    .default('https://api.ntropy.com')
    .refine((value) => {
      // zod runs this refinement even when the one above failed.
      if (!URL.canParse(value)) return true;
      const url = new URL(value);
      return url.pathname === '/' && url.search === '' && url.hash === '';
    }, 'must be an origin only, without path, query or fragment')
    .transform((value) => (URL.canParse(value) ? new URL(value).origin : value)),
  JWT_SECRET: optionalText().refine(
    (value) => value === undefined || Buffer.byteLength(value, 'utf8') >= 32,
    'must be at least 32 bytes',
  ),
  JWT_PUBLIC_KEY: optionalText(),
  JWT_JWKS_URL: optionalText().refine(
    (value) => value === undefined || httpUrl('').safeParse(value).success,
    'must be an http(s) URL',
  ),
  JWT_ISSUER: optionalText(),
  JWT_AUDIENCE: optionalText(),
  JWT_REQUIRED_SCOPE: optionalText().refine(
    (value) => value === undefined || /^[\x21\x23-\x5B\x5D-\x7E]+$/.test(value),
    'must be one scope token (printable ASCII, no spaces, quotes or backslashes)',
  ),
  JWT_CLOCK_TOLERANCE_S: integer(30, 0, 3600),
  JWT_JWKS_COOLDOWN_MS: integer(30_000, 0, 86_400_000),
  JWT_JWKS_MAX_AGE_MS: integer(300_000, 1000, 86_400_000),
  CACHE_TTL_MS: integer(5000, 0, 86_400_000),
  CACHE_STALE_IF_ERROR_MS: integer(300_000, 0, 86_400_000),
  CACHE_MAX_ENTRIES: integer(1000, 1, 10_000_000),
  CACHE_MAX_BYTES: integer(52_428_800, 1, 8_589_934_592),
  UPSTREAM_TIMEOUT_MS: integer(10_000, 1, 3_600_000),
  UPSTREAM_MAX_RETRIES: integer(3, 0, 20),
  UPSTREAM_MAX_CONCURRENCY: integer(32, 1, 10_000),
  QUOTA_HOLD_MS: integer(300_000, 1000, 86_400_000),
  QUOTA_PROBE_INTERVAL_MS: integer(30_000, 1000, 86_400_000),
  REQUEST_DEADLINE_MS: integer(15_000, 1, 3_600_000),
  USER_RATE_LIMIT_PER_MIN: integer(300, 0, 1_000_000),
  CORS_ORIGINS: originList,
  TRUST_PROXY: trustProxy,
  METRICS_PORT: optionalInteger(0, 65535),
  HTTPS_PROXY: proxyUrl(),
  HTTP_PROXY: proxyUrl(),
  NO_PROXY: optionalText(),
  SHUTDOWN_GRACE_MS: integer(10_000, 0, 3_600_000),
  HTTP_HEADERS_TIMEOUT_MS: integer(10_000, 1000, 600_000),
  HTTP_KEEP_ALIVE_TIMEOUT_MS: integer(65_000, 1000, 3_600_000),
  REDIS_URL: redisUrl,
  REDIS_KEY_PREFIX: z
    .string()
    .default('ntropy-bff:')
    .refine((value) => /^[\x21-\x7E]{1,64}$/.test(value), 'must be 1-64 visible ASCII characters'),
  REDIS_TIMEOUT_MS: integer(250, 1, 60_000),
  AUDIT_LOG_FILE: optionalText(),
  LOG_LEVEL: z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` }).default('info'),
});

type Env = z.infer<typeof envSchema>;

/** Every variable the configuration reads (SPEC "Running": `.env.example` documents each). */
export const CONFIG_VARIABLES: readonly string[] = Object.freeze(Object.keys(envSchema.shape));

export interface Config {
  port: number;
  host: string;
  ntropyApiKey: string;
  ntropyBaseUrl: string;
  jwt: {
    key: JwtKey;
    issuer: string | undefined;
    audience: string | undefined;
    requiredScope: string | undefined;
    clockToleranceS: number;
  };
  cache: {
    ttlMs: number;
    maxEntries: number;
    maxBytes: number;
    /** How long past freshness a page may answer instead of an upstream error; 0 = off. */
    staleIfErrorMs: number;
  };
  upstream: {
    timeoutMs: number;
    maxRetries: number;
    /** Upper bound of the adaptive in-flight limit. */
    maxConcurrency: number;
    quotaHoldMs: number;
    quotaProbeIntervalMs: number;
    /** Outbound proxy for the upstream calls; undefined when none of the variables is set. */
    proxy:
      | { httpsProxy: string | undefined; httpProxy: string | undefined; noProxy: string | undefined }
      | undefined;
  };
  requestDeadlineMs: number;
  userRateLimitPerMin: number;
  corsOrigins: string[];
  /** Express's `trust proxy` value; undefined = the socket's peer. */
  trustProxy: number | string[] | undefined;
  /** When set, /metrics is served only on this port. */
  metricsPort: number | undefined;
  http: { headersTimeoutMs: number; keepAliveTimeoutMs: number };
  shutdownGraceMs: number;
  /** Shared state for replicas; undefined = everything in the process. The URL may hold a password. */
  redis: { url: string; keyPrefix: string; timeoutMs: number } | undefined;
  /** Audit lines go to this file instead of stdout. */
  auditLogFile: string | undefined;
  logLevel: Env['LOG_LEVEL'];
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((line) => `  - ${line}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parses the environment once; throws a ConfigError naming every offending variable (never a value). */
export function loadConfig(env: Record<string, string | undefined>): Readonly<Config> {
  const problems: string[] = [];
  const parsed = envSchema.safeParse(withProxyVariables(env));
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`${issue.path.join('.')}: ${issue.message}`);
  }
  if (parsed.success && parsed.data.METRICS_PORT !== undefined && parsed.data.METRICS_PORT !== 0) {
    if (parsed.data.METRICS_PORT === parsed.data.PORT) problems.push('METRICS_PORT: must differ from PORT');
  }
  // The JWKS timings only matter when the rest parsed; a failed parse throws below anyway.
  const jwtKey = parseJwtKey(env, problems, {
    cooldownMs: parsed.success ? parsed.data.JWT_JWKS_COOLDOWN_MS : 0,
    maxAgeMs: parsed.success ? parsed.data.JWT_JWKS_MAX_AGE_MS : 0,
  });
  if (!parsed.success || jwtKey === undefined || problems.length > 0) throw new ConfigError(problems);
  const e = parsed.data;
  const hasProxy = e.HTTPS_PROXY !== undefined || e.HTTP_PROXY !== undefined;
  return Object.freeze({
    port: e.PORT,
    host: e.HOST,
    ntropyApiKey: e.NTROPY_API_KEY,
    ntropyBaseUrl: e.NTROPY_BASE_URL,
    jwt: Object.freeze({
      key: Object.freeze(jwtKey),
      issuer: e.JWT_ISSUER,
      audience: e.JWT_AUDIENCE,
      requiredScope: e.JWT_REQUIRED_SCOPE,
      clockToleranceS: e.JWT_CLOCK_TOLERANCE_S,
    }),
    cache: Object.freeze({
      ttlMs: e.CACHE_TTL_MS,
      maxEntries: e.CACHE_MAX_ENTRIES,
      maxBytes: e.CACHE_MAX_BYTES,
      staleIfErrorMs: e.CACHE_STALE_IF_ERROR_MS,
    }),
    upstream: Object.freeze({
      timeoutMs: e.UPSTREAM_TIMEOUT_MS,
      maxRetries: e.UPSTREAM_MAX_RETRIES,
      maxConcurrency: e.UPSTREAM_MAX_CONCURRENCY,
      quotaHoldMs: e.QUOTA_HOLD_MS,
      quotaProbeIntervalMs: e.QUOTA_PROBE_INTERVAL_MS,
      proxy: hasProxy
        ? Object.freeze({ httpsProxy: e.HTTPS_PROXY, httpProxy: e.HTTP_PROXY, noProxy: e.NO_PROXY })
        : undefined,
    }),
    requestDeadlineMs: e.REQUEST_DEADLINE_MS,
    userRateLimitPerMin: e.USER_RATE_LIMIT_PER_MIN,
    corsOrigins: Object.freeze([...e.CORS_ORIGINS]) as string[],
    trustProxy: Array.isArray(e.TRUST_PROXY)
      ? (Object.freeze([...e.TRUST_PROXY]) as string[])
      : e.TRUST_PROXY,
    metricsPort: e.METRICS_PORT,
    http: Object.freeze({
      headersTimeoutMs: e.HTTP_HEADERS_TIMEOUT_MS,
      keepAliveTimeoutMs: e.HTTP_KEEP_ALIVE_TIMEOUT_MS,
    }),
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    redis:
      e.REDIS_URL === undefined
        ? undefined
        : Object.freeze({ url: e.REDIS_URL, keyPrefix: e.REDIS_KEY_PREFIX, timeoutMs: e.REDIS_TIMEOUT_MS }),
    auditLogFile: e.AUDIT_LOG_FILE,
    logLevel: e.LOG_LEVEL,
  });
}

/**
 * SPEC: the outbound proxy variables are "read as usual": like undici's own EnvHttpProxyAgent and curl,
 * the lowercase spelling wins over the uppercase one.
 */
function withProxyVariables(env: Record<string, string | undefined>): Record<string, string | undefined> {
  return {
    ...env,
    HTTPS_PROXY: env.https_proxy ?? env.HTTPS_PROXY,
    HTTP_PROXY: env.http_proxy ?? env.HTTP_PROXY,
    NO_PROXY: env.no_proxy ?? env.NO_PROXY,
  };
}
