// The updater against the real registry (API + embedded DNS on loopback): flapping addresses are
// merged (the last one wins), and an update made while the registry is down is kept and delivered
// when it is back — none lost.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry, type RunningRegistry } from '../../../../ddns/registry/main.ts';
import { generateIdentity } from '../../../../ddns/client/identity.ts';
import { RegistryClient } from '../../../../ddns/client/registry-client.ts';
import { AddressUpdater } from '../../../../ddns/client/updater.ts';
import { queryDns } from '../../../../ddns/dns-client.ts';
import { tempDir } from '../../../../sim/process.ts';

const ZONE = 'dyn.test.example';

describe('AddressUpdater', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let registry: RunningRegistry | undefined;
  let client: RegistryClient;
  let name: string;
  let apiPort: number;
  let dnsPort: number;
  const start = async () => {
    registry = await startRegistry({
      zone: ZONE,
      dataDir: dir.path,
      api: { host: '127.0.0.1', port: apiPort },
      dns: { host: '127.0.0.1', port: dnsPort },
      allowAddresses: ['198.51.100.0/24'],
    });
  };
  const dnsA = async () => {
    const a = await queryDns(registry!.dnsAddress, name, 'A');
    return a.answers.flatMap((r) => (r.type === 'A' && typeof r.data === 'string' ? [r.data] : []));
  };

  beforeAll(async () => {
    dir = await tempDir('ngr-updater-');
    apiPort = 0;
    dnsPort = 0;
    await start();
    apiPort = Number(new URL(registry!.apiUrl).port);
    dnsPort = registry!.dnsAddress.port;
    const reg = await RegistryClient.register({ url: registry!.apiUrl, identity: generateIdentity() });
    client = reg.client;
    name = reg.device.name;
  });
  afterAll(async () => {
    await registry?.close();
    await dir.remove();
  });

  it('merges flapping changes: one update, the last address wins', async () => {
    const updater = new AddressUpdater({ registry: client, debounceMs: 200 });
    updater.set({ ipv4: '198.51.100.11', lan: '192.168.1.10' });
    updater.set({ ipv4: '198.51.100.12' });
    updater.set({ ipv4: '198.51.100.13' });
    await updater.idle();
    expect(updater.counters).toEqual({ sent: 1, failed: 0, merged: 2 });
    expect(updater.published).toEqual({ ipv4: '198.51.100.13', ipv6: null, lan: '192.168.1.10' });
    expect(await dnsA()).toEqual(['198.51.100.13']);
    updater.stop();
  });

  it('keeps an update made while the registry is down and delivers it when it is back', async () => {
    const updater = new AddressUpdater({ registry: client, debounceMs: 0, retryMinMs: 50, retryMaxMs: 200 });
    await registry!.close();
    registry = undefined;
    updater.set({ ipv4: '198.51.100.21' });
    while (updater.counters.failed < 2) await new Promise((r) => setTimeout(r, 25));
    updater.set({ ipv4: '198.51.100.22' }); // a newer change while down: only this one may land
    expect(updater.pending()).toBe(true);
    await start();
    await updater.idle();
    expect(updater.published?.ipv4).toBe('198.51.100.22');
    expect(await dnsA()).toEqual(['198.51.100.22']);
    expect(updater.counters.failed).toBeGreaterThanOrEqual(2);
    updater.stop();
  });
});
