import { describe, it, expect, afterAll } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { mkdir, writeFile } from 'node:fs/promises';
import { tempDir } from '../../../../sim/process.ts';
import { startLndSim } from '../../../../sim/lnd.ts';
import { writeDefaultGatewayConfig } from '../../../../gateway/config.ts';
import { TokenService } from '../../../../gateway/auth/tokens.ts';
import { OwnerAuth } from '../../../../gateway/auth/owner.ts';
import { saveTorEnabled } from '../../../../tor/service.ts';
import { loadOrCreateOnionKey } from '../../../../tor/onion.ts';
import { addClient } from '../../../../tor/clients.ts';
import { writeState } from '../../../../ddns/client/reachability.ts';

const run = promisify(execFile);
const BIN = new URL('../../../../bin/nodegate.js', import.meta.url).pathname;
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

/** A configured node (name abc.node.test) and a running LND simulator, both removed after the file. */
async function nodeWithLnd() {
  const dir = await tempDir('ng-status-');
  cleanups.push(() => dir.remove());
  const lnd = await startLndSim({ dir: join(dir.path, 'lnd') });
  cleanups.push(() => lnd.stop());
  const dataDir = join(dir.path, 'data');
  await writeDefaultGatewayConfig(dataDir, { https: '127.0.0.1:0', serverNames: ['abc.node.test'], lndRestUrl: lnd.url, lndDir: lnd.dir });
  return { dataDir, lnd };
}

describe('nodegate status --json', () => {
  it('prints one object: names, listeners, certificate, LND state, token counts', async () => {
    const { dataDir, lnd } = await nodeWithLnd();
    const tokens = await TokenService.open(dataDir);
    await tokens.create({ scope: 'readonly', name: 'a' });
    const b = await tokens.create({ scope: 'admin', name: 'b' });
    await tokens.revoke(b.id);

    const { stdout } = await run(process.execPath, [BIN, 'status', '--data', dataDir, '--json'], { timeout: 20_000 });
    const report = JSON.parse(stdout) as Record<string, unknown>;
    expect(report).toEqual({
      names: ['abc.node.test'],
      listeners: [{ listen: '127.0.0.1:0', route: 'auto' }],
      certificate: { present: false, problems: [] },
      lnd: { restUrl: lnd.url, network: 'mainnet', state: 'locked' },
      tokens: { active: 1, revoked: 1, expired: 0 },
      owner: { password: false },
      tor: { enabled: false, torOnly: false, clients: 0 },
      addresses: null,
    });
    // the plain text names the setup page and where its code is, never the code itself
    const text = (await run(process.execPath, [BIN, 'status', '--data', dataDir], { timeout: 20_000 })).stdout;
    expect(text).toContain(`https://abc.node.test/_nodegate/setup from home with the code in ${dataDir}/gateway/setup-code`);
    expect(text).toContain('addresses:    not known yet');
  });

  it('with Tor on, an owner password and a state saved by the daemon: the onion, its clients and the addresses', async () => {
    const { dataDir } = await nodeWithLnd();
    await saveTorEnabled(join(dataDir, 'config.json'), true);
    const { key } = await loadOrCreateOnionKey(join(dataDir, 'tor'));
    await addClient(join(dataDir, 'tor'), 'phone');
    await (await OwnerAuth.open({ dataDir })).setPassword('a long owner password');
    await writeState(dataDir, {
      version: 1,
      updatedAt: '2026-11-25T04:00:00.000Z',
      addresses: { ipv4: '198.51.100.2', ipv6: null, lan: '192.168.1.10' },
      published: { ipv4: '198.51.100.2', ipv6: null, lan: '192.168.1.10' },
      mapping: { status: 'mapped', method: 'pcp', mapping: { method: 'pcp', protocol: 'tcp', internalPort: 8443, externalPort: 8443, externalAddress: '198.51.100.2', lifetimeS: 7200, grantedAt: 0 }, reason: null, answers: null, routerWan: '198.51.100.2', recreated: 0, renewed: 1, checks: 3 },
      lastFacts: null,
      lastVerdict: 'REACHABLE',
      registryError: null,
    });

    const { stdout } = await run(process.execPath, [BIN, 'status', '--data', dataDir, '--json'], { timeout: 20_000 });
    const report = JSON.parse(stdout) as Record<string, unknown>;
    expect(report).toMatchObject({
      owner: { password: true },
      tor: { enabled: true, torOnly: false, onion: `${key.address}.onion`, clients: 1 },
      addresses: {
        updatedAt: '2026-11-25T04:00:00.000Z',
        ipv4: '198.51.100.2',
        ipv6: null,
        lan: '192.168.1.10',
        published: { ipv4: '198.51.100.2', ipv6: null, lan: '192.168.1.10' },
        mapping: { status: 'mapped', method: 'pcp', externalPort: 8443 },
        verdict: 'REACHABLE',
        registryError: null,
      },
    });
    const text = (await run(process.execPath, [BIN, 'status', '--data', dataDir], { timeout: 20_000 })).stdout;
    expect(text).toContain(`tor:          on, ${key.address}.onion, 1 authorised client(s)`);
    expect(text).toContain('port mapping: mapped by pcp, public port 8443; last verdict REACHABLE');
    expect(text).toContain('owner:        password set');
  });

  it('a damaged onion key or owner file is reported in its section; the rest of the status still prints', async () => {
    const dir = await tempDir('ng-status-');
    cleanups.push(() => dir.remove());
    const dataDir = join(dir.path, 'data');
    await writeDefaultGatewayConfig(dataDir, { https: '127.0.0.1:0', serverNames: ['abc.node.test'], lndRestUrl: 'https://127.0.0.1:1', lndDir: join(dir.path, 'lnd') });
    await mkdir(join(dataDir, 'tor'), { recursive: true });
    await writeFile(join(dataDir, 'tor', 'onion-key.json'), '{"version":1');
    await mkdir(join(dataDir, 'gateway'), { recursive: true });
    await writeFile(join(dataDir, 'gateway', 'owner.json'), 'not json');
    const { stdout } = await run(process.execPath, [BIN, 'status', '--data', dataDir, '--json'], { timeout: 20_000 });
    const report = JSON.parse(stdout) as { tor: { problem?: string }; owner: { password: boolean; problem?: string }; names: string[]; lnd: { state: string; problem?: string } };
    expect(report.names).toEqual(['abc.node.test']);
    expect(report.owner).toEqual({ password: false, problem: expect.stringMatching(/owner\.json is not a valid owner password file/) });
    // nothing at the LND address either: the state says unreachable, the problem says why
    expect(report.lnd.state).toBe('unreachable');
    expect(report.lnd.problem).toMatch(/\[NG_GW_[A-Z_]+\]$/);
    console.log(`status, LND not there: ${report.lnd.problem}`);
    expect(report.tor.problem).toMatch(/damaged.*Restore the file from a backup/);
  });
});
