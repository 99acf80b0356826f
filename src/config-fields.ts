// The zod readers of single environment values, shared by the config schema (SPEC "Running").
import { isIP } from 'node:net';
import { z } from 'zod';

export function integer(defaultValue: number, min: number, max: number) {
  return z
    .string()
    .default(String(defaultValue))
    .refine((value) => /^[0-9]+$/.test(value), { message: `must be a whole number from ${min} to ${max}` })
    .transform(Number)
    .refine((value) => value >= min && value <= max, {
      message: `must be a whole number from ${min} to ${max}`,
    });
}

/** Unset or blank = undefined; otherwise a whole number in [min, max]. */
export function optionalInteger(min: number, max: number) {
  return optionalText().pipe(
    z
      .string()
      .optional()
      .refine((value) => value === undefined || /^[0-9]+$/.test(value), {
        message: `must be a whole number from ${min} to ${max}`,
      })
      .transform((value) => (value === undefined ? undefined : Number(value)))
      .refine((value) => value === undefined || (value >= min && value <= max), {
        message: `must be a whole number from ${min} to ${max}`,
      }),
  );
}

export function optionalText() {
  return z
    .string()
    .optional()
    .transform((value) => (value === undefined || value.trim() === '' ? undefined : value));
}

export function httpUrl(message: string) {
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

export const originList = z
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

/** A proxy URL as curl and undici read HTTPS_PROXY/HTTP_PROXY: http(s), credentials allowed, never echoed. */
export function proxyUrl() {
  return optionalText().refine((value) => {
    if (value === undefined) return true;
    if (!URL.canParse(value)) return false;
    const { protocol } = new URL(value);
    return protocol === 'http:' || protocol === 'https:';
  }, 'must be an http(s) URL such as http://proxy.internal:3128');
}

const TRUST_PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/** Express's `trust proxy`: a hop count, or addresses/CIDRs (and Express's names for common ranges). */
function isTrustedProxyEntry(entry: string): boolean {
  if (TRUST_PROXY_NAMES.has(entry)) return true;
  const [address = '', prefix, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  return /^(0|[1-9][0-9]{0,2})$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}

export const trustProxy = optionalText()
  .refine(
    (value) =>
      value === undefined ||
      /^(0|[1-9][0-9]{0,2})$/.test(value) ||
      value.split(',').every((entry) => isTrustedProxyEntry(entry.trim())),
    'must be a hop count (e.g. 1) or comma-separated addresses/CIDRs (e.g. 10.0.0.0/8, loopback)',
  )
  .transform((value): number | string[] | undefined => {
    if (value === undefined) return undefined;
    if (/^[0-9]+$/.test(value)) return Number(value);
    return value.split(',').map((entry) => entry.trim());
  });

export const redisUrl = optionalText().refine((value) => {
  if (value === undefined) return true;
  if (!URL.canParse(value)) return false;
  const url = new URL(value);
  return (url.protocol === 'redis:' || url.protocol === 'rediss:') && url.hostname !== '';
}, 'must be a redis:// or rediss:// URL such as redis://:password@redis.internal:6379/0');
