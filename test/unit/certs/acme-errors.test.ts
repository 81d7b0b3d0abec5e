import { describe, it, expect } from 'vitest';
import { acmeErrorFrom } from '../../../certs/acme.ts';
import { NodegateError } from '../../../core/errors.ts';

describe('ACME problem documents to coded errors', () => {
  it('maps rateLimited to NG_CERT_ACME_RATE_LIMITED with the CA detail and Retry-After', () => {
    const err = acmeErrorFrom(new Error('x'), [{ type: 'urn:ietf:params:acme:error:rateLimited', detail: 'too many certificates (5) already issued for this exact set of identifiers', status: 429, retryAfterSeconds: 3600 }], 'https://ca.test/dir');
    expect(err.code).toBe('NG_CERT_ACME_RATE_LIMITED');
    expect(err.details).toEqual({ type: 'urn:ietf:params:acme:error:rateLimited', detail: 'too many certificates (5) already issued for this exact set of identifiers', retryAfterSeconds: 3600 });
  });

  it('maps any other problem to NG_CERT_ACME with its type and detail, using the last one seen', () => {
    const err = acmeErrorFrom(new Error('x'), [{ type: 'urn:ietf:params:acme:error:badNonce', detail: 'a', status: 400 }, { type: 'urn:ietf:params:acme:error:rejectedIdentifier', detail: 'b', status: 400 }], 'https://ca.test/dir');
    expect(err).toMatchObject({ code: 'NG_CERT_ACME', details: { type: 'urn:ietf:params:acme:error:rejectedIdentifier', detail: 'b' } });
  });

  it('keeps a coded error as it is, and names the directory for a transport failure', () => {
    const coded = new NodegateError('NG_CERT_TXT_NOT_VISIBLE', 'x');
    expect(acmeErrorFrom(coded, [], 'https://ca.test/dir')).toBe(coded);
    expect(acmeErrorFrom(new Error('connect ECONNREFUSED'), [], 'https://ca.test/dir')).toMatchObject({ code: 'NG_CERT_ACME', details: undefined });
  });
});
