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
