import { describe, it, expect } from 'vitest';
import { canonicalTarget } from '../../../../gateway/proxy/path.ts';

const problemOf = (target: string): unknown => {
  try {
    canonicalTarget(target);
    return 'accepted';
  } catch (err) {
    return (err as { code: string; details: { problem: string } }).code + ':' + (err as { details: { problem: string } }).details.problem;
  }
};

describe('canonicalTarget', () => {
  it('accepts LND paths with hex and base64url parameters and keeps the query as sent', () => {
    expect(canonicalTarget('/v1/getinfo')).toEqual({ path: '/v1/getinfo', search: '' });
    expect(canonicalTarget('/v1/graph/node/02' + 'ab'.repeat(32))).toEqual({ path: '/v1/graph/node/02' + 'ab'.repeat(32), search: '' });
    expect(canonicalTarget('/v2/invoices/lookup?payment_hash=q83v%2B%2F8=&x=1')).toEqual({ path: '/v2/invoices/lookup', search: '?payment_hash=q83v%2B%2F8=&x=1' });
    expect(canonicalTarget('/v1/invoices/subscribe?method=GET')).toEqual({ path: '/v1/invoices/subscribe', search: '?method=GET' });
    // a dot inside or at the start of a segment is no dot segment; a dot in the query is the query's
    expect(canonicalTarget('/v1/.well-known/a.b?x=./.')).toEqual({ path: '/v1/.well-known/a.b', search: '?x=./.' });
  });

  it.each([
    ['/v1/../admin', 'dot-segment'],
    ['/v1/./getinfo', 'dot-segment'],
    ['/v1/getinfo.', 'dot-segment'],
    ['/v1/getinfo..', 'dot-segment'],
    ['/v1/a./b', 'dot-segment'],
    ['/v1/..', 'dot-segment'],
    ['/.', 'dot-segment'],
    ['/../v1/getinfo', 'dot-segment'],
    ['/v1/%2e%2e/x', 'encoded'],
    ['/v1/%252e%252e/x', 'encoded'],
    ['/v1/a%2fb', 'encoded'],
    ['/v1/a%00', 'encoded'],
    ['/v1//getinfo', 'empty-segment'],
    ['//v1/getinfo', 'empty-segment'],
    ['/v1\\getinfo', 'backslash'],
    ['/v1/getinfo?a=\\', 'backslash'],
    ['/v1/get info', 'character'],
    ['/v1/getinfo;x', 'character'],
    ['/v1/getinfo?x#frag', 'character'],
    ['*', 'not-origin-form'],
    ['http://evil/v1/getinfo', 'not-origin-form'],
    ['/' + 'a'.repeat(5000), 'too-long'],
  ])('refuses %s (%s)', (target, problem) => {
    expect(problemOf(target)).toBe(`NG_GW_BAD_REQUEST:${problem}`);
  });
});
