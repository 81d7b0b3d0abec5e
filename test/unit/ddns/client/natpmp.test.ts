import { createSocket, type Socket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { NodegateError } from '../../../../core/errors.ts';
import { NatPmpMapper, NATPMP_PORT, parseAddressReply, parseMapReply } from '../../../../ddns/client/natpmp.ts';
import { fuzzBuffers } from '../../../support/fuzz.ts';

const addressReply = (epoch: number, addr = [198, 51, 100, 2], result = 0) => {
  const b = Buffer.alloc(12);
  b[1] = 128;
  b.writeUInt16BE(result, 2);
  b.writeUInt32BE(epoch, 4);
  Buffer.from(addr).copy(b, 8);
  return b;
};
const mapReply = (op: number, epoch: number, internal: number, external: number, lifetime: number) => {
  const b = Buffer.alloc(16);
  b[1] = 128 + op;
  b.writeUInt32BE(epoch, 4);
  b.writeUInt16BE(internal, 8);
  b.writeUInt16BE(external, 10);
  b.writeUInt32BE(lifetime, 12);
  return b;
};

describe('NAT-PMP replies (RFC 6886)', () => {
  it('parses the external address and reads result 3 as "no public address"', () => {
    expect(parseAddressReply(addressReply(7))).toEqual({ epoch: 7, address: '198.51.100.2' });
    expect(parseAddressReply(addressReply(7, [0, 0, 0, 0], 3))).toEqual({ epoch: 7, address: null });
  });

  it('names refusals by result code', () => {
    try {
      parseMapReply(Object.assign(mapReply(2, 1, 1, 1, 1), {}).fill(0, 2, 4).fill(2, 3, 4), 2);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(NodegateError);
      expect((err as NodegateError).code).toBe('NG_NET_MAPPING_REFUSED');
      expect((err as NodegateError).details).toMatchObject({ reason: 'not-authorized', result: 2 });
    }
  });

  it('fuzz: hostile replies give a coded error or are ignored, never a crash', () => {
    const valid = [addressReply(1), mapReply(2, 5, 8443, 8443, 7200), mapReply(1, 5, 1, 1, 0)];
    const codes = new Set<string>();
    for (const b of fuzzBuffers(valid, 5000, 6886)) {
      for (const parse of [() => parseAddressReply(b), () => parseMapReply(b, 2)]) {
        try {
          parse();
        } catch (err) {
          expect(err).toBeInstanceOf(NodegateError);
          codes.add((err as NodegateError).code);
        }
      }
    }
    expect([...codes].sort()).toEqual(['NG_NET_MALFORMED', 'NG_NET_MAPPING_REFUSED']);
  });
});

describe('NatPmpMapper against a router on loopback', () => {
  let router: Socket | undefined;
  afterEach(() => router?.close());
  const host = '127.68.86.1';
  const startRouter = (answer: (msg: Buffer) => Buffer | undefined) =>
    new Promise<void>((resolve) => {
      router = createSocket('udp4');
      router.on('message', (msg, rinfo) => {
        const a = answer(msg);
        if (a) router!.send(a, rinfo.port, rinfo.address);
      });
      router.bind(NATPMP_PORT, host, () => resolve());
    });

  it('a router reboot (epoch going back) makes check() report the mapping lost', async () => {
    let epoch = 1000;
    await startRouter((msg) => (msg[1] === 0 ? addressReply(epoch) : mapReply(msg[1]!, epoch, msg.readUInt16BE(4), msg.readUInt16BE(6), msg.readUInt32BE(8))));
    let now = 1_000_000;
    const m = new NatPmpMapper({ gateway: host, now: () => now });
    const mapping = await m.map({ protocol: 'tcp', internalPort: 8443, externalPort: 8443, lifetimeS: 7200 });
    expect(mapping).toMatchObject({ method: 'natpmp', externalPort: 8443, externalAddress: '198.51.100.2', lifetimeS: 7200 });
    now += 10_000;
    epoch += 10;
    expect(await m.check(mapping)).toBe(true);
    now += 10_000;
    epoch = 3; // rebooted
    expect(await m.check(mapping)).toBe(false);
  });

  it('a router that never answers gives NG_NET_TIMEOUT', async () => {
    await startRouter(() => undefined);
    const m = new NatPmpMapper({ gateway: host });
    await expect(m.externalAddress()).rejects.toMatchObject({ code: 'NG_NET_TIMEOUT' });
  });

  it('garbage from the router gives NG_NET_MALFORMED', async () => {
    await startRouter(() => Buffer.from([9, 9, 9]));
    const m = new NatPmpMapper({ gateway: host });
    await expect(m.externalAddress()).rejects.toMatchObject({ code: 'NG_NET_MALFORMED' });
  });
});
