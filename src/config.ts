// Environment -> one frozen, typed Config; names every bad variable and never echoes a value (SPEC "Running").
import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { algorithmForKey } from './http/key-algorithm.js';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

function integer(defaultValue: number, min: number, max: number) {
  return z
    .string()
    .default(String(defaultValue))
    .refine((value) => /^[0-9]+$/.test(value), { message: `must be a whole number from ${min} to ${max}` })
    .transform(Number)
    .refine((value) => value >= min && value <= max, {
      message: `must be a whole number from ${min} to ${max}`,
    });
}

function optionalText() {
  return z
    .string()
    .optional()
    .transform((value) => (value === undefined || value.trim() === '' ? undefined : value));
}

function httpUrl(message: string) {
  return z.string().refine((value) => {
    try {
      const url = new URL(value);
      return (
        (url.protocol === 'http:' || url.protocol === 'https:') && url.username === '' && url.password === ''
      );
    } catch {
      return false;
    }
  }, message);
}

const originList = z
  .string()
  .default('')
  .transform((value) =>
    value
      .split(',')
      .map((origin) => origin.trim())
      .filter((origin) => origin !== ''),
  )
  .refine((origins) => origins.every(isOrigin), {
    message: 'must be a comma-separated list of origins such as https://app.example.com (no path, no *)',
  });

function isOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === value;
  } catch {
    return false;
  }
}

const envSchema = z.object({
  PORT: integer(8080, 0, 65535),
  HOST: z.string().min(1, 'must not be empty').default('0.0.0.0'),
  NTROPY_API_KEY: z
    .string({ error: 'is required' })
    .min(1, 'is required')
    .refine((value) => !/[\r\n]/.test(value), 'must be a single line'),
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
  CACHE_TTL_MS: integer(5000, 0, 86_400_000),
  CACHE_MAX_ENTRIES: integer(1000, 1, 10_000_000),
  CACHE_MAX_BYTES: integer(52_428_800, 1, 8_589_934_592),
  UPSTREAM_TIMEOUT_MS: integer(10_000, 1, 3_600_000),
  UPSTREAM_MAX_RETRIES: integer(3, 0, 20),
  REQUEST_DEADLINE_MS: integer(15_000, 1, 3_600_000),
  USER_RATE_LIMIT_PER_MIN: integer(300, 0, 1_000_000),
  CORS_ORIGINS: originList,
  SHUTDOWN_GRACE_MS: integer(10_000, 0, 3_600_000),
  LOG_LEVEL: z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` }).default('info'),
});

type Env = z.infer<typeof envSchema>;

export type JwtKey =
  { kind: 'static'; key: KeyObject; algorithm: string } | { kind: 'jwks'; url: string; cooldownMs: number };

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
  cache: { ttlMs: number; maxEntries: number; maxBytes: number };
  upstream: { timeoutMs: number; maxRetries: number };
  requestDeadlineMs: number;
  userRateLimitPerMin: number;
  corsOrigins: string[];
  shutdownGraceMs: number;
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
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`${issue.path.join('.')}: ${issue.message}`);
  }
  // The cooldown only matters when the rest parsed; a failed parse throws below anyway.
  const jwtKey = parseJwtKey(env, problems, parsed.success ? parsed.data.JWT_JWKS_COOLDOWN_MS : 0);
  if (!parsed.success || jwtKey === undefined) throw new ConfigError(problems);
  const e = parsed.data;
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
    }),
    upstream: Object.freeze({ timeoutMs: e.UPSTREAM_TIMEOUT_MS, maxRetries: e.UPSTREAM_MAX_RETRIES }),
    requestDeadlineMs: e.REQUEST_DEADLINE_MS,
    userRateLimitPerMin: e.USER_RATE_LIMIT_PER_MIN,
    corsOrigins: Object.freeze([...e.CORS_ORIGINS]) as string[],
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    logLevel: e.LOG_LEVEL,
  });
}

// SPEC "Running": exactly one key source; each key fixes its one algorithm (RFC 8725).
function parseJwtKey(
  env: Record<string, string | undefined>,
  problems: string[],
  jwksCooldownMs: number,
): JwtKey | undefined {
  const given = (['JWT_SECRET', 'JWT_PUBLIC_KEY', 'JWT_JWKS_URL'] as const).filter(
    (name) => (env[name] ?? '').trim() !== '',
  );
  if (given.length !== 1) {
    problems.push(
      given.length === 0
        ? 'JWT_SECRET, JWT_PUBLIC_KEY, JWT_JWKS_URL: exactly one must be set'
        : `${given.join(', ')}: exactly one must be set, not ${given.length}`,
    );
    return undefined;
  }
  const secret = env.JWT_SECRET;
  if (given[0] === 'JWT_SECRET' && secret !== undefined) {
    if (Buffer.byteLength(secret, 'utf8') < 32) return undefined;
    // A KeyObject, not a string: jsonwebtoken would first try a string as a PEM key on every verify.
    return { kind: 'static', key: createSecretKey(Buffer.from(secret, 'utf8')), algorithm: 'HS256' };
  }
  const pem = env.JWT_PUBLIC_KEY;
  if (given[0] === 'JWT_PUBLIC_KEY' && pem !== undefined) {
    // A verifier must never hold signing material, even though Node would derive the public half.
    if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) {
      problems.push('JWT_PUBLIC_KEY: must be a public key, not a private key');
      return undefined;
    }
    let key: KeyObject;
    try {
      // A PEM in one env line often arrives with literal "\n"s.
      key = createPublicKey(pem.includes('\n') ? pem : pem.replaceAll('\\n', '\n'));
    } catch {
      problems.push('JWT_PUBLIC_KEY: must be a PEM public key');
      return undefined;
    }
    const algorithm = algorithmForKey(key);
    if (algorithm === undefined) {
      problems.push('JWT_PUBLIC_KEY: key type must be RSA, RSA-PSS, EC P-256/P-384/P-521 or Ed25519');
      return undefined;
    }
    return { kind: 'static', key, algorithm };
  }
  const url = env.JWT_JWKS_URL;
  if (url === undefined || !httpUrl('').safeParse(url).success) return undefined;
  return { kind: 'jwks', url, cooldownMs: jwksCooldownMs };
}
