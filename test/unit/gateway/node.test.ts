import { describe, it, expect, afterEach } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from '../../../sim/process.ts';
import { loadNodeConfig, startNode, unreachableReason } from '../../../gateway/node.ts';
import { writeHttpsReach, type HttpsReach } from '../../../ddns/client/reach-status.ts';
import { createLogger } from '../../../core/log.ts';
import { isNodegateError } from '../../../core/errors.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- config.json read back as plain JSON
type Json = Record<string, any>;

const run = promisify(execFile);
const dirs: Array<{ remove(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => d.remove()));
});

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['bin/nodegate.js', ...args]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('nodegate init --tor-only', () => {
  it('writes a config with nothing clearnet: no registry, no ACME, no router traffic, loopback listener', async () => {
    const d = await tempDir();
    dirs.push(d);
    const r = await cli(['init', '--data', d.path, '--tor-only', '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { torOnly: boolean; name: unknown; onion: string };
    expect(out.torOnly).toBe(true);
    expect(out.name).toBeNull();
    expect(out.onion).toMatch(/^[a-z2-7]{56}\.onion$/);
    const config = JSON.parse(await readFile(join(d.path, 'config.json'), 'utf8')) as Json;
    expect(config.registry).toBeUndefined();
    expect(config.acme).toBeUndefined();
    expect(config.reachability).toMatchObject({ enabled: false, portMapping: false, router: 'none' });
    expect(config.tor).toMatchObject({ enabled: true, torOnly: true });
    expect(config.gateway.listeners).toEqual([{ listen: '127.0.0.1:8443', route: 'auto' }]);
    // Running init again keeps the onion address.
    const again = JSON.parse((await cli(['init', '--data', d.path, '--tor-only', '--json'])).stdout) as { onion: string };
    expect(again.onion).toBe(out.onion);
  });

  it('refuses --tor-only together with --registry (exit 2)', async () => {
    const d = await tempDir();
    dirs.push(d);
    const r = await cli(['init', '--data', d.path, '--tor-only', '--registry', 'http://127.0.0.1:1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('[NG_USAGE]');
  });
});

describe('startNode', () => {
  it('refuses a Tor-only config whose listener is reachable without tor, before starting anything', async () => {
    const d = await tempDir();
    dirs.push(d);
    expect((await cli(['init', '--data', d.path, '--tor-only'])).code).toBe(0);
    const path = join(d.path, 'config.json');
    const config = JSON.parse(await readFile(path, 'utf8')) as Json;
    config.gateway.listeners = [{ listen: '0.0.0.0:8443', route: 'auto' }];
    await writeFile(path, JSON.stringify(config));
    const err = await startNode({ dataDir: d.path, logger: createLogger({ level: 'silent' }) }).catch((e: unknown) => e);
    expect(isNodegateError(err, 'NG_CONFIG_INVALID')).toBe(true);
  });

  it('names an unknown config section instead of ignoring it', async () => {
    const d = await tempDir();
    dirs.push(d);
    expect((await cli(['init', '--data', d.path, '--tor-only'])).code).toBe(0);
    const path = join(d.path, 'config.json');
    const config = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
    config.reachabilty = {};
    await writeFile(path, JSON.stringify(config));
    const err = await loadNodeConfig(d.path).catch((e: unknown) => e);
    expect(isNodegateError(err, 'NG_CONFIG_INVALID')).toBe(true);
    expect((err as Error).message).toContain('"reachabilty"');
  });
});

// Where the "unreachable" notification gets its reason: the reach model's HTTPS path when its
// writer runs (DATA/reach/https.json); Tor-only by choice and reachable paths are not "unreachable".
describe('unreachableReason', () => {
  it('reads the reach model: none or tor-by-necessity is unreachable, direct, relay and Tor-only are not', async () => {
    const d = await tempDir();
    try {
      expect(await unreachableReason(d.path, undefined)).toBeNull(); // nothing known yet
      const at = '2026-03-01T10:00:00.000Z';
      const cases: [Partial<HttpsReach>, unknown][] = [
        [{ path: 'none', reason: 'NO_PATH' }, { code: 'NO_PATH', vars: {} }],
        [{ path: 'tor', reason: 'NO_PATH' }, { code: 'NO_PATH', vars: {} }],
        [{ path: 'none', reason: 'RELAY_UNAVAILABLE', relay: { host: 'relay.example', state: 'down' } }, { code: 'RELAY_UNAVAILABLE', vars: { relay: 'relay.example' } }],
        [{ path: 'tor', reason: 'TOR_ONLY' }, null],
        [{ path: 'direct', reason: 'DIRECT_REACHABLE' }, null],
        [{ path: 'relay', reason: 'RELAY_NO_INBOUND', relay: { host: 'relay.example', state: 'up' } }, null],
      ];
      for (const [reach, expected] of cases) {
        await writeHttpsReach(d.path, { mode: 'auto', since: at, ...reach } as HttpsReach);
        expect(await unreachableReason(d.path, undefined), JSON.stringify(reach)).toEqual(expected);
      }
    } finally {
      await d.remove();
    }
  });
});
