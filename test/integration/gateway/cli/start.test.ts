import { describe, it, expect, afterAll } from 'vitest';
import { join } from 'node:path';
import { mkdir, writeFile, stat } from 'node:fs/promises';
import { Client } from 'undici';
import { startProcess, tempDir, type RunningProcess } from '../../../../sim/process.ts';
import { startLndSim, type LndSim } from '../../../../sim/lnd.ts';
import { makeSelfSignedCert } from '../../../../sim/self-signed-cert.ts';
import { writeDefaultGatewayConfig } from '../../../../gateway/config.ts';
import { encodePairFile } from '../../../../certs/store.ts';
import { TokenService } from '../../../../gateway/auth/tokens.ts';

const BIN = new URL('../../../../bin/nodegate.js', import.meta.url).pathname;
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

describe('nodegate start', () => {
  it('serves LND through a token, and on SIGTERM finishes the in-flight request and exits 0', async () => {
    const dir = await tempDir('ng-start-');
    cleanups.push(() => dir.remove());
    const dataDir = join(dir.path, 'data');
    const lnd: LndSim = await startLndSim({ dir: join(dir.path, 'lnd'), unlocked: true });
    cleanups.push(() => lnd.stop());
    await writeDefaultGatewayConfig(dataDir, { https: '127.0.0.1:0', serverNames: ['node.test'], lndRestUrl: lnd.url, lndDir: lnd.dir, network: 'mainnet' });
    expect((await stat(join(dataDir, 'config.json'))).mode & 0o777).toBe(0o600);
    const cert = makeSelfSignedCert(['node.test']);
    await mkdir(join(dataDir, 'certs'), { recursive: true });
    await writeFile(join(dataDir, 'certs', 'current.pem'), encodePairFile(cert.keyPem, cert.certPem), { mode: 0o600 });
    const token = (await (await TokenService.open(dataDir)).create({ scope: 'readonly', name: 'wallet' })).token;

    const proc: RunningProcess = startProcess(process.execPath, [BIN, 'start', '--data', dataDir], { env: { ...process.env, NODEGATE_LOG_LEVEL: 'warn' } });
    cleanups.push(() => proc.stop());
    const line = await proc.waitFor(/listening on https:\/\/127\.0\.0\.1:(\d+)/, 20_000);
    const port = Number(/:(\d+)$/.exec(line)![1]);
    const client = new Client(`https://127.0.0.1:${port}`, { connect: { ca: cert.certPem, servername: 'node.test' } });
    cleanups.push(() => client.destroy());

    const ok = await client.request({ method: 'GET', path: '/v1/getinfo', headers: { host: 'node.test', authorization: `Bearer ${token}` } });
    expect(ok.statusCode).toBe(200);
    await ok.body.text();

    lnd.setGetinfoDelayMs(600);
    const seen = lnd.total();
    const inFlight = client.request({ method: 'GET', path: '/v1/getinfo', headers: { host: 'node.test', authorization: `Bearer ${token}` } });
    await lnd.waitForTotal(seen + 1); // the request has reached LND
    const t0 = Date.now();
    proc.child.kill('SIGTERM');
    const r = await inFlight;
    const body = (await r.body.json()) as { alias: string };
    expect(r.statusCode).toBe(200);
    expect(body.alias).toBe('nodegate-sim');
    expect(await proc.exited).toBe(0);
    const stopMs = Date.now() - t0;
    expect(proc.output()).toMatch(/gateway stopped in \d+ ms/);
    console.log(`graceful stop with one in-flight request: ${stopMs} ms to process exit; ${/stopped in (\d+) ms/.exec(proc.output())![1]} ms in stop()`);
  });
});
