// SPEC "GET /v3/batches" Datetimes, row by row: each row's examples and its verdict, and the one canonical UTC form.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareCanonicalDateTimes, readDateTime } from '../src/batches/datetime.js';
import { ACCEPTED_DATETIMES, REFUSED_DATETIMES } from './helpers/datetime-forms.js';

const CANONICAL = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{0,5}[1-9])?Z$/;

function canonicalOf(value: string): string {
  const reading = readDateTime(value);
  if (!('canonical' in reading)) throw new Error(`${JSON.stringify(value)} was refused: ${reading.reason}`);
  return reading.canonical;
}

/** Microseconds since the epoch written as signed decimal Unix seconds, e.g. -1500000n as "-1.500000". */
function unixSeconds(epochMicros: bigint): string {
  const magnitude = epochMicros < 0n ? -epochMicros : epochMicros;
  const fraction = String(magnitude % 1_000_000n).padStart(6, '0');
  return `${epochMicros < 0n ? '-' : ''}${magnitude / 1_000_000n}.${fraction}`;
}

function reasonFor(value: string): string {
  const reading = readDateTime(value);
  if ('canonical' in reading)
    throw new Error(`${JSON.stringify(value)} was accepted as ${reading.canonical}`);
  return reading.reason;
}

describe('datetimes — accepted forms (SPEC "Datetimes", accepted: yes)', () => {
  it.each(ACCEPTED_DATETIMES)('%s: %j is accepted and sent as %s', (_row, input, canonical) => {
    expect(canonicalOf(input)).toBe(canonical);
    expect(canonical).toMatch(CANONICAL);
  });

  it.each(ACCEPTED_DATETIMES)('%s: the canonical form of %j is its own canonical form', (_row, input) => {
    const canonical = canonicalOf(input);
    expect(canonicalOf(canonical)).toBe(canonical);
  });
});

describe('datetimes — refused forms (SPEC "Datetimes", accepted: no)', () => {
  it.each(REFUSED_DATETIMES)('%s: %j is refused with a reason', (_form, input) => {
    expect(reasonFor(input)).toMatch(/^must |^names /);
  });

  it.each([
    ['2024-02-30', 'names a day that does not exist'],
    ['2024-01-01T24:00:00', 'must have hour 00–23, minute 00–59 and second 00–59'],
    ['2024-01-01T00:00:00+24:00', 'must have an offset of at most ±23:59'],
    ['0000-01-01', 'must fall within the years 0001–9999 (UTC)'],
    ['253402300800000', 'must fall within the years 0001–9999 (UTC)'],
    ['2024-01-01 00:00:00 00:00', "must write an offset's + as %2B in a URL (a bare + reads as a space)"],
    ['2024-01-01T02:00 0200', "must write an offset's + as %2B in a URL (a bare + reads as a space)"],
    ['2024-W01-1', expect.stringContaining('must be a date-time such as 2024-01-01T00:00:00Z') as string],
  ])('says why %j is refused', (input, reason) => {
    expect(reasonFor(input)).toEqual(reason);
  });
});

describe('datetimes — one canonical form per instant', () => {
  it.each([
    [
      '2024-01-01T00:00:00Z',
      [
        '2024-01-01',
        '2024-01-01T00:00:00',
        '2024-01-01 00:00',
        '2024-01-01t00:00:00z',
        '2024-01-01_00:00:00.000',
        '2024-01-01T02:00:00+02:00',
        '2024-01-01T02:00:00+0200',
        '2023-12-31 19:00:00-05:00',
        '1704067200',
        '1704067200.0',
        '+1704067200',
        '1704067200000',
      ],
    ],
    [
      '2024-01-01T00:00:00.5Z',
      [
        '2024-01-01T00:00:00.5Z',
        '2024-01-01 00:00:00.500000+00:00',
        '2024-01-01T01:00:00.5000009+01:00',
        '1704067200.5',
        '1704067200500',
        '1704067200500.0009',
      ],
    ],
  ])('writes every spelling of %s alike', (canonical, spellings) => {
    for (const spelling of spellings)
      expect([spelling, canonicalOf(spelling)]).toEqual([spelling, canonical]);
  });

  it('writes an instant in any offset, separator and Unix spelling as the same canonical string', () => {
    // Unix seconds up to ±2×10¹⁰ (years 1336 to 2603): beyond that a number is read as milliseconds.
    const limitMicros = 20_000_000_000n * 1_000_000n;
    fc.assert(
      fc.property(
        fc.bigInt({ min: -limitMicros, max: limitMicros }),
        fc.integer({ min: -(23 * 60 + 59), max: 23 * 60 + 59 }),
        fc.constantFrom('T', 't', ' ', '_'),
        (epochMicros, offsetMin, separator) => {
          const micros = ((epochMicros % 1_000_000n) + 1_000_000n) % 1_000_000n;
          const seconds = (epochMicros - micros) / 1_000_000n;
          const fraction = String(micros).padStart(6, '0');
          const wallMs = Number(seconds) * 1000 + offsetMin * 60_000;
          const wall = new Date(wallMs).toISOString().slice(0, 19).replace('T', separator);
          const abs = Math.abs(offsetMin);
          const offset = `${offsetMin < 0 ? '-' : '+'}${String(Math.floor(abs / 60)).padStart(2, '0')}${String(abs % 60).padStart(2, '0')}`;
          const canonical = canonicalOf(`${wall}.${fraction}${offset}`);
          expect(canonical).toMatch(CANONICAL);
          expect(canonicalOf(unixSeconds(epochMicros))).toBe(canonical);
          expect(new Date(canonical).getTime()).toBe(
            Number(seconds) * 1000 + Math.floor(Number(micros) / 1000),
          );
        },
      ),
    );
  });
});

describe('datetimes — order of two instants', () => {
  it.each([
    ['2024-01-01T00:00:00Z', '2024-01-01T00:00:00.000001Z', -1],
    ['2024-01-01T00:00:00.5Z', '2024-01-01T00:00:00Z', 1],
    ['2024-01-01T00:00:00.5Z', '2024-01-01T00:00:00.5Z', 0],
    ['1969-12-31T23:59:59.999999Z', '1970-01-01T00:00:00Z', -1],
    ['0001-01-01T00:00:00Z', '9999-12-31T23:59:59.999999Z', -1],
  ])('compares %s with %s as %i', (a, b, order) => {
    expect(compareCanonicalDateTimes(a, b)).toBe(order);
  });
});
