// Seeded, deterministic batch data for the simulated Ntropy, and its answer to a `GET /v3/batches` query.
import { BATCH_STATUSES, type Batch, type BatchStatus } from '../batches/batch-page.js';
import { readDateTime } from '../batches/datetime.js';

export interface ListAnswer {
  status: number;
  body: object;
}

interface FieldError {
  loc: [string, string];
  msg: string;
  type: string;
  input: string;
  ctx?: Record<string, unknown>;
}

// Weighted by repetition: most batches are transaction enrichment, as on a real account.
const OPERATIONS = [
  'POST /v3/transactions',
  'POST /v3/transactions',
  'POST /v3/transactions',
  'POST /v3/transactions',
  'POST /v3/bank_statements',
  'POST /v3/account_holders',
] as const;
/** The default "now" of the seed: fixed, so tests see the same data on every run and every day. */
export const REFERENCE_NOW_MS = Date.UTC(2026, 10, 1);
const DAY_MS = 86_400_000;
const SPAN_MS = 90 * DAY_MS;
const DEFAULT_LIMIT = 10;
const MAX_LIMIT = 50;
const CURSOR_PREFIX = 'after:';

/** mulberry32: a tiny seeded PRNG returning floats in [0, 1). */
export function createPrng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function pickFrom<T>(items: readonly T[], random: () => number): T {
  return items[Math.floor(random() * items.length)] as T;
}

function formatUuid(random: () => number): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16));
  hex[12] = '4';
  hex[16] = '89ab'[Math.floor(random() * 4)] ?? '8';
  const s = hex.join('');
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
}

/** Ntropy's examples carry no offset: `2024-01-01T00:00:00`. */
function formatTimestamp(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19);
}

function generateBatch(random: () => number, nowMs: number): Batch {
  const createdMs = nowMs - Math.floor((random() * SPAN_MS) / 1000) * 1000;
  const roll = random();
  const status: BatchStatus = roll < 0.7 ? 'completed' : roll < 0.85 ? 'processing' : 'error';
  const total = 1 + Math.floor(random() * 5000);
  const progress = status === 'completed' ? total : Math.floor(random() * total);
  const maxRunMs = Math.min(nowMs - createdMs, 6 * 3_600_000);
  const updatedMs = createdMs + Math.floor((random() * maxRunMs) / 1000) * 1000;
  return {
    id: formatUuid(random),
    operation: pickFrom(OPERATIONS, random),
    status,
    created_at: formatTimestamp(createdMs),
    updated_at: formatTimestamp(updatedMs),
    progress,
    total,
  };
}

/** The same (count, seed, now) always yields the same batches, most recent first, over the 90 days up to now. */
export function generateBatches(count: number, seed: number, nowMs = REFERENCE_NOW_MS): Batch[] {
  const random = createPrng(seed);
  // Whole seconds, as Ntropy's timestamps are.
  const batches = Array.from({ length: count }, () => generateBatch(random, Math.floor(nowMs / 1000) * 1000));
  return batches.sort((a, b) =>
    a.created_at === b.created_at ? (a.id < b.id ? 1 : -1) : a.created_at < b.created_at ? 1 : -1,
  );
}

/** A valid last page whose JSON is at least `minBytes` long, for size-cap tests. */
export function buildPaddedPage(minBytes: number, seed: number): string {
  let count = Math.max(1, Math.ceil(minBytes / 150));
  for (;;) {
    const body = JSON.stringify({ next_cursor: null, data: generateBatches(count, seed) });
    if (Buffer.byteLength(body) >= minBytes) return body;
    count *= 2;
  }
}

function checkLimit(raw: string | null, errors: FieldError[]): number {
  if (raw === null) return DEFAULT_LIMIT;
  const loc: [string, string] = ['query', 'limit'];
  if (!/^\s*[+-]?\d+\s*$/.test(raw)) {
    const msg = 'Input should be a valid integer, unable to parse string as an integer';
    errors.push({ loc, msg, type: 'int_parsing', input: raw });
    return DEFAULT_LIMIT;
  }
  const limit = Number(raw);
  if (limit < 1) {
    const msg = 'Input should be greater than or equal to 1';
    errors.push({ loc, msg, type: 'greater_than_equal', input: raw, ctx: { ge: 1 } });
  } else if (limit > MAX_LIMIT) {
    const msg = `Input should be less than or equal to ${MAX_LIMIT}`;
    errors.push({ loc, msg, type: 'less_than_equal', input: raw, ctx: { le: MAX_LIMIT } });
  }
  return limit;
}

function checkStatus(raw: string | null, errors: FieldError[]): BatchStatus | undefined {
  if (raw === null) return undefined;
  const found = BATCH_STATUSES.find((s) => s === raw);
  if (found) return found;
  const expected = "'processing', 'completed' or 'error'";
  errors.push({
    loc: ['query', 'status'],
    msg: `Input should be ${expected}`,
    type: 'enum',
    input: raw,
    ctx: { expected },
  });
  return undefined;
}

// Ntropy reads datetimes with pydantic's lax parsing, which SPEC's "Datetimes" table (the proxy's parser) follows.
function checkDatetime(name: string, raw: string | null, errors: FieldError[]): bigint | undefined {
  if (raw === null) return undefined;
  const reading = readDateTime(raw);
  if ('reason' in reading) {
    const msg = 'Input should be a valid datetime or date';
    errors.push({ loc: ['query', name], msg, type: 'datetime_from_date_parsing', input: raw });
    return undefined;
  }
  return reading.epochMicros;
}

function encodeCursor(lastId: string): string {
  return Buffer.from(CURSOR_PREFIX + lastId).toString('base64url');
}

/** Index into `batches` after which the page starts, or undefined for an unknown/garbled cursor. */
function decodeCursor(cursor: string, batches: readonly Batch[]): number | undefined {
  const decoded = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!decoded.startsWith(CURSOR_PREFIX) || encodeCursor(decoded.slice(CURSOR_PREFIX.length)) !== cursor) {
    return undefined;
  }
  const index = batches.findIndex((b) => b.id === decoded.slice(CURSOR_PREFIX.length));
  return index < 0 ? undefined : index;
}

/** Answers a list query as Ntropy would: FastAPI-style 422s, 400 for a bad cursor, else one page. */
export function answerListQuery(batches: readonly Batch[], query: URLSearchParams): ListAnswer {
  const errors: FieldError[] = [];
  // Starlette keeps the last of repeated scalar parameters; unknown parameters are ignored.
  const last = (name: string): string | null => query.getAll(name).at(-1) ?? null;
  const limit = checkLimit(last('limit'), errors);
  const status = checkStatus(last('status'), errors);
  const afterMicros = checkDatetime('created_after', last('created_after'), errors);
  const beforeMicros = checkDatetime('created_before', last('created_before'), errors);
  if (errors.length > 0) return { status: 422, body: { detail: errors } };

  const cursor = last('cursor');
  const startAfter = cursor === null ? -1 : decodeCursor(cursor, batches);
  if (startAfter === undefined) return { status: 400, body: { detail: 'Invalid cursor' } };

  const matches: Batch[] = [];
  let hasMore = false;
  for (let i = startAfter + 1; i < batches.length; i++) {
    const batch = batches[i] as Batch;
    const createdMicros = BigInt(Date.parse(`${batch.created_at}Z`)) * 1000n;
    if (status !== undefined && batch.status !== status) continue;
    if (afterMicros !== undefined && createdMicros <= afterMicros) continue;
    if (beforeMicros !== undefined && createdMicros >= beforeMicros) continue;
    if (matches.length === limit) {
      hasMore = true;
      break;
    }
    matches.push(batch);
  }
  const lastMatch = matches.at(-1);
  const nextCursor = hasMore && lastMatch ? encodeCursor(lastMatch.id) : null;
  return { status: 200, body: { next_cursor: nextCursor, data: matches } };
}
