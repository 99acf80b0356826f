// Reads a query datetime in every form SPEC "GET /v3/batches" (Datetimes) accepts and writes its one UTC form.
//
// Hand-written: Date keeps milliseconds only and parses more than SPEC allows (and differently per
// engine); zod's z.iso.datetime() checks RFC 3339 but neither reads pydantic's lax forms (space or `_`
// separator, `±hhmm`, Unix time) nor converts to UTC. The rules are SPEC's table, row by row.

export interface Instant {
  /** `YYYY-MM-DDTHH:MM:SS[.ffffff]Z`: UTC, microseconds without trailing zeros, no fraction when zero. */
  canonical: string;
  /** Microseconds since 1970-01-01T00:00:00Z: the order of two instants. */
  epochMicros: bigint;
}

export type DateTimeReading = Instant | { reason: string };

// Date, then optionally a separator and time (seconds optional, any fraction digits on the seconds),
// then optionally an offset; offsets only after a time, as in pydantic.
const DATE_TIME =
  /^(?<year>\d{4})-(?<month>\d{2})-(?<day>\d{2})(?:[Tt _](?<hour>\d{2}):(?<minute>\d{2})(?::(?<second>\d{2})(?:\.(?<fraction>\d+))?)?(?:[Zz]|(?<sign>[+-])(?<offsetHours>\d{2}):?(?<offsetMinutes>\d{2}))?)?$/;
// Unix time: an optional sign, digits, an optional decimal part (pydantic reads `1.` and `.5` too).
const UNIX_TIME = /^([+-]?)(\d*)(?:\.(\d*))?$/;
// SPEC: seconds, or milliseconds when the absolute value exceeds 2×10¹⁰ (pydantic's watershed).
const MILLISECONDS_ABOVE = 20_000_000_000n;
const MICROS_PER_SECOND = 1_000_000n;
const MIN_EPOCH_MICROS = BigInt(startOfYearOne()) * 1000n;
const MAX_EPOCH_MICROS = BigInt(Date.UTC(9999, 11, 31, 23, 59, 59)) * 1000n + 999_999n;
const MAX_UNIX_DIGITS = 16;

export const DATE_TIME_FORMS =
  'a date and time (separator T, t, space or _; seconds optional; fraction digits beyond microseconds cut) ' +
  'with an offset Z (or z), ±hh:mm or ±hhmm or none (UTC), a date (midnight UTC), or Unix time in seconds ' +
  '(milliseconds when its absolute value exceeds 2×10¹⁰), optionally signed and decimal';

const REASONS = {
  form: 'must be a date-time such as 2024-01-01T00:00:00Z or 2024-01-01 00:00:00+00:00, a date such as 2024-01-01, or Unix seconds such as 1704067200',
  day: 'names a day that does not exist',
  time: 'must have hour 00–23, minute 00–59 and second 00–59',
  offset: 'must have an offset of at most ±23:59',
  range: 'must fall within the years 0001–9999 (UTC)',
  plus: "must write an offset's + as %2B in a URL (a bare + reads as a space)",
} as const;

/** 0001-01-01T00:00:00Z in epoch milliseconds (Date.UTC reads years below 100 as 19xx). */
function startOfYearOne(): number {
  const date = new Date(0);
  date.setUTCFullYear(1, 0, 1);
  return date.getTime();
}

/** Reads one datetime parameter value: its instant, or why it is refused. */
export function readDateTime(value: string): DateTimeReading {
  if (DATE_TIME.test(value)) return readCalendarDateTime(value);
  if (UNIX_TIME.test(value) && /\d/.test(value)) return readUnixTime(value);
  if (DATE_TIME.test(value.replace(/ (\d{2}:?\d{2})$/, '+$1'))) return { reason: REASONS.plus };
  return { reason: REASONS.form };
}

/** Orders two canonical datetimes (from readDateTime) by the instant they name. */
export function compareCanonicalDateTimes(a: string, b: string): number {
  const [x, y] = [readDateTime(a), readDateTime(b)];
  if (!('epochMicros' in x) || !('epochMicros' in y)) throw new TypeError('not canonical datetimes');
  return x.epochMicros === y.epochMicros ? 0 : x.epochMicros < y.epochMicros ? -1 : 1;
}

function readCalendarDateTime(value: string): DateTimeReading {
  const parts = DATE_TIME.exec(value)?.groups ?? {};
  const number = (name: string): number => Number(parts[name] ?? 0);
  const [year, month, day, hour, minute, second] = [
    number('year'),
    number('month'),
    number('day'),
    number('hour'),
    number('minute'),
    number('second'),
  ];
  const [offsetHours, offsetMinutes] = [number('offsetHours'), number('offsetMinutes')];
  if (year < 1) return { reason: REASONS.range };
  const midnight = new Date(0);
  midnight.setUTCFullYear(year, month - 1, day);
  if (month < 1 || month > 12 || midnight.getUTCMonth() !== month - 1 || midnight.getUTCDate() !== day) {
    return { reason: REASONS.day };
  }
  if (hour > 23 || minute > 59 || second > 59) return { reason: REASONS.time };
  if (offsetHours > 23 || offsetMinutes > 59) return { reason: REASONS.offset };
  const offsetSeconds = (parts.sign === '-' ? -1 : 1) * (offsetHours * 3600 + offsetMinutes * 60);
  const seconds = midnight.getTime() / 1000 + hour * 3600 + minute * 60 + second - offsetSeconds;
  return toInstant(BigInt(seconds) * MICROS_PER_SECOND + fractionMicros(parts.fraction ?? '', 6));
}

function readUnixTime(value: string): DateTimeReading {
  const [, sign = '', digits = '', fraction = ''] = UNIX_TIME.exec(value) as RegExpExecArray;
  const whole = digits.replace(/^0+/, '');
  if (whole.length > MAX_UNIX_DIGITS) return { reason: REASONS.range };
  const wholeValue = BigInt(whole === '' ? '0' : whole);
  const isMilliseconds =
    wholeValue > MILLISECONDS_ABOVE || (wholeValue === MILLISECONDS_ABOVE && /[1-9]/.test(fraction));
  // The written digits past the microsecond are cut, as in the date-time form (towards zero here).
  const magnitude = isMilliseconds
    ? wholeValue * 1000n + fractionMicros(fraction, 3)
    : wholeValue * MICROS_PER_SECOND + fractionMicros(fraction, 6);
  return toInstant(sign === '-' ? -magnitude : magnitude);
}

/** The first `digits` digits of a fraction, as a count of its unit's 10^-digits parts. */
function fractionMicros(fraction: string, digits: number): bigint {
  return BigInt(fraction.slice(0, digits).padEnd(digits, '0'));
}

function toInstant(epochMicros: bigint): DateTimeReading {
  if (epochMicros < MIN_EPOCH_MICROS || epochMicros > MAX_EPOCH_MICROS) return { reason: REASONS.range };
  let seconds = epochMicros / MICROS_PER_SECOND;
  let micros = epochMicros % MICROS_PER_SECOND;
  if (micros < 0n) {
    seconds -= 1n;
    micros += MICROS_PER_SECOND;
  }
  const fraction = micros === 0n ? '' : `.${micros.toString().padStart(6, '0').replace(/0+$/, '')}`;
  const canonical = `${new Date(Number(seconds) * 1000).toISOString().slice(0, 19)}${fraction}Z`;
  return { canonical, epochMicros };
}
