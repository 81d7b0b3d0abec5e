/**
 * tor's caches belong to one Tor network: when the directory authorities nodegate gives tor change
 * (the demo's private network is new at every run, same keys and new ports), the consensus,
 * descriptors and guards from the old one are dropped before tor starts, or tor keeps trusting a
 * consensus whose relays are gone and never publishes the onion (issue 20). Keys stay.
 */
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { dropStaleNetworkCaches, torNetworkFingerprint } from '../../../tor/process.ts';
import { tempDir } from '../../../sim/process.ts';

const NETWORK_A = ['TestingTorNetwork 1', 'DirAuthority auth orport=41001 no-v2 v3ident=BF83 127.0.0.1:41002 647E', 'SafeLogging 0'];
const NETWORK_B = ['TestingTorNetwork 1', 'DirAuthority auth orport=42001 no-v2 v3ident=BF83 127.0.0.1:42002 647E', 'SafeLogging 0'];

const dirs: Array<{ path: string; remove(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => d.remove()));
});

async function torDataDir(): Promise<string> {
  const d = await tempDir('ng-tor-caches-');
  dirs.push(d);
  for (const f of ['cached-microdesc-consensus', 'cached-microdescs.new', 'cached-certs', 'state', 'lock']) await writeFile(join(d.path, f), 'x');
  await mkdir(join(d.path, 'keys'));
  await writeFile(join(d.path, 'keys', 'ed25519_master_id_secret_key'), 'k');
  return d.path;
}

const CACHES = ['cached-certs', 'cached-microdesc-consensus', 'cached-microdescs.new', 'state'];

describe('tor network caches', () => {
  it('fingerprints only the options that choose the network, in any order', () => {
    expect(torNetworkFingerprint([])).toBe('');
    expect(torNetworkFingerprint(['SafeLogging 0', 'ClientUseIPv6 0'])).toBe('');
    expect(torNetworkFingerprint(NETWORK_A)).toBe(torNetworkFingerprint([...NETWORK_A].reverse()));
    expect(torNetworkFingerprint(NETWORK_A)).not.toBe(torNetworkFingerprint(NETWORK_B));
    expect(torNetworkFingerprint(NETWORK_A)).toBe(torNetworkFingerprint([...NETWORK_A.slice(0, 2), 'SafeLogging 1']));
  });

  it('keeps the caches while the network stays the same, drops them when it changes, keeps the keys', async () => {
    const dir = await torDataDir();
    expect(await dropStaleNetworkCaches(dir, NETWORK_A)).toEqual(CACHES); // no marker yet, private network: caches of unknown origin
    for (const f of CACHES) await writeFile(join(dir, f), 'x');
    expect(await dropStaleNetworkCaches(dir, NETWORK_A)).toEqual([]);
    expect((await readdir(dir)).sort()).toEqual([...CACHES, 'keys', 'lock', 'nodegate-network'].sort());
    expect(await dropStaleNetworkCaches(dir, NETWORK_B)).toEqual(CACHES);
    expect((await readdir(dir)).sort()).toEqual(['keys', 'lock', 'nodegate-network']);
    expect(await readdir(join(dir, 'keys'))).toEqual(['ed25519_master_id_secret_key']);
  });

  it('leaves a node on the public Tor network alone, also when it was there before the marker existed', async () => {
    const dir = await torDataDir();
    expect(await dropStaleNetworkCaches(dir, ['SafeLogging 0'])).toEqual([]);
    expect(await dropStaleNetworkCaches(dir, [])).toEqual([]);
    expect(await readdir(dir)).toContain('cached-microdesc-consensus');
    // ... until it is pointed at another network
    expect(await dropStaleNetworkCaches(dir, NETWORK_A)).toEqual(CACHES);
  });
});
