/**
 * The whole path through the real command line: `nodegate registry` and `nodegate init` as child
 * processes, a real ddclient pushing the address over dyndns2, `dig` reading the embedded DNS.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { clientForRegisteredDevice } from '../../../../ddns/client/enroll.ts';
import { tempDir, startProcess } from '../../../../sim/process.ts';
import { dig, runNodegate, startRegistryProcess, type RegistryProcess } from '../../../support/registry-process.ts';

const ZONE = 'dyn.cli.example';
let dir: { path: string; remove(): Promise<void> };
let registry: RegistryProcess;

beforeAll(async () => {
  dir = await tempDir('ng-registry-cli-');
  registry = await startRegistryProcess(['--zone', ZONE, '--data', join(dir.path, 'registry'), '--api', '127.0.0.1:0', '--dns', '127.0.0.1:0', '--allow-address', '198.51.100.0/24', '--ns', `ns1.${ZONE}=127.0.0.1`]);
});
afterAll(async () => {
  await registry?.process.stop();
  await dir?.remove();
});

/** `nodegate init` without a certificate; returns the device name. */
async function initNode(data: string, registryUrl: string): Promise<string> {
  const r = await runNodegate(['init', '--data', data, '--registry', registryUrl, '--no-cert', '--json']);
  expect(r.code).toBe(0);
  return (JSON.parse(r.stdout) as { name: string }).name;
}

describe('nodegate registry + nodegate init', () => {
  it('init registers the node, prints its name, and is idempotent', async () => {
    const data = join(dir.path, 'node-a');
    // --no-cert: no CA in this test (and never the default public one from a test).
    const first = await runNodegate(['init', '--data', data, '--registry', registry.apiUrl, '--no-cert', '--json']);
    expect(first.code).toBe(0);
    const { name, registered } = JSON.parse(first.stdout) as { name: string; registered: boolean };
    expect(registered).toBe(true);
    expect(name).toMatch(new RegExp(`^[a-z2-7]{16}\\.${ZONE.replace(/\./g, '\\.')}$`));
    const again = await runNodegate(['init', '--data', data, '--registry', registry.apiUrl, '--no-cert', '--json']);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ name, registered: false });
  });

  it('a registered node publishes its address and dig sees it at <id>.<zone> and below', async () => {
    const data = join(dir.path, 'node-b');
    const name = await initNode(data, registry.apiUrl);
    const { client } = await clientForRegisteredDevice(data);
    await client.updateAddress({ ipv4: '198.51.100.80', lan: '192.168.1.80' });
    expect(await dig(registry.dns, name, 'A')).toEqual(['198.51.100.80']);
    expect(await dig(registry.dns, `wallet.${name}`, 'A')).toEqual(['198.51.100.80']);
    expect(await dig(registry.dns, `lan.${name}`, 'A')).toEqual(['192.168.1.80']);
    expect(await dig(registry.dns, ZONE, 'NS')).toEqual([`ns1.${ZONE}.`]);
  });

  it('ddclient (dyndns2) updates the address with the secret init stored', async () => {
    const data = join(dir.path, 'node-c');
    const name = await initNode(data, registry.apiUrl);
    const { updateSecret } = JSON.parse(await readFile(join(data, 'device', 'registration.json'), 'utf8')) as { updateSecret: string };
    const conf = join(dir.path, 'ddclient.conf');
    const port = new URL(registry.apiUrl).port;
    await writeFile(conf, `daemon=0\nssl=no\nprotocol=dyndns2\nusev4=ipv4, ipv4=198.51.100.81\nserver=127.0.0.1:${port}\nlogin=${name}\npassword='${updateSecret}'\n${name}\n`);
    await chmod(conf, 0o600);
    const ddclient = startProcess('ddclient', ['-foreground', '-daemon=0', '-noquiet', '-verbose', '-file', conf, '-cache', join(dir.path, 'ddclient.cache')]);
    try {
      await ddclient.waitFor(/SUCCESS:.*good/, 20_000);
      expect(await ddclient.exited).toBe(0);
    } finally {
      await ddclient.stop();
    }
    expect(await dig(registry.dns, name, 'A')).toEqual(['198.51.100.81']);
  });

  it('init against an unreachable registry fails with a coded message and exit 1, no stack trace', async () => {
    const r = await runNodegate(['init', '--data', join(dir.path, 'node-d'), '--registry', 'http://127.0.0.1:9', '--no-cert']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\[NG_REG_UNAVAILABLE\]/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('registry without --zone is a usage error (exit 2)', async () => {
    const r = await runNodegate(['registry', '--data', join(dir.path, 'x')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Missing --zone Z.*\[NG_USAGE\]/s);
  });

  it('a malformed --allow-address is a usage error naming the flag (exit 2)', async () => {
    const r = await runNodegate(['registry', '--zone', ZONE, '--data', join(dir.path, 'y'), '--api', '127.0.0.1:0', '--dns', '127.0.0.1:0', '--allow-address', '10.0.0.0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--allow-address: .*10\.0\.0\.0.*\[NG_USAGE\]/s);
  });

  it('a bad --dns-rate-limit or --dns-exempt is a usage error saying what to give (exit 2)', async () => {
    const base = ['registry', '--zone', ZONE, '--api', '127.0.0.1:0', '--dns', '127.0.0.1:0', '--stun', 'off'];
    const rate = await runNodegate([...base, '--data', join(dir.path, 'r1'), '--dns-rate-limit', 'fast']);
    expect(rate.code).toBe(2);
    expect(rate.stderr).toMatch(/--dns-rate-limit expects a whole number of answers per second.*"fast".*\[NG_USAGE\]/s);
    const exempt = await runNodegate([...base, '--data', join(dir.path, 'r2'), '--dns-exempt', 'my-resolver']);
    expect(exempt.code).toBe(2);
    expect(exempt.stderr).toMatch(/address or CIDR.*"my-resolver".*\[NG_USAGE\]/s);
  });

  it('stops cleanly on SIGTERM (exit 0)', async () => {
    const other = await startRegistryProcess(['--zone', ZONE, '--data', join(dir.path, 'registry-2'), '--api', '127.0.0.1:0', '--dns', '127.0.0.1:0']);
    other.process.child.kill('SIGTERM');
    expect(await other.process.exited).toBe(0);
  });
});
