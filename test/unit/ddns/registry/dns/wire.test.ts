import { describe, expect, it } from 'vitest';
import { keyToName, parseSimpleQuery, readQuestionName, ResponseWriter, TYPE, wireKey } from '../../../../../ddns/registry/dns/wire.ts';

// A query as dig 9.18 sends it: id 1234, RD+AD, "Ab.example. A IN", OPT 1232 with an 8-byte client cookie.
const DIG_QUERY = Buffer.from(
  '1234' + '0120' + '0001' + '0000' + '0000' + '0001' + '024162076578616d706c6500' + '0001' + '0001' + '00' + '0029' + '04d0' + '00' + '00' + '0000' + '000c' + '000a' + '0008' + '0102030405060708',
  'hex',
);

describe('wire: hand parser of the hot path', () => {
  it('parses a dig query: lowercased wire key, question length, EDNS with options', () => {
    expect(parseSimpleQuery(DIG_QUERY)).toEqual({
      id: 0x1234,
      flags: 0x0120,
      opcode: 0,
      qkey: '\x02ab\x07example\x00',
      qnameLen: 12,
      qtype: 1,
      qclass: 1,
      edns: { udpPayloadSize: 1232, version: 0, dnssecOk: false },
    });
  });

  it('leaves unusual messages to the slow path (null)', () => {
    const trailing = Buffer.concat([DIG_QUERY, Buffer.from([0])]);
    const pointer = Buffer.from(DIG_QUERY);
    pointer[12] = 0xc0;
    const twoQuestions = Buffer.from(DIG_QUERY);
    twoQuestions[5] = 2;
    const nonAscii = Buffer.from(DIG_QUERY);
    nonAscii[13] = 0xc1;
    for (const m of [trailing, pointer, twoQuestions, nonAscii, DIG_QUERY.subarray(0, 20), Buffer.alloc(0)]) expect(parseSimpleQuery(m)).toBeNull();
  });

  it('reads question names exactly, folding ASCII case only', () => {
    const q = Buffer.from('0000000000010000000000000241c1076578616d706c650000010001', 'hex');
    expect(readQuestionName(q)).toEqual({ qkey: '\x02a\xc1\x07example\x00', qnameLen: 12, end: 24 });
  });

  it('converts names to wire keys and back, rejecting bad names', () => {
    expect(wireKey('Dyn.Example.NET.')).toBe('\x03dyn\x07example\x03net\x00');
    expect(keyToName(wireKey('a.b'))).toBe('a.b');
    expect(() => wireKey('a..b')).toThrow(TypeError);
    expect(() => wireKey(`${'x'.repeat(64)}.example`)).toThrow(TypeError);
  });
});

describe('wire: response writer', () => {
  it('compresses owner names and rdata names against earlier names (RFC 1035 §4.1.4)', () => {
    const w = new ResponseWriter(512);
    w.header(0x1234, 0x8400, 1, 2, 0, 0);
    const q = wireKey('x.dyn.example');
    w.question(q, TYPE.NS, 1);
    const ns = { type: TYPE.NS, ttl: 60, rdatas: [{ kind: 'name' as const, name: wireKey('ns1.dyn.example') }, { kind: 'name' as const, name: wireKey('ns.other') }] };
    w.rr(q, ns, ns.rdatas[0]!, 0);
    w.rr(wireKey('dyn.example'), ns, ns.rdatas[1]!, 0);
    expect(w.bytes().toString('hex')).toBe(
      '1234' + '8400' + '0001' + '0002' + '0000' + '0000' +
        '0178' + '0364796e' + '076578616d706c65' + '00' + '0002' + '0001' + // question at offset 12
        'c00c' + '0002' + '0001' + '0000003c' + '0006' + '036e7331' + 'c00e' + // owner → 12; ns1 + pointer to dyn.example (14)
        'c00e' + '0002' + '0001' + '0000003c' + '000a' + '026e73' + '056f74686572' + '00', // owner → 14; ns.other uncompressed
    );
  });
});
