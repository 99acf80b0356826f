// Validates the list query and turns it into its one canonical form (SPEC "GET /v3/batches", "Caching").
import { LRUCache } from 'lru-cache';
import { z } from 'zod';
import { Problem, type FieldError } from '../problem.js';
import { BATCH_STATUSES } from './batch-page.js';
import { DATE_TIME_FORMS, compareCanonicalDateTimes, readDateTime } from './datetime.js';

const MAX_CURSOR_CODE_POINTS = 1024;
const LIMIT_RANGE = 'must be between 1 and 50';

/** Why a `limit` is not written as SPEC's plain digits (`^[1-9][0-9]?$` once in range), if it is not. */
function describeLimitForm(value: string): string | undefined {
  if (/^[+-]/.test(value)) return 'must be written without a sign';
  if (!/^[0-9]+$/.test(value)) return 'must be a whole number written in the digits 0–9';
  if (value.length > 1 && value.startsWith('0')) return 'must not have a leading zero';
  return undefined;
}

/** Why a `status` is refused: statuses are lowercase, as Ntropy writes them. */
function describeStatusError(value: unknown): string {
  const lowercase = String(value).toLowerCase();
  const match = BATCH_STATUSES.find((status) => status === lowercase);
  return match === undefined ? `must be one of ${BATCH_STATUSES.join(', ')}` : `must be lowercase: ${match}`;
}

function dateTime(description: string) {
  return z
    .string()
    .check((ctx) => {
      const reading = readDateTime(ctx.value);
      if ('reason' in reading) ctx.issues.push({ code: 'custom', message: reading.reason, input: ctx.value });
    })
    .overwrite((value) => {
      const reading = readDateTime(value);
      return 'canonical' in reading ? reading.canonical : value;
    })
    .meta({
      description: `${description}. Accepted: ${DATE_TIME_FORMS}. Sent upstream as UTC, YYYY-MM-DDTHH:MM:SS[.ffffff]Z.`,
      examples: ['2024-01-01T00:00:00Z', '2024-01-01 00:00:00.123456+00:00', '2024-01-05', '1704067200'],
    });
}

/** The query schema: it validates requests, and the OpenAPI document and the demo page's filters follow it. */
export const listQuerySchema = z
  .strictObject({
    created_after: dateTime('Only batches created after this instant').optional(),
    created_before: dateTime('Only batches created before this instant').optional(),
    cursor: z
      .string()
      // JSON Schema's maxLength counts code points, as SPEC does; zod's .max() would count UTF-16 units.
      .refine((value) => [...value].length <= MAX_CURSOR_CODE_POINTS, {
        message: `must be at most ${MAX_CURSOR_CODE_POINTS} characters`,
      })
      .optional()
      .meta({ maxLength: MAX_CURSOR_CODE_POINTS, description: "A previous page's next_cursor" }),
    limit: z
      .string()
      .check((ctx) => {
        const reason = describeLimitForm(ctx.value);
        if (reason !== undefined) ctx.issues.push({ code: 'custom', message: reason, input: ctx.value });
      })
      .transform(Number)
      .pipe(z.int({ error: LIMIT_RANGE }).min(1, { error: LIMIT_RANGE }).max(50, { error: LIMIT_RANGE }))
      .default(10)
      .meta({ description: 'Page size, written in plain digits (no sign, no leading zero)' }),
    status: z
      .enum(BATCH_STATUSES, { error: (issue) => describeStatusError(issue.input) })
      .optional()
      .meta({ description: 'Only batches in this status' }),
  })
  .refine(
    (query) =>
      query.created_after === undefined ||
      query.created_before === undefined ||
      compareCanonicalDateTimes(query.created_after, query.created_before) <= 0,
    {
      path: ['created_after'],
      message: 'must not be later than created_before',
      // Compared only when both datetimes were read; a malformed one has its own error.
      when: (payload) =>
        !payload.issues.some((issue) =>
          ['created_after', 'created_before'].includes(String(issue.path?.[0])),
        ),
    },
  );

export type ListQuery = z.infer<typeof listQuerySchema>;

const PARAMETERS = Object.keys(listQuerySchema.shape) as (keyof ListQuery)[];

function isParameter(name: string): name is keyof ListQuery {
  return (PARAMETERS as string[]).includes(name);
}

/** SPEC "Query validation": five known parameters, each at most once and non-empty, else 400 invalid_query. */
export function parseListQuery(params: URLSearchParams): ListQuery {
  const raw: Record<string, string> = {};
  const errors: FieldError[] = [];
  // One error per field, with its own reason: the first thing wrong with it.
  const report = (field: string, message: string): void => {
    if (!errors.some((error) => error.field === field)) errors.push({ field, message });
  };
  for (const [name, value] of params) {
    if (!isParameter(name)) {
      report(name, `is not a known parameter (known: ${PARAMETERS.join(', ')})`);
    } else if (Object.hasOwn(raw, name)) {
      report(name, 'must not be repeated');
    } else if (value === '') {
      report(name, 'must not be empty');
    } else {
      raw[name] = value;
    }
  }
  for (const error of errors) delete raw[error.field];
  const parsed = listQuerySchema.safeParse(raw);
  if (parsed.success && errors.length === 0) return parsed.data;
  for (const issue of parsed.error?.issues ?? []) report(String(issue.path[0] ?? 'query'), issue.message);
  // In the order the client wrote them.
  const written = [...params.keys()];
  errors.sort((a, b) => written.indexOf(a.field) - written.indexOf(b.field));
  throw new Problem('invalid_query', describeErrors(errors), { errors, reason: reasonOf(errors) });
}

/** The audit line's `reason`: the offending parameters, unknown names as one word (never the client's text). */
function reasonOf(errors: readonly FieldError[]): string {
  const names = errors.map(({ field }) => (isParameter(field) ? field : 'unknown_parameter'));
  return [...new Set(names)].join(',');
}

/** `detail`: every error, each named after its field (unknown names quoted, so an empty one shows). */
function describeErrors(errors: readonly FieldError[]): string {
  return errors
    .map(({ field, message }) => `${isParameter(field) ? field : JSON.stringify(field)} ${message}`)
    .join('; ');
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

/** A validated query and its canonical form (the cache key and the upstream query string). */
export interface ReadListQuery {
  query: Readonly<ListQuery>;
  key: string;
}

/** Bounds of the memo: raw query strings kept, and their characters. */
const MEMO_MAX_ENTRIES = 1000;
const MEMO_MAX_CHARS = 1024 * 1024;

/**
 * Reads a raw query string (after `?`) as `parseListQuery` does, through a bounded memo of the strings that
 * were valid: a frontend asks for the same pages again and again, and their second reading is a lookup, not
 * a schema run (BENCHMARKS.md). An invalid string is read afresh every time, so its errors are reported
 * exactly as `parseListQuery` reports them.
 */
export function createListQueryReader(): (rawQuery: string) => ReadListQuery {
  const memo = new LRUCache<string, ReadListQuery>({
    max: MEMO_MAX_ENTRIES,
    maxSize: MEMO_MAX_CHARS,
    sizeCalculation: (read, rawQuery) => Math.max(1, rawQuery.length + read.key.length),
  });
  return function readListQuery(rawQuery) {
    const known = memo.get(rawQuery);
    if (known !== undefined) return known;
    const query = Object.freeze(parseListQuery(new URLSearchParams(rawQuery)));
    const read = Object.freeze({ query, key: canonicalQueryString(query) });
    memo.set(rawQuery, read);
    return read;
  };
}
