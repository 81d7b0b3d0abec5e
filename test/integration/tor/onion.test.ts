/**
 * The onion service on a private Tor network (sim/tor-network.ts): one network shared by
 * every test in this file. The node runs its own tor (TorProcess with the network's torrc lines);
 * separate client tors fetch through their SOCKS ports.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { startTorNetwork, type TorClient, type TorNetwork } from '../../../sim/tor-network.ts';
import { tempDir } from '../../../sim/process.ts';
import { TorAttachment, TorProcess } from '../../../tor/process.ts';
import { OnionService } from '../../../tor/onion.ts';
import { socksConnect } from '../../../tor/socks.ts';
import { addClient } from '../../../tor/clients.ts';
import { isNodegateError } from '../../../core/errors.ts';
import { connect as tlsConnect } from 'node:tls';
import { startHarness, type Harness } from '../../support/gateway-harness.ts';

const PUBLISH_TIMEOUT_MS = 60_000;
const FETCH_ATTEMPTS = 4;

let network: TorNetwork;
let fetcher: TorClient;
let wallet: TorClient;
let nodeTor: TorProcess;
let dashboard: Server;
let lnd: Server;
let data: { path: string; remove(): Promise<void> };
const cleanups: Array<() => Promise<void>> = [];

function listen(handler: (path: string) => { status: number; body: string }): Promise<Server> {
  const server = createServer((req, res) => {
    const { status, body } = handler(req.url ?? '/');
    res.writeHead(status, { 'content-type': 'application/json', connection: 'close' }).end(body);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

const portOf = (s: Server) => (s.address() as AddressInfo).port;

/** GET over the client's SOCKS port; returns status line and body. */
async function onionGet(client: TorClient, address: string, port: number, path: string): Promise<{ status: number; body: string }> {
  const socket = await socksConnect({ host: '127.0.0.1', port: client.socksPort }, address, port, { timeoutMs: 30_000 });
  socket.write(`GET ${path} HTTP/1.0\r\nHost: ${address}\r\nConnection: close\r\n\r\n`);
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  await new Promise<void>((resolve, reject) => {
    socket.once('end', resolve);
    socket.once('error', reject);
  });
  const text = Buffer.concat(chunks).toString('utf8');
  const [head = '', body = ''] = text.split('\r\n\r\n');
  return { status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1]), body };
}

/**
 * HTTPS GET over the onion, the way a wallet does it: SNI and Host are the onion name, the
 * gateway's certificate (which does not name the onion) is pinned.
 */
async function onionHttpsGet(client: TorClient, address: string, port: number, path: string, certPem: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const raw = await socksConnect({ host: '127.0.0.1', port: client.socksPort }, address, port, { timeoutMs: 30_000 });
  const socket = tlsConnect({ socket: raw, servername: address, ca: certPem, checkServerIdentity: () => undefined });
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', resolve);
    socket.once('error', reject);
  });
  const extra = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  socket.write(`GET ${path} HTTP/1.0\r\nHost: ${address}\r\n${extra}Connection: close\r\n\r\n`);
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  await new Promise<void>((resolve, reject) => {
    socket.once('end', resolve);
    socket.once('close', resolve);
    socket.once('error', reject);
  });
  const text = Buffer.concat(chunks).toString('utf8');
  const at = text.indexOf('\r\n\r\n');
  return { status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1]), body: at === -1 ? '' : text.slice(at + 4) };
}

/**
 * A fresh descriptor may take a moment to reach every HSDir; a failed fetch makes tor avoid those
 * HSDirs (issue facts), so retry a bounded number of times with NEWNYM in between.
 */
async function onionGetWithRetry(client: TorClient, address: string, port: number, path: string): Promise<{ status: number; body: string }> {
  return retry(client, () => onionGet(client, address, port, path));
}

async function retry<T>(client: TorClient, attempt: () => Promise<T>): Promise<T> {
  let last: unknown;
  for (let i = 0; i < FETCH_ATTEMPTS; i++) {
    try {
      return await attempt();
    } catch (err) {
      last = err;
      if (isNodegateError(err) && err.details?.socksReply === 0xf4) throw err; // auth failures are final
      await client.control.signal('NEWNYM');
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  throw last;
}

beforeAll(async () => {
  data = await tempDir('nodegate-tor-');
  dashboard = await listen((path) => ({ status: 200, body: JSON.stringify({ page: 'dashboard', path }) }));
  lnd = await listen((path) => (path === '/v1/getinfo' ? { status: 200, body: JSON.stringify({ alias: 'lnd-sim', synced_to_chain: true }) } : { status: 404, body: '{}' }));
  network = await startTorNetwork();
  nodeTor = new TorProcess({ dir: join(data.path, 'tor'), extraTorrc: network.torrcLines });
  const started = await Promise.all([network.startClient('fetcher'), network.startClient('wallet'), nodeTor.start().then(() => nodeTor.waitForBootstrap(120_000))]);
  fetcher = started[0];
  wallet = started[1];
}, 240_000); // five tors on a shared 2-core machine: usually ~25 s

afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined); // keep stopping the rest
  await nodeTor?.stop();
  await network?.stop();
  dashboard?.close();
  lnd?.close();
  await data?.remove();
});

describe('onion service on a private Tor network', { timeout: 180_000 }, () => {
  let address: string;
  let onion: OnionService;

  it('publishes the dashboard and LND REST on one onion address and serves them through tor', async () => {
    onion = new OnionService({
      dir: join(data.path, 'tor'),
      source: nodeTor,
      ports: [
        { virtualPort: 443, target: `127.0.0.1:${portOf(dashboard)}` },
        { virtualPort: 8080, target: `127.0.0.1:${portOf(lnd)}` },
      ],
    });
    cleanups.push(() => onion.stop());
    address = await onion.start();
    expect(address).toMatch(/^[a-z2-7]{56}\.onion$/);
    await onion.waitPublished(PUBLISH_TIMEOUT_MS);
    expect(onion.status()).toEqual({ address, published: true, clientAuth: false, torConnected: true });

    expect(await onionGetWithRetry(fetcher, address, 443, '/')).toEqual({ status: 200, body: '{"page":"dashboard","path":"/"}' });
    expect(await onionGetWithRetry(fetcher, address, 8080, '/v1/getinfo')).toEqual({ status: 200, body: '{"alias":"lnd-sim","synced_to_chain":true}' });
  });

  it('keeps the same address and serves again after tor is killed with SIGKILL and restarted', async () => {
    const oldPid = nodeTor.pid;
    expect(oldPid).toBeGreaterThan(0);
    const republished = new Promise<void>((resolve) => nodeTor.once('control', () => resolve()));
    process.kill(oldPid!, 'SIGKILL');
    await republished;
    expect(nodeTor.pid).not.toBe(oldPid);
    await nodeTor.waitForBootstrap(120_000);
    await onion.waitPublished(PUBLISH_TIMEOUT_MS);
    expect(onion.status().address).toBe(address);
    await fetcher.control.signal('NEWNYM');
    expect(await onionGetWithRetry(fetcher, address, 8080, '/v1/getinfo')).toEqual({ status: 200, body: '{"alias":"lnd-sim","synced_to_chain":true}' });
  });

  it('keeps the same address when the node restarts with a new tor process and a new service object', async () => {
    await onion.stop();
    await nodeTor.stop();
    nodeTor = new TorProcess({ dir: join(data.path, 'tor'), extraTorrc: network.torrcLines });
    await nodeTor.start();
    await nodeTor.waitForBootstrap(120_000);
    onion = new OnionService({ dir: join(data.path, 'tor'), source: nodeTor, ports: [{ virtualPort: 443, target: `127.0.0.1:${portOf(dashboard)}` }] });
    expect(await onion.start()).toBe(address);
    await onion.waitPublished(PUBLISH_TIMEOUT_MS);
    await fetcher.control.signal('NEWNYM');
    expect(await onionGetWithRetry(fetcher, address, 443, '/x')).toEqual({ status: 200, body: '{"page":"dashboard","path":"/x"}' });
  });

  it('with client authorisation: refuses an unauthorised client (SOCKS 0xF4) and serves an authorised one', async () => {
    const dir = join(data.path, 'tor-auth');
    const authOnion = new OnionService({ dir, source: nodeTor, clientAuth: true, ports: [{ virtualPort: 443, target: `127.0.0.1:${portOf(dashboard)}` }] });
    const authAddress = await authOnion.address();
    const added = await addClient(dir, 'phone', { address: authAddress });
    cleanups.push(() => authOnion.stop());
    await authOnion.start();
    await authOnion.waitPublished(PUBLISH_TIMEOUT_MS);
    expect(authOnion.status().clientAuth).toBe(1);

    // The wallet gets the key the way a user pastes it: a ClientOnionAuthDir file.
    const authDir = join(wallet.dir, 'onion-auth');
    await mkdir(authDir, { recursive: true, mode: 0o700 });
    await writeFile(join(authDir, 'phone.auth_private'), added.authLine + '\n', { mode: 0o600 });
    await wallet.control.setConf({ ClientOnionAuthDir: authDir });

    const refused = await onionGet(fetcher, authAddress, 443, '/').then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(isNodegateError(refused, 'NG_TOR_COMMAND') && refused.details?.socksReply).toBe(0xf4);
    expect(await onionGetWithRetry(wallet, authAddress, 443, '/paid')).toEqual({ status: 200, body: '{"page":"dashboard","path":"/paid"}' });
  });

  it('serves the gateway over the onion: the dashboard to the owner and LND getinfo to a token', async () => {
    const h: Harness = await startHarness();
    cleanups.push(() => h.close());
    const gwOnion = new OnionService({
      dir: join(data.path, 'tor-gateway'),
      source: nodeTor,
      ports: [
        { virtualPort: 443, target: `127.0.0.1:${h.port}` },
        { virtualPort: 8080, target: `127.0.0.1:${h.port}` },
      ],
    });
    cleanups.push(() => gwOnion.stop());
    const gwAddress = await gwOnion.start();
    await gwOnion.waitPublished(PUBLISH_TIMEOUT_MS);
    const { token } = await h.gateway.tokens.create({ scope: 'readonly', name: 'tor wallet' });
    const getinfo = await retry(fetcher, () => onionHttpsGet(fetcher, gwAddress, 8080, '/v1/getinfo', h.cert.certPem, { authorization: `Bearer ${token}` }));
    expect(getinfo.status).toBe(200);
    expect(JSON.parse(getinfo.body)).toHaveProperty('identity_pubkey');
    const page = await retry(fetcher, async () => onionHttpsGet(fetcher, gwAddress, 443, '/', h.cert.certPem, { cookie: await h.ownerCookie() }));
    expect(page.status).toBe(200);
    expect(page.body).toContain('<main id="app">');
    expect(h.dashboard.counts()['/']).toBe(1);
    const forged = await onionHttpsGet(fetcher, gwAddress, 8080, '/v1/getinfo', h.cert.certPem, { authorization: 'Bearer forged.token.value' });
    expect(forged.status).toBe(401);
  });

  it('publishes through a tor it attaches to (control port + cookie) instead of running its own', async () => {
    const attached = new TorAttachment({ control: `127.0.0.1:${fetcher.controlPort}` });
    cleanups.push(() => attached.stop());
    await attached.start();
    const other = new OnionService({ dir: join(data.path, 'tor-attached'), source: attached, ports: [{ virtualPort: 80, target: `127.0.0.1:${portOf(lnd)}` }] });
    cleanups.push(() => other.stop());
    const otherAddress = await other.start();
    await other.waitPublished(PUBLISH_TIMEOUT_MS);
    expect(await onionGetWithRetry(wallet, otherAddress, 80, '/v1/getinfo')).toEqual({ status: 200, body: '{"alias":"lnd-sim","synced_to_chain":true}' });
  });
});
