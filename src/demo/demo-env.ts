// The demo's environment (SPEC "Running"): the proxy's own variables, honoured, but for the few the demo must set.
import { z } from 'zod';

type Env = Record<string, string | undefined>;

/** Set by the demo whatever the user's values: its upstream is the simulated Ntropy, its tokens its own. */
export const DEMO_SETS = ['NTROPY_API_KEY', 'NTROPY_BASE_URL', 'JWT_SECRET'] as const;
/** Dropped: exactly one JWT key source may be set, and the demo's is JWT_SECRET. */
export const DEMO_DROPS = ['JWT_PUBLIC_KEY', 'JWT_JWKS_URL'] as const;

// A demo with a printed, valid token listens on the loopback unless told otherwise (the proxy's default is 0.0.0.0).
const DEMO_DEFAULT_HOST = '127.0.0.1';
const DEMO_DEFAULT_PORT = 8080;
export const DEMO_DEFAULT_WEB_PORT = 8081;

export interface DemoFacts {
  apiKey: string;
  upstreamUrl: string;
  secret: string;
  /** The web page's origins, added to the user's CORS_ORIGINS. */
  pageOrigins: readonly string[];
}

export interface DemoEnv {
  env: Env;
  /** The user's own values the demo did not use, by name (never values). */
  ignored: string[];
}

export function isSet(value: string | undefined): value is string {
  return value !== undefined && value.trim() !== '';
}

/** The address the demo listens on: HOST when set, else the loopback. */
export function demoHost(userEnv: Readonly<Env>): string {
  return isSet(userEnv.HOST) ? userEnv.HOST : DEMO_DEFAULT_HOST;
}

export function buildDemoEnv(userEnv: Readonly<Env>, facts: DemoFacts): DemoEnv {
  const ignored = [...DEMO_SETS, ...DEMO_DROPS].filter((name) => isSet(userEnv[name]));
  const userOrigins = (userEnv.CORS_ORIGINS ?? '').split(',').map((origin) => origin.trim());
  const origins = [...new Set([...userOrigins, ...facts.pageOrigins].filter((origin) => origin !== ''))];
  return {
    env: {
      ...userEnv,
      HOST: demoHost(userEnv),
      PORT: isSet(userEnv.PORT) ? userEnv.PORT : String(DEMO_DEFAULT_PORT),
      NTROPY_API_KEY: facts.apiKey,
      NTROPY_BASE_URL: facts.upstreamUrl,
      JWT_SECRET: facts.secret,
      JWT_PUBLIC_KEY: undefined,
      JWT_JWKS_URL: undefined,
      CORS_ORIGINS: origins.join(','),
    },
    ignored,
  };
}

const unset = (value: unknown) => (typeof value === 'string' && value.trim() === '' ? undefined : value);
function wholeNumber(min: number, max: number, error: string) {
  return z.coerce.number({ error }).int({ error }).min(min, { error }).max(max, { error });
}
const RATE = 'must be a number from 0 to 1';
const rate = z.preprocess(
  unset,
  z.coerce.number({ error: RATE }).min(0, { error: RATE }).max(1, { error: RATE }).default(0),
);

const demoSettingsSchema = z.object({
  DEMO_FAULT_429_RATE: rate,
  DEMO_FAULT_503_RATE: rate,
  DEMO_LATENCY_MS: z.preprocess(
    unset,
    wholeNumber(0, 60_000, 'must be whole milliseconds, 0–60000').default(20),
  ),
  DEMO_WEB_PORT: z.preprocess(unset, wholeNumber(0, 65_535, 'must be a port, 0–65535').optional()),
});

export type DemoSettings = z.infer<typeof demoSettingsSchema>;

/** The demo's own DEMO_* variables; a bad one throws an Error naming each offending variable, never its value. */
export function readDemoSettings(env: Readonly<Env>): DemoSettings {
  const parsed = demoSettingsSchema.safeParse(env);
  if (parsed.success) return parsed.data;
  const reasons = parsed.error.issues.map((issue) => `${String(issue.path[0])} ${issue.message}`);
  throw new Error(`invalid demo configuration: ${reasons.join('; ')}`);
}
