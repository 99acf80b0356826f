// SPEC "Anything else" as a table: the one reading of a request target that both routes and audits it.
import { describe, expect, it } from 'vitest';
import { parseRequestTarget } from '../src/http/request-target.js';

describe('parseRequestTarget — plain targets', () => {
  it.each([
    ['/v3/batches', '/v3/batches', '/v3/batches'],
    ['/v3/batches?limit=5&status=completed', '/v3/batches', '/v3/batches?limit=5&status=completed'],
    ['/v3/batches?', '/v3/batches', '/v3/batches?'],
    ['/v3/batches?cursor=a%2Fb+c', '/v3/batches', '/v3/batches?cursor=a%2Fb+c'],
    ['/', '/', '/'],
    ['/v3/%62atches', '/v3/%62atches', '/v3/%62atches'],
    ['/v3/batches/', '/v3/batches/', '/v3/batches/'],
    ['/a..b/.c', '/a..b/.c', '/a..b/.c'],
  ])('%s is routed with path %s', (target, path, originForm) => {
    expect(parseRequestTarget(target)).toEqual({ path, originForm, refusal: undefined });
  });

  it.each([
    ['http://example.com/v3/batches?limit=4', '/v3/batches', '/v3/batches?limit=4'],
    ['HTTPS://EXAMPLE.COM/v3/batches', '/v3/batches', '/v3/batches'],
    ['http://example.com', '/', '/'],
    ['http://example.com?limit=4', '/', '/?limit=4'],
    ['http://127.0.0.1:8080/v3/batches', '/v3/batches', '/v3/batches'],
    ['http://[::1]:8080/v3/batches', '/v3/batches', '/v3/batches'],
    ['http://h:/v3/batches', '/v3/batches', '/v3/batches'],
    ['http://h:65535/v3/batches', '/v3/batches', '/v3/batches'],
    ['http://caf%C3%A9.example/v3/batches', '/v3/batches', '/v3/batches'],
  ])('absolute-form %s is read for its path and query (RFC 9112 §3.2.2)', (target, path, originForm) => {
    expect(parseRequestTarget(target)).toEqual({ path, originForm, refusal: undefined });
  });
});

describe('parseRequestTarget — refused targets keep the path they name, for the audit decision', () => {
  it.each([
    ['*', undefined, 'asterisk_form'],
    ['v3/batches', undefined, 'not_a_path'],
    ['example.com:443', undefined, 'not_a_path'],
    ['ftp://example.com/v3/batches', undefined, 'not_a_path'],
    ['//v3/batches', '//v3/batches', 'double_slash'],
    ['/v3/./batches', '/v3/./batches', 'dot_segment'],
    ['/v3/../v3/batches', '/v3/../v3/batches', 'dot_segment'],
    ['/v3/%2e%2e/batches', '/v3/%2e%2e/batches', 'dot_segment'],
    ['/v3/%2E/batches', '/v3/%2E/batches', 'dot_segment'],
    ['/v3/batches%', '/v3/batches%', 'bad_percent_encoding'],
    ['/%E0%A4%A', '/%E0%A4%A', 'bad_percent_encoding'],
    ['/v3/batches?cursor=%zz', '/v3/batches', 'bad_percent_encoding'],
    ['/v3/batches#x', '/v3/batches', 'fragment'],
    ['/v3/batches?limit=5#x', '/v3/batches', 'fragment'],
    ['http:///v3/batches?status=completed', '/v3/batches', 'bad_authority'],
    ['http://h:99999/v3/batches?limit=50', '/v3/batches', 'bad_authority'],
    ['http://h:123456789012345678901234567890/v3/batches', '/v3/batches', 'bad_authority'],
    ['http://a%zz/v3/batches', '/v3/batches', 'bad_authority'],
    ['http://user:pass@h/v3/batches', '/v3/batches', 'bad_authority'],
    ['http://h h/v3/batches', '/v3/batches', 'bad_authority'],
    ['http://h:8x/v3/batches', '/v3/batches', 'bad_authority'],
    ['http://[::1/v3/batches', '/v3/batches', 'bad_authority'],
    ['http://h//v3/batches', '//v3/batches', 'double_slash'],
    ['http://h/v3/../v3/batches', '/v3/../v3/batches', 'dot_segment'],
  ])('%s is refused (path %s, %s)', (target, path, refusal) => {
    expect(parseRequestTarget(target)).toEqual({ path, originForm: undefined, refusal });
  });
});
