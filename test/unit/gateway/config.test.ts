import { describe, it, expect, afterEach } from 'vitest';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseGatewayConfig, writeDefaultGatewayConfig, loadGatewayConfig } from '../../../gateway/config.ts';
import { tempDir } from '../../../sim/process.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

describe('gateway config', () => {
  it('fills every default from an empty section', () => {
    const c = parseGatewayConfig({});
    expect(c.listeners).toEqual([{ listen: '0.0.0.0:8443', route: 'auto' }]);
    expect(c.lnd).toEqual({ restUrl: 'https://127.0.0.1:8080', lndDir: '/root/.lnd', network: 'mainnet' });
    expect(c.limits).toEqual({
      maxHeaderBytes: 16384,
      maxBodyBytes: 1048576,
      headersTimeoutMs: 10000,
      requestTimeoutMs: 30000,
      keepAliveTimeoutMs: 5000,
      timeoutCheckIntervalMs: 1000,
      upstreamConnectTimeoutMs: 5000,
      upstreamHeadersTimeoutMs: 30000,
      shutdownGraceMs: 1500,
    });
    expect(c.hstsMaxAgeSeconds).toBe(15552000);
  });

  it('rejects an unknown key with NG_CONFIG_INVALID naming it', () => {
    expect(() => parseGatewayConfig({ limits: { maxHeaderBytez: 1 } })).toThrow(expect.objectContaining({ code: 'NG_CONFIG_INVALID', message: expect.stringContaining('/limits/maxHeaderBytez') }));
  });

  it('rejects a route that does not exist and a plain-http LND URL', () => {
    expect(() => parseGatewayConfig({ listeners: [{ listen: '127.0.0.1:1', route: 'lnd-admin' }] })).toThrow(expect.objectContaining({ code: 'NG_CONFIG_INVALID' }));
    expect(() => parseGatewayConfig({ lnd: { restUrl: 'http://127.0.0.1:8080', network: 'mainnet' } })).toThrow(expect.objectContaining({ code: 'NG_CONFIG_INVALID' }));
    expect(() => parseGatewayConfig({ dashboard: { url: 'not a url' } })).toThrow(expect.objectContaining({ code: 'NG_CONFIG_INVALID' }));
  });

  it('writeDefaultGatewayConfig keeps the other sections and writes 0600', async () => {
    const dir = await tempDir();
    cleanups.push(() => dir.remove());
    await mkdir(dir.path, { recursive: true });
    await writeFile(join(dir.path, 'config.json'), JSON.stringify({ acme: { directoryUrl: 'https://acme.test/dir' } }));
    await writeDefaultGatewayConfig(dir.path, { https: '127.0.0.1:9443', serverNames: ['abc.node.test'], network: 'regtest', dashboardUrl: 'http://127.0.0.1:3000', httpRedirect: '127.0.0.1:9080' });
    const whole = JSON.parse(await readFile(join(dir.path, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(whole.acme).toEqual({ directoryUrl: 'https://acme.test/dir' });
    const loaded = await loadGatewayConfig(dir.path);
    expect(loaded.listeners).toEqual([{ listen: '127.0.0.1:9443', route: 'auto' }]);
    expect(loaded.lnd.network).toBe('regtest');
    expect(loaded.dashboard).toEqual({ url: 'http://127.0.0.1:3000' });
    expect(loaded.httpRedirect).toEqual({ listen: '127.0.0.1:9080' });
  });

  it('a missing config is NG_CONFIG_MISSING', async () => {
    const dir = await tempDir();
    cleanups.push(() => dir.remove());
    await expect(loadGatewayConfig(dir.path)).rejects.toMatchObject({ code: 'NG_CONFIG_MISSING' });
  });
});
