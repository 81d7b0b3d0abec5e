import { describe, it, expect } from 'vitest';
import { ResponseRateLimiter, rrlKeyOf, slipResponse, type RrlVerdict } from '../../../../../ddns/registry/dns/rrl.ts';

/** A response as the embedded server encodes it: the answer's owner is a pointer to the question. */
function response(name: string, opts: { rcode?: number; type?: number; ip?: string; id?: number } = {}): Buffer {
  const labels = name.split('.').filter(Boolean);
  const qname = Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'latin1')])), Buffer.from([0])]);
  const type = opts.type ?? 1;
  const answers = opts.ip && (opts.rcode ?? 0) === 0 ? 1 : 0;
  const header = Buffer.alloc(12);
  header.writeUInt16BE(opts.id ?? 0x1234, 0);
  header.writeUInt16BE(0x8400 | (opts.rcode ?? 0), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers, 6);
  const question = Buffer.concat([qname, Buffer.from([0, type, 0, 1])]);
  const answer = answers ? Buffer.from([0xc0, 0x0c, 0, type, 0, 1, 0, 0, 0, 60, 0, 4, ...opts.ip!.split('.').map(Number)]) : Buffer.alloc(0);
  return Buffer.concat([header, question, answer]);
}

function run(rrl: ResponseRateLimiter, address: string, msg: Buffer, n: number): Record<RrlVerdict, number> {
  const out: Record<RrlVerdict, number> = { send: 0, slip: 0, drop: 0 };
  for (let i = 0; i < n; i++) out[rrl.check(address, rrlKeyOf(msg))]++;
  return out;
}

describe('ResponseRateLimiter', () => {
  it('sends up to the rate, then drops, letting every second limited answer out truncated; refills with time', () => {
    let t = 0;
    const rrl = new ResponseRateLimiter({ responsesPerSecond: 10, exempt: [], now: () => t });
    const a = response('dev1.dyn.test', { ip: '198.51.100.7' });
    expect(run(rrl, '203.0.113.5', a, 30)).toEqual({ send: 10, slip: 10, drop: 10 });
    t += 500; // half a second: five tokens
    expect(run(rrl, '203.0.113.5', a, 5)).toEqual({ send: 5, slip: 0, drop: 0 });
    expect(rrl.check('203.0.113.5', rrlKeyOf(a))).not.toBe('send');
    t += 60_000; // a quiet minute refills the bucket, no more than its size
    expect(run(rrl, '203.0.113.5', a, 12).send).toBe(10);
  });

  it('groups clients by /24 and /56, and keeps other networks apart', () => {
    const rrl = new ResponseRateLimiter({ responsesPerSecond: 5, exempt: [], now: () => 0 });
    const a = response('dev1.dyn.test', { ip: '198.51.100.7' });
    expect(run(rrl, '203.0.113.1', a, 3).send).toBe(3);
    expect(run(rrl, '203.0.113.200', a, 5).send).toBe(2); // same /24: the same bucket
    expect(run(rrl, '203.0.114.1', a, 5).send).toBe(5); // another /24
    expect(run(rrl, '2001:db8:0:ab00::1', a, 3).send).toBe(3);
    expect(run(rrl, '2001:db8:0:abff:ffff::9', a, 5).send).toBe(2); // same /56
    expect(run(rrl, '2001:db8:0:ac00::1', a, 5).send).toBe(5); // another /56
    expect(run(rrl, '::ffff:203.0.113.1', a, 5).send).toBe(5); // a mapped address is an IPv6 client of its own
  });

  it('shares one bucket between all NXDOMAINs, between all errors, and between names that get the same records', () => {
    const rrl = new ResponseRateLimiter({ responsesPerSecond: 4, exempt: [], now: () => 0 });
    const c = '198.51.100.9';
    const nx = (i: number) => response(`random${i}.dyn.test`, { rcode: 3 });
    expect([0, 1, 2, 3, 4, 5].map((i) => rrl.check(c, rrlKeyOf(nx(i))))).toEqual(['send', 'send', 'send', 'send', 'drop', 'slip']);
    const refused = (i: number) => response(`x${i}.other.test`, { rcode: 5 });
    expect([0, 1, 2, 3, 4].map((i) => rrl.check(c, rrlKeyOf(refused(i))))).toEqual(['send', 'send', 'send', 'send', 'drop']);
    // names made up under a wildcard get the same records: one bucket, whatever the name or its case
    const wild = (i: number) => response(`R${i}.Dev1.dyn.test`, { ip: '198.51.100.7' });
    expect([0, 1, 2, 3, 4].map((i) => rrl.check(c, rrlKeyOf(wild(i))))).toEqual(['send', 'send', 'send', 'send', 'drop']);
    // another device's answer is another bucket, and so is another type
    expect(rrl.check(c, rrlKeyOf(response('dev2.dyn.test', { ip: '198.51.100.8' })))).toBe('send');
    expect(rrl.check(c, rrlKeyOf(response('dev1.dyn.test', { ip: '198.51.100.7', type: 16 })))).toBe('send');
  });

  it('never limits exempt networks (loopback by default), and limits nothing at rate 0', () => {
    const a = response('dev1.dyn.test', { ip: '198.51.100.7' });
    const byDefault = new ResponseRateLimiter({ responsesPerSecond: 1, now: () => 0 });
    expect(run(byDefault, '127.0.0.1', a, 50).send).toBe(50);
    expect(run(byDefault, '::1', a, 50).send).toBe(50);
    expect(run(byDefault, '198.51.100.1', a, 3).send).toBe(1);
    const custom = new ResponseRateLimiter({ responsesPerSecond: 1, exempt: ['198.51.100.0/24'], now: () => 0 });
    expect(run(custom, '198.51.100.77', a, 20).send).toBe(20);
    expect(run(custom, '127.0.0.1', a, 3).send).toBe(1);
    const off = new ResponseRateLimiter({ responsesPerSecond: 0 });
    expect(off.enabled).toBe(false);
    expect(run(off, '203.0.113.1', a, 1000).send).toBe(1000);
  });

  it('slip 0 drops every limited answer, slip 1 truncates every one', () => {
    const a = response('dev1.dyn.test', { ip: '198.51.100.7' });
    expect(run(new ResponseRateLimiter({ responsesPerSecond: 2, slip: 0, exempt: [], now: () => 0 }), '203.0.113.1', a, 10)).toEqual({ send: 2, slip: 0, drop: 8 });
    expect(run(new ResponseRateLimiter({ responsesPerSecond: 2, slip: 1, exempt: [], now: () => 0 }), '203.0.113.1', a, 10)).toEqual({ send: 2, slip: 8, drop: 0 });
  });

  it('keeps its table bounded under a flood from many networks', () => {
    const rrl = new ResponseRateLimiter({ responsesPerSecond: 5, exempt: [], maxEntries: 1000, now: () => 0 });
    const a = response('dev1.dyn.test', { ip: '198.51.100.7' });
    for (let i = 0; i < 5000; i++) rrl.check(`10.${(i >> 8) & 255}.${i & 255}.1`, rrlKeyOf(a));
    expect(rrl.size).toBeLessThanOrEqual(1000);
  });

  it('parses addresses strictly: what is not an IPv4 or IPv6 address is never limited nor crashes', () => {
    const rrl = new ResponseRateLimiter({ responsesPerSecond: 1, exempt: ['2001:db8:ff::/48'], now: () => 0 });
    const key = rrlKeyOf(response('dev1.dyn.test', { ip: '198.51.100.7' }));
    for (const odd of ['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '1..2.3', 'fe80::1%eth0x', 'x']) expect(rrl.check(odd, key), odd).toBe('send');
    expect(run(rrl, '2001:db8:ff:1::1', response('a.dyn.test', { ip: '198.51.100.7' }), 5).send).toBe(5); // exempt /48
    expect(run(rrl, '2001:db8:fe:1::1', response('a.dyn.test', { ip: '198.51.100.7' }), 5).send).toBe(1);
  });

  it('refuses settings that make no sense, saying what to give', () => {
    expect(() => new ResponseRateLimiter({ responsesPerSecond: -1 })).toThrow(/answers per second, 0 for none/);
    expect(() => new ResponseRateLimiter({ slip: 1.5 })).toThrow(/slip must be a whole number/);
    expect(() => new ResponseRateLimiter({ ipv4PrefixLength: 40 })).toThrow(/IPv4 prefix length/);
    expect(() => new ResponseRateLimiter({ exempt: ['not-a-network'] })).toThrow(/address or CIDR/);
    expect(() => new ResponseRateLimiter({ exempt: ['192.0.2.0/33'] })).toThrow(/address or CIDR/);
    expect(() => new ResponseRateLimiter({ exempt: ['192.0.2.0/x'] })).toThrow(/address or CIDR/);
  });
});

describe('slipResponse', () => {
  it('keeps the id and the question, sets TC and sends no records', () => {
    const full = response('Dev1.dyn.test', { ip: '198.51.100.7', id: 0xbeef });
    const slip = slipResponse(full);
    expect(slip.readUInt16BE(0)).toBe(0xbeef);
    expect(slip[2]! & 0x02).toBe(0x02);
    expect(slip[2]! & 0x80).toBe(0x80); // still a response
    expect([slip.readUInt16BE(4), slip.readUInt16BE(6), slip.readUInt16BE(8), slip.readUInt16BE(10)]).toEqual([1, 0, 0, 0]);
    expect(slip.subarray(12).toString('latin1')).toBe(full.subarray(12, 12 + 15 + 4).toString('latin1'));
    expect(slip.length).toBeLessThan(full.length);
  });
});
