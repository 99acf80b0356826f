// SPEC "Running": `.env.example` documents every variable, and copied as `.env` it changes nothing but what is filled in.
import { readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, loadConfig } from '../src/config.js';

/** SPEC's variable table, each with its default as written there ('' where SPEC gives none or says empty). */
const SPEC_VARIABLES: [name: string, specDefault: string][] = [
  ['PORT', '8080'],
  ['HOST', '0.0.0.0'],
  ['NTROPY_API_KEY', ''],
  ['NTROPY_BASE_URL', 'https://api.ntropy.com'],
  ['JWT_SECRET', ''],
  ['JWT_PUBLIC_KEY', ''],
  ['JWT_JWKS_URL', ''],
  ['JWT_ISSUER', ''],
  ['JWT_AUDIENCE', ''],
  ['JWT_REQUIRED_SCOPE', ''],
  ['JWT_CLOCK_TOLERANCE_S', '30'],
  ['JWT_JWKS_COOLDOWN_MS', '30000'],
  ['CACHE_TTL_MS', '5000'],
  ['CACHE_MAX_ENTRIES', '1000'],
  ['CACHE_MAX_BYTES', '52428800'],
  ['UPSTREAM_TIMEOUT_MS', '10000'],
  ['UPSTREAM_MAX_RETRIES', '3'],
  ['REQUEST_DEADLINE_MS', '15000'],
  ['USER_RATE_LIMIT_PER_MIN', '300'],
  ['CORS_ORIGINS', ''],
  ['TRUST_PROXY', ''],
  ['METRICS_PORT', ''],
  ['HTTPS_PROXY', ''],
  ['HTTP_PROXY', ''],
  ['NO_PROXY', ''],
  ['SHUTDOWN_GRACE_MS', '10000'],
  ['CACHE_STALE_IF_ERROR_MS', '300000'],
  ['QUOTA_HOLD_MS', '300000'],
  ['QUOTA_PROBE_INTERVAL_MS', '30000'],
  ['UPSTREAM_MAX_CONCURRENCY', '32'],
  ['REDIS_URL', ''],
  ['REDIS_KEY_PREFIX', 'ntropy-bff:'],
  ['REDIS_TIMEOUT_MS', '250'],
  ['LOG_LEVEL', 'info'],
  ['JWT_JWKS_MAX_AGE_MS', '300000'],
  ['HTTP_HEADERS_TIMEOUT_MS', '10000'],
  ['HTTP_KEEP_ALIVE_TIMEOUT_MS', '65000'],
  ['AUDIT_LOG_FILE', ''],
];

// Parsed as the server reads a `.env` (node:util parseEnv), so commented lines name nothing.
const example = parseEnv(readFileSync(new URL('../.env.example', import.meta.url), 'utf8'));
const exampleNames = Object.keys(example);
const shownValues = Object.entries(example).filter(
  (entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== '',
);

const API_KEY = 'ntropy-env-example-key';
/** Filled in so that every variable of the file takes effect (JWKS timings need JWT_JWKS_URL, Redis ones REDIS_URL). */
const EVERY_SETTING_READ = {
  NTROPY_API_KEY: API_KEY,
  JWT_JWKS_URL: 'https://id.example.com/.well-known/jwks.json',
  REDIS_URL: 'redis://127.0.0.1:6379',
};
/** What an operator fills in. */
const FILLED_IN: [string, Record<string, string>][] = [
  ['a JWT secret', { NTROPY_API_KEY: API_KEY, JWT_SECRET: 'env-example-secret-of-32-bytes-or-more' }],
  ['a JWKS URL and Redis', EVERY_SETTING_READ],
];

/** A different valid value per shown default, to prove the variable is read where its default is compared. */
function otherValue(name: string, value: string): string {
  if (/^[0-9]+$/.test(value)) return String(Number(value) + 1);
  const others: Record<string, string> = {
    HOST: '127.0.0.1',
    NTROPY_BASE_URL: 'http://127.0.0.1:9',
    LOG_LEVEL: 'warn',
    REDIS_KEY_PREFIX: 'other-prefix:',
  };
  const other = others[name];
  if (other === undefined) throw new Error(`no other value known for ${name}`);
  return other;
}

describe('.env.example — names every variable', () => {
  it.each(SPEC_VARIABLES)('names %s, showing SPEC default %j', (name, specDefault) => {
    expect(exampleNames).toContain(name);
    expect(example[name]).toBe(specDefault);
  });

  it('names every variable the configuration reads', () => {
    expect(CONFIG_VARIABLES.filter((name) => !exampleNames.includes(name))).toEqual([]);
  });

  it("the configuration reads every variable of SPEC's table", () => {
    expect(SPEC_VARIABLES.map(([name]) => name).filter((name) => !CONFIG_VARIABLES.includes(name))).toEqual(
      [],
    );
  });

  it('names no variable the configuration does not read', () => {
    expect(exampleNames.filter((name) => !CONFIG_VARIABLES.includes(name))).toEqual([]);
  });
});

describe('.env.example — its values are what the server uses anyway', () => {
  it.each(shownValues)(
    '%s=%s is accepted and equals the default the loader applies when it is unset',
    (name, value) => {
      const unset = loadConfig(EVERY_SETTING_READ);
      expect(loadConfig({ ...EVERY_SETTING_READ, [name]: value })).toEqual(unset);
      expect(loadConfig({ ...EVERY_SETTING_READ, [name]: otherValue(name, value) })).not.toEqual(unset);
    },
  );

  it.each(FILLED_IN)(
    'copied whole as .env, with %s filled in, gives the configuration of no file',
    (_case, filled) => {
      expect(loadConfig({ ...example, ...filled })).toEqual(loadConfig(filled));
    },
  );
});
