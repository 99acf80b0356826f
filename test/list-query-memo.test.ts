// The memo in front of the list query's validation reads every query exactly as the validation does (SPEC "Query validation", "Caching").
import { describe, expect, it } from 'vitest';
import { canonicalQueryString, createListQueryReader, parseListQuery } from '../src/batches/list-query.js';
import { Problem } from '../src/problem.js';

function outcomeOf(read: () => unknown): unknown {
  try {
    return { read: read() };
  } catch (error) {
    if (!(error instanceof Problem)) throw error;
    return { code: error.code, detail: error.detail, errors: error.errors };
  }
}

function direct(rawQuery: string): unknown {
  return outcomeOf(() => {
    const query = parseListQuery(new URLSearchParams(rawQuery));
    return { query, key: canonicalQueryString(query) };
  });
}

const QUERIES = [
  '',
  'limit=10',
  'limit=5',
  'status=completed&limit=5',
  'limit=5&status=completed',
  'created_after=2024-01-01+00:00:00&created_before=2024-01-02',
  'created_after=1704067200',
  'cursor=abc%20def',
  'limit=0',
  'limit=05',
  'limit=5&limit=6',
  'status=Completed',
  'created_after=2024-01-02&created_before=2024-01-01',
  'unknown=1&limit=x',
  'cursor=',
];

describe('list query — read through the memo', () => {
  it.each(QUERIES)('?%s reads as the validation reads it, the first time and again', (rawQuery) => {
    const read = createListQueryReader();
    const expected = direct(rawQuery);
    expect(outcomeOf(() => read(rawQuery))).toEqual(expected);
    expect(outcomeOf(() => read(rawQuery))).toEqual(expected);
  });

  it('keeps each query apart when many are read in turn, invalid ones among them', () => {
    const read = createListQueryReader();
    for (let round = 0; round < 3; round += 1) {
      for (const rawQuery of QUERIES) expect(outcomeOf(() => read(rawQuery))).toEqual(direct(rawQuery));
    }
  });

  it('still reads correctly once far more queries were read than it keeps', () => {
    const read = createListQueryReader();
    for (let index = 0; index < 3000; index += 1) read(`cursor=c${index}`);
    expect(read('cursor=c0').key).toBe('cursor=c0&limit=10');
    expect(read('cursor=c2999').key).toBe('cursor=c2999&limit=10');
  });

  it('hands out a query no caller can change', () => {
    const read = createListQueryReader();
    const { query } = read('limit=5');
    expect(() => ((query as { limit: number }).limit = 6)).toThrow(TypeError);
    expect(read('limit=5').query.limit).toBe(5);
  });
});
