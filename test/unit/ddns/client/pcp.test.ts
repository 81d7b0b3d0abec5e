import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { NodegateError } from '../../../../core/errors.ts';
import { buildMapRequest, parseMapReply } from '../../../../ddns/client/pcp.ts';
import { fuzzBuffers } from '../../../support/fuzz.ts';

function reply(nonce: Buffer, result = 0, ext = [198, 51, 100, 2]): Buffer {
  const b = Buffer.alloc(60);
  b[0] = 2;
  b[1] = 0x81;
  b[3] = result;
  b.writeUInt32BE(7200, 4);
  b.writeUInt32BE(42, 8);
  nonce.copy(b, 24);
  b[36] = 6;
  b.writeUInt16BE(8443, 40);
  b.writeUInt16BE(8443, 42);
  b[54] = 0xff;
  b[55] = 0xff;
  Buffer.from(ext).copy(b, 56);
  return b;
}

describe('PCP MAP (RFC 6887 §11)', () => {
  it('builds a 60-byte MAP request with the client address IPv4-mapped', () => {
    const nonce = Buffer.alloc(12, 1);
    const req = buildMapRequest({ clientAddress: '192.168.1.10', nonce, protocol: 6, internalPort: 8443, externalPort: 8443, lifetimeS: 7200 });
    expect(req.toString('hex')).toBe(
      '0201000000001c2000000000000000000000ffffc0a8010a' + '010101010101010101010101' + '06000000' + '20fb20fb' + '00000000000000000000ffff00000000',
    );
  });

  it('parses the reply, ignores replies to other nonces, names refusals', () => {
    const nonce = randomBytes(12);
    expect(parseMapReply(reply(nonce), nonce)).toMatchObject({ lifetimeS: 7200, epoch: 42, internalPort: 8443, externalPort: 8443, externalAddress: '198.51.100.2' });
    expect(parseMapReply(reply(randomBytes(12)), nonce)).toBeUndefined();
    expect(() => parseMapReply(reply(nonce, 8), nonce)).toThrow(expect.objectContaining({ code: 'NG_NET_MAPPING_REFUSED', details: expect.objectContaining({ reason: 'no-resources' }) }));
    expect(() => parseMapReply(Buffer.from([0, 128, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]))).toThrow(expect.objectContaining({ code: 'NG_NET_PCP' }));
  });

  it('fuzz: hostile replies give a coded error or are ignored, never a crash', () => {
    const nonce = randomBytes(12);
    const codes = new Set<string>();
    for (const b of fuzzBuffers([reply(nonce), reply(nonce, 2)], 5000, 6887)) {
      try {
        parseMapReply(b, nonce);
      } catch (err) {
        expect(err).toBeInstanceOf(NodegateError);
        codes.add((err as NodegateError).code);
      }
    }
    expect([...codes].every((c) => ['NG_NET_MALFORMED', 'NG_NET_MAPPING_REFUSED', 'NG_NET_PCP'].includes(c))).toBe(true);
    expect(codes.has('NG_NET_MALFORMED')).toBe(true);
  });
});
