import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import * as dnsPacket from 'dns-packet';
import { findTsig, parseTsigSpec, signMessage, verifyMessage, type TsigKey } from '../../../ddns/tsig.ts';

const fixture = JSON.parse(readFileSync(new URL('../../fixtures/dns/knot-update-tsig.json', import.meta.url), 'utf8')) as {
  key: TsigKey;
  timeSignedMs: number;
  request: string;
  requestMac: string;
  reply: string;
};
const key: TsigKey = { name: 'k1.example', algorithm: 'hmac-sha256', secret: Buffer.alloc(32, 7).toString('base64') };
const T = 1_795_000_000_000;
const query = () => dnsPacket.encode({ type: 'query', id: 0x1234, questions: [{ name: 'a.example', type: 'A' }] });

describe('TSIG (RFC 8945)', () => {
  it('verifies the signed reply knotd sent to our signed UPDATE (request MAC chaining)', () => {
    const reply = Buffer.from(fixture.reply, 'hex');
    const r = verifyMessage(reply, fixture.key, { requestMac: Buffer.from(fixture.requestMac, 'hex'), now: () => fixture.timeSignedMs });
    expect(r.error).toBe(0);
    // Without the request MAC, or with another one, the same bytes do not verify.
    expect(() => verifyMessage(reply, fixture.key, { now: () => fixture.timeSignedMs })).toThrow(expect.objectContaining({ code: 'NG_DNS_TSIG_BADSIG' }));
    const otherMac = Buffer.from(fixture.requestMac, 'hex');
    otherMac[0] = otherMac[0]! ^ 1;
    expect(() => verifyMessage(reply, fixture.key, { requestMac: otherMac, now: () => fixture.timeSignedMs })).toThrow(expect.objectContaining({ code: 'NG_DNS_TSIG_BADSIG' }));
  });

  it('signs a request byte for byte as the fixture knotd accepted', () => {
    const request = Buffer.from(fixture.request, 'hex');
    const tsig = findTsig(request)!;
    const unsigned = Buffer.from(request.subarray(0, tsig.start));
    unsigned.writeUInt16BE(unsigned.readUInt16BE(10) - 1, 10);
    const signed = signMessage(unsigned, fixture.key, { now: () => fixture.timeSignedMs });
    expect(signed.message.toString('hex')).toBe(fixture.request);
    expect(signed.mac.toString('hex')).toBe(fixture.requestMac);
  });

  it('round-trips: a signed message verifies, and adds exactly one additional record', () => {
    const signed = signMessage(query(), key, { now: () => T });
    expect(signed.message.readUInt16BE(10)).toBe(1);
    expect(signed.mac).toHaveLength(32);
    expect(verifyMessage(signed.message, key, { now: () => T }).mac.equals(signed.mac)).toBe(true);
    const decoded = dnsPacket.decode(signed.message);
    expect(decoded.additionals?.map((a) => [a.name, a.type])).toEqual([['k1.example', 'TSIG']]);
  });

  it('chains a response MAC to the request MAC', () => {
    const req = signMessage(query(), key, { now: () => T });
    const response = dnsPacket.encode({ type: 'response', id: 0x1234, questions: [{ name: 'a.example', type: 'A' }] });
    const res = signMessage(response, { ...key, algorithm: 'hmac-sha512', secret: key.secret }, { now: () => T, requestMac: req.mac });
    expect(res.mac).toHaveLength(64);
    expect(() => verifyMessage(res.message, { ...key, algorithm: 'hmac-sha512' }, { now: () => T, requestMac: req.mac })).not.toThrow();
    expect(() => verifyMessage(res.message, { ...key, algorithm: 'hmac-sha512' }, { now: () => T })).toThrow(expect.objectContaining({ code: 'NG_DNS_TSIG_BADSIG' }));
  });

  it('rejects a tampered message, another secret, another key name or algorithm', () => {
    const signed = signMessage(query(), key, { now: () => T }).message;
    const tampered = Buffer.from(signed);
    tampered[13] = tampered[13]! ^ 0x20; // case of the first label: covered by the MAC
    expect(() => verifyMessage(tampered, key, { now: () => T })).toThrow(expect.objectContaining({ code: 'NG_DNS_TSIG_BADSIG' }));
    expect(() => verifyMessage(signed, { ...key, secret: Buffer.alloc(32, 8).toString('base64') }, { now: () => T })).toThrow(expect.objectContaining({ code: 'NG_DNS_TSIG_BADSIG' }));
    expect(() => verifyMessage(signed, { ...key, name: 'k2.example' }, { now: () => T })).toThrow(expect.objectContaining({ code: 'NG_DNS_TSIG_BADKEY' }));
    expect(() => verifyMessage(signed, { ...key, algorithm: 'hmac-sha1' }, { now: () => T })).toThrow(expect.objectContaining({ code: 'NG_DNS_TSIG_BADKEY' }));
  });

  it('rejects a time outside the fudge with BADTIME', () => {
    const signed = signMessage(query(), key, { now: () => T }).message;
    expect(() => verifyMessage(signed, key, { now: () => T + 300_000 })).not.toThrow();
    expect(() => verifyMessage(signed, key, { now: () => T + 301_000 })).toThrow(expect.objectContaining({ code: 'NG_DNS_TSIG_BADTIME' }));
    expect(() => verifyMessage(signed, key, { now: () => T - 301_000 })).toThrow(expect.objectContaining({ code: 'NG_DNS_TSIG_BADTIME' }));
  });

  it('maps the error field of a server reply to NG_DNS_TSIG_* codes', () => {
    const response = dnsPacket.encode({ type: 'response', id: 1, questions: [{ name: 'a.example', type: 'A' }] });
    for (const [error, code] of [
      [16, 'NG_DNS_TSIG_BADSIG'],
      [17, 'NG_DNS_TSIG_BADKEY'],
      [18, 'NG_DNS_TSIG_BADTIME'],
    ] as const) {
      const signed = signMessage(response, key, { now: () => T, error }).message;
      expect(() => verifyMessage(signed, key, { now: () => T })).toThrow(expect.objectContaining({ code }));
    }
  });

  it('says NG_DNS_TSIG_MISSING without TSIG and NG_DNS_MALFORMED for broken records', () => {
    expect(() => verifyMessage(query(), key)).toThrow(expect.objectContaining({ code: 'NG_DNS_TSIG_MISSING' }));
    const signed = signMessage(query(), key, { now: () => T }).message;
    expect(() => verifyMessage(signed.subarray(0, signed.length - 5), key)).toThrow(expect.objectContaining({ code: 'NG_DNS_MALFORMED' }));
  });

  it('parses --tsig NAME:ALG:SECRET and refuses bad specs with NG_USAGE', () => {
    const secret = Buffer.alloc(32, 1).toString('base64');
    expect(parseTsigSpec(`nodegate:HMAC-SHA256:${secret}`)).toEqual({ name: 'nodegate', algorithm: 'hmac-sha256', secret });
    for (const bad of ['nodegate', `nodegate:hmac-md5:${secret}`, 'nodegate:hmac-sha256:c2hvcnQ=', `:hmac-sha256:${secret}`, `a..b:hmac-sha256:${secret}`]) {
      expect(() => parseTsigSpec(bad)).toThrow(expect.objectContaining({ code: 'NG_USAGE' }));
    }
  });
});
