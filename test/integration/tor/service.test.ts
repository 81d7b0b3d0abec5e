/**
 * TorService, the one switch, with the system's tor kept offline (its only directory authority is a
 * closed loopback port): ADD_ONION works without a network, so start/stop/switch and the stored
 * key's checks are exercised on a real tor.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { TorService, loadTorService, onionPortsFromListeners } from '../../../tor/service.ts';
import { torConfigFromFlags } from '../../../tor/config.ts';
import { ONION_KEY_FILE } from '../../../tor/onion.ts';
import { tempDir } from '../../../sim/process.ts';

const OFFLINE = ['TestingTorNetwork 1', 'UseDefaultFallbackDirs 0', `DirAuthority nowhere orport=1 no-v2 v3ident=${'0'.repeat(40)} 127.0.0.1:1 ${'F'.repeat(40)}`];
const PORTS = [{ virtualPort: 443, target: '127.0.0.1:8443' }];
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined); // clean the rest too
});

async function setup() {
  const d = await tempDir('nodegate-torsvc-');
  cleanups.push(() => d.remove());
  const config = { ...torConfigFromFlags({ tor: true, ports: PORTS }), extraTorrc: OFFLINE };
  await writeFile(join(d.path, 'config.json'), JSON.stringify({ gateway: { keep: 'me' }, tor: config }));
  const service = new TorService({ dataDir: d.path, config });
  cleanups.push(() => service.stop());
  return { data: d.path, service };
}

describe('TorService', () => {
  it('starts tor, adds the onion with the stored key, reports it, and switches off and on again with the same address', async () => {
    const { data, service } = await setup();
    const address = await service.start();
    expect(service.onionHost()).toBe(address);
    expect(service.status()).toMatchObject({ enabled: true, torOnly: false, onion: { address, published: false, clientAuth: false, torConnected: true } });
    expect(service.statusExtras()).toEqual({ tor: { enabled: true, bootstrap: expect.any(Number) as number }, onion: { address, clientAuth: false } });

    await service.setEnabled(false);
    expect(service.status().onion).toBeUndefined();
    expect(service.onionHost()).toBeUndefined();
    const saved = JSON.parse(await readFile(join(data, 'config.json'), 'utf8')) as { gateway: unknown; tor: { enabled: boolean } };
    expect(saved.gateway).toEqual({ keep: 'me' });
    expect(saved.tor.enabled).toBe(false);

    await service.setEnabled(true);
    expect(service.onionHost()).toBe(address);
  });

  it('refuses to start with a corrupt key, before starting tor, and leaves the key file as it was', async () => {
    const { data, service } = await setup();
    await mkdir(join(data, 'tor'), { recursive: true });
    await writeFile(join(data, 'tor', ONION_KEY_FILE), '{"version":1,"type":"ED25519-V3","seed":"broken"}');
    await expect(service.start()).rejects.toMatchObject({ code: 'NG_TOR_KEY_CORRUPT' });
    expect(service.status().onion).toBeUndefined();
    expect(await readFile(join(data, 'tor', ONION_KEY_FILE), 'utf8')).toBe('{"version":1,"type":"ED25519-V3","seed":"broken"}');
  });

  it('Tor-only: the policy turns clearnet off', async () => {
    const d = await tempDir('nodegate-torsvc-');
    cleanups.push(() => d.remove());
    const service = new TorService({ dataDir: d.path, config: torConfigFromFlags({ torOnly: true, ports: PORTS }) });
    expect(service.policy()).toEqual({ clearnetListeners: false, ddns: false, portMapping: false, publicIpLookup: false, acme: false, outbound: 'tor' });
  });

  it('maps gateway listeners to onion ports and loads the section (absent section: Tor off)', async () => {
    expect(onionPortsFromListeners([{ host: '0.0.0.0', port: 8443, route: 'auto' }])).toEqual([
      { virtualPort: 443, target: '127.0.0.1:8443' },
      { virtualPort: 8080, target: '127.0.0.1:8443' },
    ]);
    expect(onionPortsFromListeners([{ host: '::1', port: 1, route: 'lnd' }, { host: '127.0.0.1', port: 2, route: 'dashboard' }])).toEqual([
      { virtualPort: 8080, target: '[::1]:1' },
      { virtualPort: 443, target: '127.0.0.1:2' },
    ]);
    const d = await tempDir('nodegate-torsvc-');
    cleanups.push(() => d.remove());
    expect((await loadTorService(d.path)).status()).toEqual({ enabled: false, torOnly: false, bootstrap: undefined, onion: undefined });
    await writeFile(join(d.path, 'config.json'), JSON.stringify({ tor: { enabled: true, torOnly: true } }));
    expect((await loadTorService(d.path)).status()).toMatchObject({ enabled: true, torOnly: true });
    await writeFile(join(d.path, 'config.json'), JSON.stringify({ tor: { enabled: 'yes' } }));
    await expect(loadTorService(d.path)).rejects.toMatchObject({ code: 'NG_CONFIG_INVALID' });
  });
});
