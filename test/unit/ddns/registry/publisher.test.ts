/**
 * The store stays the truth when the DNS backend fails: the real embedded backend behind a switch
 * that makes it refuse calls for a while.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodegateError } from '../../../../core/errors.ts';
import { createLogger } from '../../../../core/log.ts';
import type { BackendCallOptions, DeviceRecordSet, DnsBackend } from '../../../../ddns/registry/dns-backend.ts';
import { startEmbeddedDns, type EmbeddedDns } from '../../../../ddns/registry/dns/server.ts';
import { Publisher } from '../../../../ddns/registry/publisher.ts';
import { queryDns, rdataText } from '../../../../ddns/dns-client.ts';

const ZONE = 'dyn.publisher.example';
let dns: EmbeddedDns;
beforeAll(async () => {
  dns = await startEmbeddedDns({ zone: ZONE, nameservers: [{ name: `ns.${ZONE}`, ipv4: '127.0.0.1' }], udp: { host: '127.0.0.1', port: 0 } });
});
afterAll(async () => {
  await dns?.close();
});

class SwitchableBackend implements DnsBackend {
  down = false;
  calls = 0;
  constructor(private readonly inner: DnsBackend) {}
  putDevice(set: DeviceRecordSet, options?: BackendCallOptions): Promise<void> {
    this.calls++;
    if (this.down) return Promise.reject(new NodegateError('NG_DNS_UPDATE_FAILED', 'backend down (test switch)'));
    return this.inner.putDevice(set, options);
  }
  removeDevice(id: string, options?: BackendCallOptions): Promise<void> {
    this.calls++;
    if (this.down) return Promise.reject(new NodegateError('NG_DNS_UPDATE_FAILED', 'backend down (test switch)'));
    return this.inner.removeDevice(id, options);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

describe('Publisher', () => {
  it('reports a backend failure as 503 NG_REG_UNAVAILABLE and republishes the latest stored records once the backend is back', async () => {
    const state = new Map<string, DeviceRecordSet>();
    const backend = new SwitchableBackend(dns.backend);
    const publisher = new Publisher(backend, (id) => state.get(id), createLogger({ level: 'silent' }));
    try {
      const id = 'aaaabbbbccccdddd';
      state.set(id, { id, ipv4: '198.51.100.1', ipv6: null, lan: null, acmeTxt: [] });
      await publisher.publish(id);
      backend.down = true;
      state.set(id, { id, ipv4: '198.51.100.2', ipv6: null, lan: null, acmeTxt: [] });
      await expect(publisher.publish(id)).rejects.toMatchObject({ code: 'NG_REG_UNAVAILABLE', status: 503, details: { stored: true } });
      expect(publisher.pendingCount).toBe(1);
      state.set(id, { id, ipv4: '198.51.100.3', ipv6: null, lan: null, acmeTxt: [] }); // a later change, stored while down
      await publisher.retryPending();
      expect(publisher.pendingCount).toBe(1);
      backend.down = false;
      await publisher.retryPending();
      expect(publisher.pendingCount).toBe(0);
      const a = await queryDns({ host: '127.0.0.1', port: dns.address().udpPort }, `${id}.${ZONE}`, 'A');
      expect(a.answers.map(rdataText)).toEqual(['198.51.100.3']);
    } finally {
      await publisher.close();
    }
  });

  it('serialises publications of one device: the last stored state wins', async () => {
    const state = new Map<string, DeviceRecordSet>();
    const backend = new SwitchableBackend(dns.backend);
    const publisher = new Publisher(backend, (id) => state.get(id), createLogger({ level: 'silent' }));
    try {
      const id = 'eeeeffffgggghhhh';
      const all: Promise<void>[] = [];
      for (let i = 1; i <= 20; i++) {
        state.set(id, { id, ipv4: `198.51.100.${i}`, ipv6: null, lan: null, acmeTxt: [] });
        all.push(publisher.publish(id));
      }
      await Promise.all(all);
      expect(backend.calls).toBe(20);
      const a = await queryDns({ host: '127.0.0.1', port: dns.address().udpPort }, `${id}.${ZONE}`, 'A');
      expect(a.answers.map(rdataText)).toEqual(['198.51.100.20']);
    } finally {
      await publisher.close();
    }
  });
});
