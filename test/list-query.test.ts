// Table tests of the list query's validation and canonical form (SPEC "GET /v3/batches" Query validation, "Caching").
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalQueryString, normalizeDateTime, parseListQuery } from '../src/batches/list-query.js';
import { Problem } from '../src/problem.js';

type QueryInit = string | Record<string, string> | [string, string][];

function parse(init: QueryInit) {
  return parseListQuery(new URLSearchParams(init));
}

function canonical(init: QueryInit): string {
  return canonicalQueryString(parse(init));
}

function rejectionOf(init: QueryInit): Problem {
  try {
    parse(init);
  } catch (error) {
    if (error instanceof Problem) return error;
    throw error;
  }
  throw new Error(`expected ${new URLSearchParams(init).toString()} to be rejected`);
}

function fieldsOf(problem: Problem): string[] {
  return (problem.errors ?? []).map((error) => error.field);
}

const RFC3339_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z$/;

describe('list query — the problem it throws', () => {
  it('is invalid_query, 400, with one {field, message} per error and a readable detail', () => {
    const problem = rejectionOf('limit=0');
    expect(problem.code).toBe('invalid_query');
    expect(problem.status).toBe(400);
    expect(problem.type).toBe('urn:ntropy-bff:problem:invalid-query');
    expect(problem.title).toBe('Invalid query');
    expect(problem.detail).toBe('limit must be between 1 and 50');
    expect(problem.errors).toEqual([{ field: 'limit', message: expect.any(String) as string }]);
    for (const error of problem.errors ?? []) expect(Object.keys(error).sort()).toEqual(['field', 'message']);
  });

  it('names every offending field in errors and in detail', () => {
    const problem = rejectionOf('limit=0&status=done');
    expect(fieldsOf(problem).sort()).toEqual(['limit', 'status']);
    expect(problem.detail).toContain('limit');
    expect(problem.detail).toContain('status');
  });
});

describe('list query — parameters', () => {
  it('accepts the empty query, with limit defaulting to 10', () => {
    expect(parse('')).toEqual({ limit: 10 });
  });

  it('accepts all five parameters together', () => {
    expect(
      parse('created_after=2024-01-01&created_before=2024-02-01&cursor=abc&limit=5&status=completed'),
    ).toEqual({
      created_after: '2024-01-01T00:00:00Z',
      created_before: '2024-02-01T00:00:00Z',
      cursor: 'abc',
      limit: 5,
      status: 'completed',
    });
  });

  it.each([
    ['foo=1', 'foo'],
    ['offset=10', 'offset'],
    ['page=2', 'page'],
    ['created_at=2024-01-01', 'created_at'],
    ['api_key=secret', 'api_key'],
    ['LIMIT=5', 'LIMIT'],
    ['Status=completed', 'Status'],
    ['limit%20=5', 'limit '],
    ['__proto__=x', '__proto__'],
    ['constructor=x', 'constructor'],
    ['=5', ''],
    ['limit=5&foo=1', 'foo'],
  ])('rejects the unknown parameter in %j', (query, field) => {
    const problem = rejectionOf(query);
    expect(problem.code).toBe('invalid_query');
    expect(fieldsOf(problem)).toContain(field);
  });

  it.each([
    ['limit', 'limit=5&limit=6'],
    ['limit', 'limit=5&limit=5'],
    ['limit', 'limit=&limit=5'],
    ['status', 'status=completed&status=error'],
    ['status', 'status=completed&status=completed'],
    ['cursor', 'cursor=a&cursor=b'],
    ['cursor', 'cursor=a&cursor=a'],
    ['created_after', 'created_after=2024-01-01&created_after=2024-01-02'],
    ['created_after', 'created_after=2024-01-01&created_after=2024-01-01'],
    ['created_before', 'created_before=2024-01-01&created_before=2024-01-01T00:00:00Z'],
    ['limit', 'limit=5&status=error&limit=5'],
  ])('rejects %s given more than once (%j)', (field, query) => {
    const problem = rejectionOf(query);
    expect(problem.code).toBe('invalid_query');
    expect(fieldsOf(problem)).toContain(field);
  });

  it.each([
    ['limit', 'limit='],
    ['limit', 'limit'],
    ['status', 'status='],
    ['cursor', 'cursor='],
    ['cursor', 'cursor'],
    ['created_after', 'created_after='],
    ['created_before', 'created_before='],
  ])('rejects an empty %s (%j)', (field, query) => {
    const problem = rejectionOf(query);
    expect(problem.code).toBe('invalid_query');
    expect(fieldsOf(problem)).toEqual([field]);
  });
});

describe('list query — limit', () => {
  it.each([
    ['1', 1],
    ['2', 2],
    ['9', 9],
    ['10', 10],
    ['25', 25],
    ['49', 49],
    ['50', 50],
  ])('accepts limit=%s', (value, limit) => {
    expect(parse({ limit: value }).limit).toBe(limit);
    expect(canonical({ limit: value })).toBe(`limit=${limit}`);
  });

  it.each([
    ['0'],
    ['00'],
    ['51'],
    ['99'],
    ['100'],
    ['010'],
    ['01'],
    ['+5'],
    ['-1'],
    ['-0'],
    ['5.0'],
    ['5.'],
    ['1e1'],
    ['0x5'],
    [' 5'],
    ['5 '],
    ['5\n'],
    ['５'],
    ['٥'],
    ['five'],
    ['Infinity'],
    ['NaN'],
    ['9999999999999999999999'],
  ])('rejects limit=%j with "limit must be between 1 and 50"', (limit) => {
    const problem = rejectionOf({ limit });
    expect(problem.status).toBe(400);
    expect(problem.detail).toBe('limit must be between 1 and 50');
    expect(fieldsOf(problem)).toEqual(['limit']);
  });
});

describe('list query — status', () => {
  it.each([['processing'], ['completed'], ['error']])('accepts status=%s', (status) => {
    expect(parse({ status }).status).toBe(status);
    expect(canonical({ status })).toBe(`limit=10&status=${status}`);
  });

  it.each([
    ['Completed'],
    ['COMPLETED'],
    ['Processing'],
    ['ERROR'],
    ['complete'],
    ['done'],
    ['failed'],
    ['pending'],
    [' completed'],
    ['completed '],
    ['processing,completed'],
    ['completed\u0000'],
  ])('rejects status=%j', (status) => {
    const problem = rejectionOf({ status });
    expect(problem.code).toBe('invalid_query');
    expect(fieldsOf(problem)).toEqual(['status']);
  });
});

describe('list query — cursor', () => {
  it.each([
    ['a single character', 'a'],
    ['1024 ASCII characters', 'x'.repeat(1024)],
    ['1024 two-byte characters', 'é'.repeat(1024)],
    ['1024 astral-plane characters (2048 UTF-16 units)', '😀'.repeat(1024)],
    ['1023 ASCII and one astral character', `${'x'.repeat(1023)}😀`],
    ['reserved characters', 'a b+c&d=e?f#g/h%i'],
  ])('accepts %s and keeps it exactly', (_label, cursor) => {
    expect(parse({ cursor }).cursor).toBe(cursor);
    expect(new URLSearchParams(canonical({ cursor })).get('cursor')).toBe(cursor);
  });

  it.each([
    ['1025 ASCII characters', 'x'.repeat(1025)],
    ['1025 astral-plane characters', '😀'.repeat(1025)],
    ['1024 ASCII and one astral character', `${'x'.repeat(1024)}😀`],
    ['2000 characters', 'y'.repeat(2000)],
  ])('rejects %s', (_label, cursor) => {
    const problem = rejectionOf({ cursor });
    expect(problem.code).toBe('invalid_query');
    expect(fieldsOf(problem)).toEqual(['cursor']);
  });
});

const acceptedDateTimes: [label: string, input: string, utc: string][] = [
  ['Z', '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z'],
  ['a positive offset', '2024-01-01T02:00:00+02:00', '2024-01-01T00:00:00Z'],
  ['a negative half-hour offset', '2024-01-01T00:00:00-05:30', '2024-01-01T05:30:00Z'],
  ['+14:00 crossing back a year', '2024-01-01T00:00:00+14:00', '2023-12-31T10:00:00Z'],
  ['-00:00', '2024-01-01T00:00:00-00:00', '2024-01-01T00:00:00Z'],
  ['+00:00', '2024-06-15T13:45:30+00:00', '2024-06-15T13:45:30Z'],
  ['no offset (taken as UTC)', '2024-01-01T00:00:00', '2024-01-01T00:00:00Z'],
  ['no offset, afternoon', '2024-06-15T13:45:30', '2024-06-15T13:45:30Z'],
  ['a one-digit fraction', '2024-01-01T00:00:00.5Z', '2024-01-01T00:00:00.500Z'],
  ['a millisecond fraction', '2024-01-01T00:00:00.123Z', '2024-01-01T00:00:00.123Z'],
  ['a zero fraction', '2024-01-01T00:00:00.000Z', '2024-01-01T00:00:00Z'],
  ['a fraction and an offset', '2024-06-30T23:59:59.250-07:00', '2024-07-01T06:59:59.250Z'],
  ['a fraction without offset', '2024-01-01T12:00:00.75', '2024-01-01T12:00:00.750Z'],
  ['an offset crossing into a leap day', '2024-03-01T00:30:00+01:00', '2024-02-29T23:30:00Z'],
  ['an offset crossing a year', '2024-12-31T23:59:59.999-00:30', '2025-01-01T00:29:59.999Z'],
  ['a bare date (midnight UTC)', '2024-01-01', '2024-01-01T00:00:00Z'],
  ['a bare leap day', '2024-02-29', '2024-02-29T00:00:00Z'],
  ['a bare leap day of a 400th year', '2000-02-29', '2000-02-29T00:00:00Z'],
  ['the last second of a year', '2023-12-31T23:59:59Z', '2023-12-31T23:59:59Z'],
  ['a date before the epoch', '1969-07-20T20:17:40Z', '1969-07-20T20:17:40Z'],
  ['a two-digit-century year', '0099-01-01', '0099-01-01T00:00:00Z'],
];

const rejectedDateTimes: [label: string, input: string][] = [
  ['a week date', '2024-W01-1'],
  ['a basic week date', '2024W011'],
  ['an ordinal date', '2024-001'],
  ['an ordinal date-time', '2024-001T00:00:00Z'],
  ['basic format', '20240101T000000Z'],
  ['a basic date', '20240101'],
  ['an offset without colon', '2024-01-01T00:00:00+0200'],
  ['an hour-only offset', '2024-01-01T00:00:00+02'],
  ['an offset hour of 24', '2024-01-01T00:00:00+24:00'],
  ['an offset minute of 60', '2024-01-01T00:00:00+02:60'],
  ['29 February of a common year', '2023-02-29'],
  ['29 February of a century year', '1900-02-29'],
  ['month 13', '2024-13-01'],
  ['month 00', '2024-00-10'],
  ['day 00', '2024-01-00'],
  ['31 April', '2024-04-31'],
  ['32 January', '2024-01-32'],
  ['31 June in a date-time', '2024-06-31T00:00:00Z'],
  ['hour 24', '2024-01-01T24:00:00Z'],
  ['minute 60', '2024-01-01T00:60:00Z'],
  ['second 61', '2024-01-01T00:00:61Z'],
  ['a space separator', '2024-01-01 00:00:00Z'],
  ['a lowercase t separator', '2024-01-01t00:00:00Z'],
  ['a lowercase z', '2024-01-01T00:00:00z'],
  ['no seconds', '2024-01-01T00:00Z'],
  ['no time after T', '2024-01-01T'],
  ['an empty fraction', '2024-01-01T00:00:00.Z'],
  ['a comma fraction', '2024-01-01T00:00:00,5Z'],
  ['one-digit month', '2024-1-01'],
  ['one-digit day', '2024-01-1'],
  ['one-digit hour', '2024-01-01T0:00:00Z'],
  ['a five-digit year', '20240-01-01'],
  ['an extended year', '+002024-01-01T00:00:00Z'],
  ['a negative year', '-2024-01-01'],
  ['a year and month only', '2024-01'],
  ['fullwidth digits', '２０２４-01-01'],
  ['trailing garbage', '2024-01-01T00:00:00Zjunk'],
  ['a doubled Z', '2024-01-01T00:00:00ZZ'],
  ['Z after an offset', '2024-01-01T00:00:00+02:00Z'],
  ['a date with trailing garbage', '2024-01-01x'],
  ['a trailing space', '2024-01-01T00:00:00Z '],
  ['a leading space', ' 2024-01-01'],
  ['a trailing newline', '2024-01-01\n'],
  ['epoch seconds', '1704067200'],
  ['an HTTP date', 'Mon, 01 Jan 2024 00:00:00 GMT'],
  ['a word', 'yesterday'],
];

describe('list query — datetimes', () => {
  it.each(acceptedDateTimes)(
    'normalizeDateTime accepts %s (%s) and writes it as %s',
    (_label, input, utc) => {
      expect(normalizeDateTime(input)).toBe(utc);
    },
  );

  it.each(rejectedDateTimes)('normalizeDateTime rejects %s (%j)', (_label, input) => {
    expect(normalizeDateTime(input)).toBeUndefined();
  });

  describe.each([['created_after'], ['created_before']])('%s', (field) => {
    it.each(acceptedDateTimes)('accepts %s and normalizes %j to %s', (_label, input, utc) => {
      expect(parse({ [field]: input })).toEqual({ [field]: utc, limit: 10 });
    });

    it.each(rejectedDateTimes)('rejects %s (%j) naming the field', (_label, input) => {
      const problem = rejectionOf({ [field]: input });
      expect(problem.code).toBe('invalid_query');
      expect(problem.errors).toEqual([{ field, message: expect.any(String) as string }]);
      expect(problem.detail).toContain(field);
    });
  });

  // RFC 3339 time-secfrac is "." 1*DIGIT: any number of digits is a valid fraction.
  it.each([
    ['nine fraction digits', '2024-01-01T00:00:00.123456789Z'],
    ['ten fraction digits', '2024-01-01T00:00:00.1234567890Z'],
    ['twelve fraction digits with an offset', '2024-01-01T02:00:00.123456789012+02:00'],
  ])('accepts %s', (_label, input) => {
    expect(parse({ created_after: input }).created_after).toMatch(/^2024-01-01T00:00:00\.123\d*Z$/);
  });

  // SPEC: every datetime is sent upstream as UTC with Z, so a value must still be an RFC 3339 date-time in UTC.
  it.each([
    ['9999-12-31T23:59:59-01:00'],
    ['9999-12-31T23:00:00-23:59'],
    ['0000-01-01T00:00:00+01:00'],
    ['0000-01-01T00:30:00+00:31'],
    ['9999-12-31T23:59:59Z'],
    ['0000-01-01'],
  ])('never turns %j into anything but a four-digit-year UTC date-time', (input) => {
    let normalized: string | undefined;
    try {
      normalized = parse({ created_after: input }).created_after;
    } catch (error) {
      expect(error).toBeInstanceOf(Problem);
      return;
    }
    expect(normalized).toMatch(RFC3339_UTC);
  });

  it('normalizes any instant written in any offset to the one UTC string', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: Date.UTC(1900, 0, 1), max: Date.UTC(2100, 0, 1) }),
        fc.integer({ min: -(23 * 60 + 59), max: 23 * 60 + 59 }),
        (epochMs, offsetMin) => {
          const local = new Date(epochMs + offsetMin * 60_000).toISOString().slice(0, -1);
          const sign = offsetMin < 0 ? '-' : '+';
          const abs = Math.abs(offsetMin);
          const offset = `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
          const normalized = parse({ created_after: `${local}${offset}` }).created_after;
          expect(normalized).toBe(new Date(epochMs).toISOString().replace('.000Z', 'Z'));
          expect(normalized).toMatch(RFC3339_UTC);
        },
      ),
    );
  });
});

describe('list query — created_after later than created_before', () => {
  it.each([
    ['a later date', '2024-01-02', '2024-01-01'],
    ['one second later', '2024-01-01T00:00:01Z', '2024-01-01T00:00:00Z'],
    ['half a second later', '2024-01-01T00:00:00.5Z', '2024-01-01T00:00:00Z'],
    ['one millisecond later', '2024-01-01T00:00:00.001Z', '2024-01-01T00:00:00Z'],
    ['half a millisecond later', '2024-01-01T00:00:00.0005Z', '2024-01-01T00:00:00Z'],
    ['a microsecond later', '2024-01-01T00:00:00.123457Z', '2024-01-01T00:00:00.123456Z'],
    ['later across offsets', '2024-01-01T01:00:00+00:00', '2024-01-01T01:30:00+01:00'],
    ['later though it reads earlier', '2024-01-01T00:00:00-05:30', '2024-01-01T05:00:00Z'],
    ['offsetless (UTC) against an offset', '2024-01-01T00:00:00', '2024-01-01T00:00:00+00:01'],
    ['a bare date after a date-time', '2024-01-02', '2024-01-01T23:59:59.999Z'],
  ])('rejects %s (after=%s, before=%s)', (_label, after, before) => {
    const problem = rejectionOf({ created_after: after, created_before: before });
    expect(problem.code).toBe('invalid_query');
    expect(problem.status).toBe(400);
    expect(problem.errors).toHaveLength(1);
    expect(['created_after', 'created_before']).toContain(problem.errors?.[0]?.field);
  });

  it.each([
    ['the same value', '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z'],
    ['the same instant across offsets', '2024-01-01T02:00:00+02:00', '2024-01-01T00:00:00Z'],
    ['the same instant as date and date-time', '2024-01-01', '2024-01-01T00:00:00'],
    ['the same instant with and without a fraction', '2024-01-01T00:00:00.500Z', '2024-01-01T00:00:00.5Z'],
    ['an earlier after', '2024-01-01', '2024-02-01'],
    ['an earlier after that reads later', '2024-01-01T01:00:00+02:00', '2024-01-01T00:00:00Z'],
    ['a millisecond earlier', '2024-01-01T00:00:00.999Z', '2024-01-01T00:00:01Z'],
  ])('accepts %s (after=%s, before=%s)', (_label, after, before) => {
    const query = parse({ created_after: after, created_before: before });
    expect(query.created_after).toMatch(RFC3339_UTC);
    expect(query.created_before).toMatch(RFC3339_UTC);
  });
});

describe('list query — canonical query string', () => {
  it('applies the default limit and a fixed parameter order', () => {
    expect(canonical('')).toBe('limit=10');
    expect(
      canonical('status=error&limit=5&cursor=c&created_before=2024-02-01&created_after=2024-01-01'),
    ).toBe(
      'created_after=2024-01-01T00%3A00%3A00Z&created_before=2024-02-01T00%3A00%3A00Z&cursor=c&limit=5&status=error',
    );
  });

  it.each([
    ['the empty query and limit=10', '', 'limit=10'],
    ['a bare ? and limit=10', '?', 'limit=10'],
    ['empty pieces and limit=10', '&&limit=10&', 'limit=10'],
    ['status alone and with the default limit', 'status=completed', 'limit=10&status=completed'],
    ['reordered parameters', 'status=completed&limit=5', 'limit=5&status=completed'],
    [
      'all five reordered',
      'status=error&cursor=c&limit=7&created_before=2024-02-01&created_after=2024-01-01',
      'created_after=2024-01-01&created_before=2024-02-01&cursor=c&limit=7&status=error',
    ],
    ['an offset and Z', 'created_after=2024-01-01T02:00:00%2B02:00', 'created_after=2024-01-01T00:00:00Z'],
    [
      'a negative offset and Z',
      'created_before=2023-12-31T19:00:00-05:00',
      'created_before=2024-01-01T00:00:00.000Z',
    ],
    [
      'a bare date and an offsetless midnight',
      'created_after=2024-01-01',
      'created_after=2024-01-01T00:00:00',
    ],
    [
      'a short and a long fraction',
      'created_after=2024-01-01T00:00:00.5Z',
      'created_after=2024-01-01T00:00:00.500Z',
    ],
    ['a percent-encoded name', 'li%6Dit=5', 'limit=5'],
  ])('gives one string for %s', (_label, a, b) => {
    expect(canonical(a)).toBe(canonical(b));
  });

  it.each([
    ['different limits', 'limit=5', 'limit=6'],
    ['different statuses', 'status=completed', 'status=error'],
    ['different cursors', 'cursor=a', 'cursor=b'],
    ['a space and a plus in the cursor', 'cursor=a+b', 'cursor=a%2Bb'],
    ['an encoded & in the cursor and a real parameter', 'cursor=a%26limit%3D5', 'cursor=a&limit=5'],
    ['the same value as after and as before', 'created_after=2024-01-01', 'created_before=2024-01-01'],
    [
      'datetimes one second apart',
      'created_after=2024-01-01T00:00:01Z',
      'created_after=2024-01-01T00:00:00Z',
    ],
    [
      'datetimes a millisecond apart',
      'created_after=2024-01-01T00:00:00.001Z',
      'created_after=2024-01-01T00:00:00Z',
    ],
    [
      'datetimes half a millisecond apart',
      'created_after=2024-01-01T00:00:00.0005Z',
      'created_after=2024-01-01T00:00:00Z',
    ],
  ])('gives distinct strings for %s', (_label, a, b) => {
    expect(canonical(a)).not.toBe(canonical(b));
  });

  it.each([
    [''],
    ['status=processing&limit=50'],
    ['cursor=a+b%2Bc%26d%3De%25f%23g%2Fh%3Fi'],
    ['cursor=caf%C3%A9%F0%9F%98%80'],
    ['created_after=2024-01-01T02:00:00.25%2B02:00&created_before=2024-02-01'],
  ])('is its own canonical form (%j)', (query) => {
    const once = canonical(query);
    expect(canonical(once)).toBe(once);
    expect(parse(once)).toEqual(parse(query));
  });

  it('carries any cursor through unchanged', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', minLength: 1, maxLength: 1024 }), (value) => {
        // URLSearchParams holds well-formed strings only, as a parsed request target does.
        const cursor = new URLSearchParams({ cursor: value }).get('cursor') ?? '';
        expect(new URLSearchParams(canonical({ cursor })).getAll('cursor')).toEqual([cursor]);
      }),
    );
  });
});
