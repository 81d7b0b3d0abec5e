/**
 * Regression: the gateway refused to start when LND's tls.cert did not exist yet (first boot, or
 * LND still starting after a power cut). It must start, serve its owner pages, answer LND calls
 * with a coded 502, and proxy as soon as LND appears — without a restart.
 */
import { describe, it, expect, afterAll } from 'vitest';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { startHarness, type Harness } from '../../../support/gateway-harness.ts';
import { startLndSim, type LndSim } from '../../../../sim/lnd.ts';
import { freePort, tempDir } from '../../../../sim/process.ts';

let h: Harness | undefined;
let later: LndSim | undefined;
const dirs: Array<{ remove(): Promise<void> }> = [];
afterAll(async () => {
  await later?.stop();
  await h?.close();
  await Promise.all(dirs.map((d) => d.remove()));
});

describe('LND that starts after the gateway', () => {
  it('is answered with a coded 502 until it exists, then proxied without a restart', async () => {
    const d = await tempDir();
    dirs.push(d);
    const lndDir = join(d.path, 'lnd');
    await mkdir(lndDir, { recursive: true });
    const port = await freePort();
    h = await startHarness({ config: { lnd: { restUrl: `https://127.0.0.1:${port}`, lndDir, network: 'mainnet' } } });
    const { token } = await h.gateway.tokens.create({ scope: 'readonly', name: 'wallet' });
    const client = h.client();
    const get = async () => {
      const r = await client.request({ method: 'GET', path: '/v1/getinfo', headers: { host: 'gw.test', authorization: `Bearer ${token}` } });
      return { status: r.statusCode, body: (await r.body.json()) as Record<string, unknown> };
    };

    const before = await get();
    expect(before.status).toBe(502);
    expect((before.body.error as { code: string }).code).toBe('NG_GW_MACAROON_MISSING'); // nothing of LND's exists yet
    const login = await client.request({ method: 'GET', path: '/_nodegate/login', headers: { host: 'gw.test' } });
    expect(login.statusCode).toBe(200);
    await login.body.dump();

    later = await startLndSim({ dir: lndDir, port, unlocked: true, alias: 'late-lnd' });
    const after = await get();
    expect(after.status).toBe(200);
    expect(after.body.alias).toBe('late-lnd');
  });
});
