/**
 * A running gateway for tests: LND simulator, dashboard app, a test certificate for `gw.test`, the
 * gateway on 127.0.0.1:0, a captured debug log, and TLS clients that trust the test certificate.
 */
import { Writable } from 'node:stream';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { join } from 'node:path';
import { Client } from 'undici';
import { createLogger } from '../../core/log.ts';
import { parseGatewayConfig, type GatewayConfig } from '../../gateway/config.ts';
import { startGateway, type RunningGateway, type OwnerPagesSetup } from '../../gateway/main.ts';
import { OwnerAuth } from '../../gateway/auth/owner.ts';
import { StaticTlsSource } from '../../gateway/static-tls.ts';
import { startLndSim, type LndSim } from '../../sim/lnd.ts';
import { startDashboardApp, type DashboardApp } from '../../sim/dashboard.ts';
import { makeSelfSignedCert, type TestCert } from '../../sim/self-signed-cert.ts';
import { tempDir } from '../../sim/process.ts';

export const GW_NAME = 'gw.test';
export const OWNER_PASSWORD = 'owner-password-123';

export interface Harness {
  dataDir: string;
  lnd: LndSim;
  dashboard: DashboardApp;
  cert: TestCert;
  tls: StaticTlsSource;
  gateway: RunningGateway;
  config: GatewayConfig;
  port: number;
  /** A `Cookie` header value of a fresh owner session. */
  ownerCookie(): Promise<string>;
  /** A fresh owner session: its cookie and the CSRF value its forms carry. */
  ownerSession(): Promise<{ cookie: string; csrf: string }>;
  /** Everything the gateway logged (JSON lines). */
  logs(): string;
  /** An undici client to the gateway, trusting the test cert, SNI gw.test. */
  client(): Client;
  /** A raw TLS socket to the gateway (SNI `servername`, default gw.test). */
  rawTls(servername?: string | false): Promise<TLSSocket>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  unlocked?: boolean;
  limits?: Partial<GatewayConfig['limits']>;
  /** Default: owner pages on, password OWNER_PASSWORD, cheap scrypt. */
  ownerPages?: OwnerPagesSetup;
  /** Extra gateway config (merged over the defaults). */
  config?: Record<string, unknown>;
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const dir = await tempDir('ng-gw-');
  const dataDir = join(dir.path, 'data');
  const lnd = await startLndSim({ dir: join(dir.path, 'lnd'), unlocked: options.unlocked ?? true });
  const dashboard = await startDashboardApp();
  const cert = makeSelfSignedCert([GW_NAME, 'other.test'], ['127.0.0.1']);
  const tls = new StaticTlsSource(cert.certPem, cert.keyPem);
  let logText = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logText += chunk.toString('utf8');
      cb();
    },
  });
  const logger = createLogger({ level: 'debug', destination: sink });
  const config = parseGatewayConfig({
    listeners: [{ listen: '127.0.0.1:0', route: 'auto' }],
    serverNames: [GW_NAME],
    lnd: { restUrl: lnd.url, lndDir: lnd.dir, network: 'mainnet' },
    dashboard: { url: dashboard.url },
    limits: { timeoutCheckIntervalMs: 100, ...options.limits },
    ...options.config,
  });
  const ownerAuth = await OwnerAuth.open({ dataDir, scrypt: { N: 1024, r: 8, p: 1 } });
  await ownerAuth.setPassword(OWNER_PASSWORD);
  const gateway = await startGateway({ dataDir, config, tls, logger, ownerPages: options.ownerPages ?? { auth: ownerAuth }, certPem: () => tls.certPem() });
  const port = gateway.addresses().https[0]!.port;
  const clients: Client[] = [];
  const ownerSession = async () => {
    const auth = gateway.ownerAuth!;
    const session = await auth.login(OWNER_PASSWORD, '127.0.0.1');
    return { cookie: auth.sessionCookie(session).split(';')[0]!, csrf: session.csrfToken };
  };
  return {
    dataDir,
    lnd,
    dashboard,
    cert,
    tls,
    gateway,
    config,
    port,
    logs: () => logText,
    async ownerCookie() {
      return (await ownerSession()).cookie;
    },
    ownerSession,
    client() {
      const c = new Client(`https://127.0.0.1:${port}`, { connect: { ca: cert.certPem, servername: GW_NAME } });
      clients.push(c);
      return c;
    },
    rawTls(servername: string | false = GW_NAME) {
      return new Promise((resolve, reject) => {
        const s = tlsConnect({ host: '127.0.0.1', port, ca: cert.certPem, ...(servername === false ? { checkServerIdentity: () => undefined } : { servername }) }, () => resolve(s));
        s.once('error', reject);
      });
    },
    async close() {
      try {
        await Promise.allSettled(clients.map((c) => c.destroy()));
        await gateway.stop();
      } finally {
        await Promise.allSettled([lnd.stop(), dashboard.stop()]);
        await dir.remove();
      }
    },
  };
}

/** Sends `request` on a fresh raw TLS socket and returns everything received until the server closes or `waitMs` passes. */
export async function rawExchange(h: Harness, request: string | Buffer, waitMs = 1500, servername: string | false = GW_NAME): Promise<string> {
  const s = await h.rawTls(servername);
  return new Promise((resolve) => {
    let out = '';
    const timer = setTimeout(() => {
      s.destroy();
      resolve(out);
    }, waitMs);
    s.on('data', (d: Buffer) => (out += d.toString('latin1')));
    s.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
    s.on('error', () => undefined); // a reset after the reply is fine: `out` holds what arrived
    s.write(request);
  });
}

/** Status code and JSON body of a raw HTTP/1.1 response text. */
export function parseRaw(text: string): { status: number; headers: string; body: string; json: unknown } {
  const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
  const split = text.indexOf('\r\n\r\n');
  const body = split === -1 ? '' : text.slice(split + 4);
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    json = undefined;
  }
  return { status: m ? Number(m[1]) : 0, headers: split === -1 ? text : text.slice(0, split), body, json };
}

/** The JWT as a wallet sends it in Grpc-Metadata-macaroon: hex of its bytes. */
export function asMacaroonHeader(token: string): string {
  return Buffer.from(token, 'latin1').toString('hex');
}
