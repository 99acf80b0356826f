// Validates the list query and turns it into its one canonical form (SPEC "GET /v3/batches", "Caching").
import { z } from 'zod';
import { Problem, type FieldError } from '../problem.js';

const PARAMETERS = ['created_after', 'created_before', 'cursor', 'limit', 'status'] as const;
const STATUSES = ['processing', 'completed', 'error'] as const;
const MAX_CURSOR_CODE_POINTS = 1024;

// RFC 3339 date-time ('T', optional fraction of any length, optional 'Z' or ±hh:mm), or a bare full-date.
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:(Z)|([+-])(\d{2}):(\d{2}))?)?$/;

/**
 * A SPEC datetime in UTC, `YYYY-MM-DDTHH:MM:SS[.fff…]Z` (offsetless = UTC; the fraction kept to the
 * digit, trailing zeros dropped, at least milliseconds), or undefined when malformed or outside 0000–9999.
 */
export function normalizeDateTime(value: string): string | undefined {
  const m = DATE_TIME.exec(value);
  if (!m) return undefined;
  const [year, month, day, hour = 0, minute = 0, second = 0] = m.slice(1, 7).map((part) => Number(part ?? 0));
  if (year === undefined || month === undefined || day === undefined) return undefined;
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  const offsetHours = Number(m[10] ?? 0);
  const offsetMinutes = Number(m[11] ?? 0);
  if (offsetHours > 23 || offsetMinutes > 59) return undefined;
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute - (m[9] === '-' ? -1 : 1) * (offsetHours * 60 + offsetMinutes), second, 0);
  const utcYear = date.getUTCFullYear();
  if (Number.isNaN(utcYear) || utcYear < 0 || utcYear > 9999) return undefined;
  const fraction = (m[7] ?? '').replace(/0+$/, '');
  return `${date.toISOString().slice(0, 19)}${fraction === '' ? '' : `.${fraction.padEnd(3, '0')}`}Z`;
}

/** Orders two normalized datetimes by the instant they denote. */
export function compareDateTimes(a: string, b: string): number {
  const [aSeconds = '', aFraction = ''] = a.slice(0, -1).split('.');
  const [bSeconds = '', bFraction = ''] = b.slice(0, -1).split('.');
  if (aSeconds !== bSeconds) return aSeconds < bSeconds ? -1 : 1;
  const width = Math.max(aFraction.length, bFraction.length);
  const [aPadded, bPadded] = [aFraction.padEnd(width, '0'), bFraction.padEnd(width, '0')];
  return aPadded === bPadded ? 0 : aPadded < bPadded ? -1 : 1;
}

function daysInMonth(year: number, month: number): number {
  const isLeap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return [31, isLeap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1] ?? 0;
}

const dateTime = z.string().transform((value, ctx) => {
  const normalized = normalizeDateTime(value);
  if (normalized === undefined) {
    ctx.addIssue({
      code: 'custom',
      message: 'must be an RFC 3339 date-time (e.g. 2024-01-01T00:00:00Z) or a date (YYYY-MM-DD)',
    });
    return z.NEVER;
  }
  return normalized;
});

const listQuerySchema = z
  .strictObject({
    created_after: dateTime.optional(),
    created_before: dateTime.optional(),
    cursor: z
      .string()
      .refine((value) => [...value].length <= MAX_CURSOR_CODE_POINTS, {
        message: `must be at most ${MAX_CURSOR_CODE_POINTS} characters`,
      })
      .optional(),
    limit: z
      .string()
      .regex(/^[1-9][0-9]?$/, { message: 'must be between 1 and 50' })
      .transform(Number)
      .refine((value) => value <= 50, { message: 'must be between 1 and 50' })
      .default(10),
    status: z.enum(STATUSES, { error: `must be one of ${STATUSES.join(', ')}` }).optional(),
  })
  .superRefine((query, ctx) => {
    if (
      query.created_after &&
      query.created_before &&
      compareDateTimes(query.created_after, query.created_before) > 0
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['created_after'],
        message: 'must not be later than created_before',
      });
    }
  });

export type ListQuery = z.infer<typeof listQuerySchema>;

/** SPEC "Query validation": five known parameters, each at most once and non-empty, else 400 invalid_query. */
export function parseListQuery(params: URLSearchParams): ListQuery {
  const raw: Record<string, string> = {};
  const errors: FieldError[] = [];
  for (const [name, value] of params) {
    if (!(PARAMETERS as readonly string[]).includes(name)) {
      errors.push({ field: name, message: 'is not a known parameter' });
    } else if (Object.hasOwn(raw, name)) {
      if (!errors.some((error) => error.field === name))
        errors.push({ field: name, message: 'must not be repeated' });
    } else if (value === '') {
      errors.push({ field: name, message: 'must not be empty' });
      raw[name] = value;
    } else {
      raw[name] = value;
    }
  }
  if (errors.length === 0) {
    const parsed = listQuerySchema.safeParse(raw);
    if (parsed.success) return parsed.data;
    for (const issue of parsed.error.issues) {
      errors.push({ field: String(issue.path[0] ?? 'query'), message: issue.message });
    }
  }
  throw new Problem('invalid_query', errors.map((error) => `${error.field} ${error.message}`).join('; '), {
    errors,
  });
}

/** The canonical query string: defaults applied, fixed parameter order; also the cache key. */
export function canonicalQueryString(query: ListQuery): string {
  const parts: string[] = [];
  for (const name of PARAMETERS) {
    const value = query[name];
    if (value !== undefined) parts.push(`${name}=${encodeURIComponent(String(value))}`);
  }
  return parts.join('&');
}
