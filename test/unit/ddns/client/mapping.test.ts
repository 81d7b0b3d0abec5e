// MappingKeeper against a NAT-PMP router on loopback: leases renewed at half their life, the
// mapping removed on stop, a router without a public address read as "not public".
import { createSocket, type Socket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { MappingKeeper } from '../../../../ddns/client/mapping.ts';
import { NatPmpMapper, NATPMP_PORT } from '../../../../ddns/client/natpmp.ts';
import { probePortMappers } from '../../../../ddns/client/portmapper.ts';

const HOST = '127.68.86.2';

interface Seen {
  op: number;
  lifetime: number;
}

describe('MappingKeeper', () => {
  let router: Socket | undefined;
  let keeper: MappingKeeper | undefined;
  afterEach(async () => {
    await keeper?.stop();
    router?.close();
  });

  const startRouter = (grantS: number, result = 0) =>
    new Promise<Seen[]>((resolve) => {
      const seen: Seen[] = [];
      const epochStart = Date.now();
      router = createSocket('udp4');
      router.on('message', (msg, rinfo) => {
        const epoch = Math.floor((Date.now() - epochStart) / 1000) + 100;
        let out: Buffer;
        if (msg[1] === 0) {
          out = Buffer.alloc(12);
          out[1] = 128;
          out.writeUInt16BE(result, 2);
          out.writeUInt32BE(epoch, 4);
          Buffer.from([198, 51, 100, 2]).copy(out, 8);
        } else {
          const lifetime = msg.readUInt32BE(8);
          seen.push({ op: msg[1]!, lifetime });
          out = Buffer.alloc(16);
          out[1] = 128 + msg[1]!;
          out.writeUInt16BE(result, 2);
          out.writeUInt32BE(epoch, 4);
          out.writeUInt16BE(msg.readUInt16BE(4), 8);
          out.writeUInt16BE(lifetime === 0 ? 0 : msg.readUInt16BE(6), 10);
          out.writeUInt32BE(Math.min(lifetime, grantS), 12);
        }
        router!.send(out, rinfo.port, rinfo.address);
      });
      router.bind(NATPMP_PORT, HOST, () => resolve(seen));
    });

  const makeKeeper = () => {
    const mapper = new NatPmpMapper({ gateway: HOST });
    return new MappingKeeper({
      request: { protocol: 'tcp', internalPort: 8443, externalPort: 8443, lifetimeS: 7200 },
      probe: (signal) => probePortMappers([mapper], { signal }),
      checkIntervalMs: 3_600_000,
    });
  };

  it('renews a short lease at half its life and removes the mapping on stop', async () => {
    const seen = await startRouter(2); // the router grants 2 s whatever we ask
    keeper = makeKeeper();
    await keeper.start();
    expect(keeper.state).toMatchObject({ status: 'mapped', method: 'natpmp', routerWan: '198.51.100.2', mapping: { lifetimeS: 2, externalPort: 8443 } });
    while (keeper.state.renewed < 2) await new Promise((r) => setTimeout(r, 50));
    await keeper.stop();
    keeper = undefined;
    const maps = seen.filter((s) => s.lifetime > 0);
    const removals = seen.filter((s) => s.lifetime === 0);
    expect(maps.length).toBe(3); // the first grant and two renewals
    expect(removals).toEqual([{ op: 2, lifetime: 0 }]);
  });

  it('a router without a public address: refused, reason "not-public"', async () => {
    await startRouter(7200, 3);
    keeper = makeKeeper();
    await keeper.start();
    expect(keeper.state).toMatchObject({ status: 'refused', reason: 'not-public', routerWan: '' });
  });
});
