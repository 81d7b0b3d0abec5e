/**
 * The node in Tor-only mode, for test/integration/tor/tor-only.test.ts, which runs this file inside a
 * network namespace: a private Tor network, the gateway (loopback listeners only), the TorService
 * with `torOnly: true`, a wallet-side tor that fetches LND getinfo over the onion, and an outbound
 * request made the Tor-only way (the SOCKS dispatcher). Prints one JSON line with the results.
 */
import { connect as tlsConnect } from 'node:tls';
import { request } from 'undici';
import { startTorNetwork } from '../../sim/tor-network.ts';
import { startHarness } from './gateway-harness.ts';
import { socksConnect } from '../../tor/socks.ts';
import { TorService } from '../../tor/service.ts';
import { parseConfig } from '../../core/config.ts';
import { TorConfigSchema } from '../../tor/config.ts';
import { tempDir } from '../../sim/process.ts';

const PUBLISH_TIMEOUT_MS = 90_000;
const ATTEMPTS = 4;

async function main(): Promise<Record<string, unknown>> {
  const network = await startTorNetwork();
  const data = await tempDir('ngt-node-');
  const h = await startHarness();
  let tor: TorService | undefined;
  try {
    const config = parseConfig(
      TorConfigSchema,
      { enabled: true, torOnly: true, extraTorrc: network.torrcLines, ports: [{ virtualPort: 8080, target: `127.0.0.1:${h.port}` }] },
      'test',
    );
    tor = new TorService({ dataDir: data.path, config });
    const policy = tor.policy();
    const wallet = await network.startClient('wallet');
    const address = await tor.start();
    const started = Date.now();
    while (!tor.status().onion?.published) {
      if (Date.now() - started > PUBLISH_TIMEOUT_MS) throw new Error(`onion not published:\n${tor.torLog().join('\n')}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const { token } = await h.gateway.tokens.create({ scope: 'readonly', name: 'tor-only' });
    let status = 0;
    for (let i = 0; i < ATTEMPTS && status === 0; i++) {
      try {
        const raw = await socksConnect({ host: '127.0.0.1', port: wallet.socksPort }, address, 8080, { timeoutMs: 30_000 });
        const s = tlsConnect({ socket: raw, servername: address, ca: h.cert.certPem, checkServerIdentity: () => undefined });
        s.write(`GET /v1/getinfo HTTP/1.0\r\nHost: ${address}\r\nAuthorization: Bearer ${token}\r\n\r\n`);
        let text = '';
        s.on('data', (c: Buffer) => (text += c.toString()));
        await new Promise<void>((resolve, reject) => {
          s.once('close', () => resolve());
          s.once('error', reject);
        });
        status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);
      } catch {
        await wallet.control.signal('NEWNYM');
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    // The node's own outbound connection, made the Tor-only way: undici through its tor's SOCKS port.
    const dispatcher = await tor.dispatcher({ tls: { ca: h.cert.certPem, checkServerIdentity: () => undefined } });
    let outbound = 0;
    for (let i = 0; i < ATTEMPTS && outbound === 0; i++) {
      try {
        const res = await request(`https://${address}:8080/v1/getinfo`, { dispatcher, headers: { authorization: `Bearer ${token}` }, headersTimeout: 30_000 });
        outbound = res.statusCode;
        await res.body.dump();
      } catch {
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    await dispatcher.close();
    return { ok: true, address, policy, getinfoStatus: status, outboundStatus: outbound };
  } finally {
    await tor?.stop();
    await h.close();
    await network.stop();
    await data.remove();
  }
}

main().then(
  (r) => {
    process.stdout.write(`RESULT ${JSON.stringify(r)}\n`);
    process.exit(0);
  },
  (err: unknown) => {
    process.stdout.write(`RESULT ${JSON.stringify({ ok: false, error: String((err as Error).stack ?? err) })}\n`);
    process.exit(1);
  },
);
