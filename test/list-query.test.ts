// Table tests of the list query's validation and canonical form (SPEC "GET /v3/batches" Query validation, "Caching").
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalQueryString, parseListQuery } from '../src/batches/list-query.js';
import { Problem } from '../src/problem.js';
import { ACCEPTED_DATETIMES, REFUSED_DATETIMES } from './helpers/datetime-forms.js';

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

const RFC3339_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?Z$/;

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

  it('reports every offending parameter, each with its own reason, in the order written', () => {
    const problem = rejectionOf('limit=0&status=x&foo=1');
    expect(problem.errors).toEqual([
      { field: 'limit', message: 'must be between 1 and 50' },
      { field: 'status', message: 'must be one of processing, completed, error' },
      {
        field: 'foo',
        message: 'is not a known parameter (known: created_after, created_before, cursor, limit, status)',
      },
    ]);
    expect(problem.detail).toBe(
      'limit must be between 1 and 50; status must be one of processing, completed, error; ' +
        '"foo" is not a known parameter (known: created_after, created_before, cursor, limit, status)',
    );
  });

  it.each([
    [
      'an unknown, a repeated and an empty parameter',
      'foo=1&limit=5&limit=6&status=',
      ['foo', 'limit', 'status'],
    ],
    [
      'a malformed datetime beside a bad limit',
      'created_before=2024-02-30&limit=05',
      ['created_before', 'limit'],
    ],
    [
      'an inverted range beside a bad status',
      'status=Done&created_after=2024-02-01&created_before=2024-01-01',
      ['status', 'created_after'],
    ],
    [
      'every parameter wrong',
      'created_after=x&created_before=y&cursor=&limit=%2B1&status=z&bar=',
      ['created_after', 'created_before', 'cursor', 'limit', 'status', 'bar'],
    ],
  ])('reports %s, one entry per field', (_label, query, fields) => {
    const problem = rejectionOf(query);
    expect(fieldsOf(problem)).toEqual(fields);
    expect(problem.detail.split('; ')).toHaveLength(fields.length);
  });

  it('quotes an unknown parameter name in detail, so an empty name still shows', () => {
    expect(rejectionOf('=5').detail).toMatch(/^"" is not a known parameter/);
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

  it.each([['0'], ['51'], ['99'], ['9999999999999999999999']])(
    'refuses limit=%j with "limit must be between 1 and 50"',
    (limit) => {
      const problem = rejectionOf({ limit });
      expect(problem.status).toBe(400);
      expect(problem.detail).toBe('limit must be between 1 and 50');
      expect(fieldsOf(problem)).toEqual(['limit']);
    },
  );

  it.each([
    ['05', 'must not have a leading zero'],
    ['00', 'must not have a leading zero'],
    ['01', 'must not have a leading zero'],
    ['010', 'must not have a leading zero'],
    ['+5', 'must be written without a sign'],
    ['-1', 'must be written without a sign'],
    ['-0', 'must be written without a sign'],
    ['+05', 'must be written without a sign'],
    ['5.0', 'must be a whole number written in the digits 0–9'],
    ['5.', 'must be a whole number written in the digits 0–9'],
    ['1e1', 'must be a whole number written in the digits 0–9'],
    ['0x5', 'must be a whole number written in the digits 0–9'],
    [' 5', 'must be a whole number written in the digits 0–9'],
    ['5 ', 'must be a whole number written in the digits 0–9'],
    ['5\n', 'must be a whole number written in the digits 0–9'],
    ['５', 'must be a whole number written in the digits 0–9'],
    ['٥', 'must be a whole number written in the digits 0–9'],
    ['five', 'must be a whole number written in the digits 0–9'],
    ['Infinity', 'must be a whole number written in the digits 0–9'],
    ['NaN', 'must be a whole number written in the digits 0–9'],
  ])('refuses limit=%j because it %s', (limit, message) => {
    const problem = rejectionOf({ limit });
    expect(problem.errors).toEqual([{ field: 'limit', message }]);
    expect(problem.detail).toBe(`limit ${message}`);
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

  it.each([
    ['Completed', 'must be lowercase: completed'],
    ['ERROR', 'must be lowercase: error'],
    ['done', 'must be one of processing, completed, error'],
  ])('says why status=%j is refused: %s', (status, message) => {
    expect(rejectionOf({ status }).errors).toEqual([{ field: 'status', message }]);
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

describe('list query — datetimes (SPEC "Datetimes")', () => {
  describe.each([['created_after'], ['created_before']])('%s', (field) => {
    it.each(ACCEPTED_DATETIMES)('accepts %s %j as %s', (_row, input, canonical) => {
      expect(parse({ [field]: input })).toEqual({ [field]: canonical, limit: 10 });
      expect(canonical).toMatch(RFC3339_UTC);
    });

    // An empty value is its own rule ("must not be empty", under parameters above).
    it.each(REFUSED_DATETIMES.filter(([, input]) => input !== ''))(
      'refuses %s %j, naming the field and why',
      (_form, input) => {
        const problem = rejectionOf({ [field]: input });
        expect(problem.code).toBe('invalid_query');
        expect(problem.errors).toEqual([
          { field, message: expect.stringMatching(/^must |^names /) as string },
        ]);
        expect(problem.detail).toBe(`${field} ${problem.errors?.[0]?.message}`);
      },
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
