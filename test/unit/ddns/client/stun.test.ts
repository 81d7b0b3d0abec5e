import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { NodegateError } from '../../../../core/errors.ts';
import { parseBindingResponse, stunBinding } from '../../../../ddns/client/stun.ts';
import { startStunServer, stunAnswer, type StunServer } from '../../../../ddns/registry/stun.ts';
import { fuzzBuffers } from '../../../support/fuzz.ts';

function request(tid: Buffer): Buffer {
  const b = Buffer.alloc(20);
  b.writeUInt16BE(1, 0);
  b.writeUInt32BE(0x2112a442, 4);
  tid.copy(b, 8);
  return b;
}

describe('STUN binding (RFC 5389)', () => {
  let server: StunServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('the responder answers XOR-MAPPED-ADDRESS that the client decodes', () => {
    const tid = randomBytes(12);
    const answer = stunAnswer(request(tid), '198.51.100.2', 40000, 'IPv4')!;
    expect(answer.length).toBe(32);
    expect(parseBindingResponse(answer, tid)).toEqual({ address: '198.51.100.2', port: 40000 });
    expect(parseBindingResponse(answer, randomBytes(12))).toBeUndefined();
  });

  it('an IPv6 peer gets its 16 bytes (scope id dropped, dotted tail read); an IPv4-mapped one its IPv4 address', () => {
    const tid = randomBytes(12);
    const key = Buffer.concat([Buffer.from([0x21, 0x12, 0xa4, 0x42]), tid]);
    const mapped = (address: string) => {
      const a = stunAnswer(request(tid), address, 40000, 'IPv6')!;
      return Buffer.from(a.subarray(28).map((b, i) => b ^ key[i]!)).toString('hex');
    };
    expect(mapped('2001:db8::1')).toBe('20010db8000000000000000000000001');
    expect(mapped('fe80::2:3%eth0')).toBe('fe800000000000000000000000020003');
    expect(mapped('::198.51.100.7')).toBe('000000000000000000000000c6336407');
    expect(mapped('2001:db8:1:2:3:4:5:6')).toBe('20010db8000100020003000400050006');
    const v4 = stunAnswer(request(tid), '::ffff:198.51.100.2', 40000, 'IPv6')!;
    expect(parseBindingResponse(v4, tid)).toEqual({ address: '198.51.100.2', port: 40000 });
  });

  it('a real round trip on loopback; one answer per request', async () => {
    server = await startStunServer({ host: '127.0.0.1', port: 0 });
    const mapped = await stunBinding('127.0.0.1', server.port);
    expect(mapped.address).toBe('127.0.0.1');
    expect(server.answered).toBe(1);
  });

  it('the responder drops anything but a well-formed Binding request (no amplification)', () => {
    const tid = randomBytes(12);
    let answered = 0;
    for (const b of fuzzBuffers([request(tid)], 5000, 5389)) {
      const a = stunAnswer(b, '198.51.100.2', 1, 'IPv4');
      if (a) {
        answered++;
        expect(a.length).toBeLessThanOrEqual(b.length + 12);
      }
    }
    expect(stunAnswer(Buffer.alloc(600), '198.51.100.2', 1, 'IPv4')).toBeUndefined();
    expect(answered).toBeGreaterThan(0);
  });

  it('fuzz: hostile responses give a coded error or are ignored, never a crash', () => {
    const tid = randomBytes(12);
    const valid = stunAnswer(request(tid), '198.51.100.2', 40000, 'IPv4')!;
    for (const b of fuzzBuffers([valid], 5000, 5390)) {
      try {
        parseBindingResponse(b, tid);
      } catch (err) {
        expect(err).toBeInstanceOf(NodegateError);
        expect(['NG_NET_MALFORMED', 'NG_NET_STUN']).toContain((err as NodegateError).code);
      }
    }
  });
});
