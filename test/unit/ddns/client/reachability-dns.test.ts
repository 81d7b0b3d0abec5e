// The doctor's DNS facts against the real registry DNS (loopback): the stale-answer check, and the
// DNS-rebind check — a home resolver that answers NXDOMAIN for a LAN name the registry serves.
import { createSocket, type Socket } from 'node:dgram';
import * as dnsPacket from 'dns-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatherFacts, verdictCodes } from '../../../../ddns/client/reachability.ts';
import type { MappingState } from '../../../../ddns/client/mapping.ts';
import { startTestRegistry, type TestRegistry } from '../../../support/registry.ts';

const unmapped: MappingState = { status: 'unavailable', method: null, mapping: null, reason: null, answers: null, routerWan: null, recreated: 0, renewed: 0, checks: 0 };

describe('doctor DNS facts', () => {
  let reg: TestRegistry;
  let filtering: Socket;
  let filteringPort = 0;
  let device: Awaited<ReturnType<TestRegistry['device']>>;
  beforeAll(async () => {
    reg = await startTestRegistry({ allowAddresses: ['198.51.100.0/24', '127.0.0.0/8'] });
    device = await reg.device();
    await device.client.updateAddress({ ipv4: '198.51.100.40', lan: '192.168.1.10' });
    // a home resolver with DNS-rebind protection: private answers are dropped (NXDOMAIN)
    filtering = createSocket('udp4');
    filtering.on('message', (msg, rinfo) => {
      const q = dnsPacket.decode(msg);
      const answer = dnsPacket.encode({ id: q.id, type: 'response', flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | 3, questions: q.questions });
      filtering.send(answer, rinfo.port, rinfo.address);
    });
    await new Promise<void>((r) => filtering.bind(0, '127.0.0.1', () => r()));
    filteringPort = filtering.address().port;
  });
  afterAll(async () => {
    filtering?.close();
    await reg?.stop();
  });

  const facts = (homeResolvers: string[]) =>
    gatherFacts({
      registry: device.client,
      name: device.device.name,
      lanName: device.device.lanName,
      port: 1,
      externalPort: 1,
      mapping: unmapped,
      gateway: null,
      registryDns: reg.dnsAddress,
      homeResolvers,
      probe: false,
    });

  it('the registry DNS answer differs from what the registry sees: DNS_STALE', async () => {
    const f = await facts([`127.0.0.1:${reg.dnsAddress.port}`]);
    expect(f.internetView).toBe('127.0.0.1');
    expect(f.dnsAnswer).toEqual(['198.51.100.40']);
    expect(f.lanHiddenByResolver).toBe(false);
    expect(verdictCodes(f)).toContain('DNS_STALE');
  });

  it('a home resolver hiding the LAN name: DNS_REBIND_PROTECTION', async () => {
    const f = await facts([`127.0.0.1:${filteringPort}`]);
    expect(f.lanHiddenByResolver).toBe(true);
    expect(verdictCodes(f)).toContain('DNS_REBIND_PROTECTION');
  });
});
