import { describe, it, expect, afterAll } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { tempDir } from '../../../support/process.ts';
import { startLndSim } from '../../../support/lnd-sim.ts';
import { writeDefaultGatewayConfig } from '../../../../gateway/config.ts';
import { TokenService } from '../../../../gateway/auth/tokens.ts';

const run = promisify(execFile);
const BIN = new URL('../../../../bin/nodegate.js', import.meta.url).pathname;
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

describe('nodegate status --json', () => {
  it('prints one object: names, listeners, certificate, LND state, token counts', async () => {
    const dir = await tempDir('ng-status-');
    cleanups.push(() => dir.remove());
    const lnd = await startLndSim({ dir: join(dir.path, 'lnd') });
    cleanups.push(() => lnd.stop());
    const dataDir = join(dir.path, 'data');
    await writeDefaultGatewayConfig(dataDir, { https: '127.0.0.1:0', serverNames: ['abc.node.test'], lndRestUrl: lnd.url, lndDir: lnd.dir });
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
    });
  });
});
