/**
 * An LND REST simulator for tests and the demo. Real TLS with its own self-signed cert written as
 * `<dir>/tls.cert`; real macaroons (the `macaroon` library) minted from a root key and written
 * where LND writes them (`<dir>/data/chain/bitcoin/<network>/{admin,readonly,invoice}.macaroon`);
 * each request's macaroon is verified against the root key and its identifier's permission list
 * (`entity:action`, as LND's own macaroons carry them). A wallet starts locked until
 * `/v1/unlockwallet` gets the right password.
 *
 * Endpoints (subset of https://lightning.engineering/api-docs/api/lnd/): GET /v1/state,
 * POST /v1/unlockwallet, GET /v1/getinfo, GET /v1/balance/blockchain, GET|POST /v1/invoices,
 * GET /v1/invoices/subscribe (newline-delimited JSON stream, or WebSocket with ?method=GET),
 * POST /v1/channels/transactions (admin only).
 */
import { createServer as createHttpsServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes, createHash } from 'node:crypto';
import { WebSocketServer, type WebSocket } from 'ws';
import { newMacaroon, importMacaroon } from 'macaroon';
import { makeSelfSignedCert } from './self-signed-cert.ts';

export type SimScope = 'admin' | 'readonly' | 'invoice';

/** Permissions per baked macaroon, as LND bakes them (abridged). */
const SCOPE_PERMISSIONS: Record<SimScope, string[]> = {
  admin: ['info:read', 'info:write', 'onchain:read', 'onchain:write', 'offchain:read', 'offchain:write', 'invoices:read', 'invoices:write', 'address:read', 'address:write', 'peers:read', 'peers:write', 'message:read', 'message:write', 'signer:generate', 'macaroon:generate'],
  readonly: ['info:read', 'onchain:read', 'offchain:read', 'invoices:read', 'address:read', 'peers:read', 'message:read'],
  invoice: ['invoices:read', 'invoices:write', 'address:read', 'address:write', 'onchain:read'],
};

/** Permission each endpoint needs: `METHOD path`. */
const ENDPOINT_PERMISSION: Record<string, string> = {
  'GET /v1/getinfo': 'info:read',
  'GET /v1/balance/blockchain': 'onchain:read',
  'GET /v1/balance/channels': 'offchain:read',
  'GET /v1/invoices': 'invoices:read',
  'POST /v1/invoices': 'invoices:write',
  'GET /v1/invoices/subscribe': 'invoices:read',
  'POST /v1/channels/transactions': 'offchain:write',
};

export interface LndSimOptions {
  /** Port on 127.0.0.1; default 0. */
  port?: number;
  /** LND's directory to create: tls.cert, tls.key, data/chain/bitcoin/<network>/*.macaroon. */
  dir: string;
  network?: 'mainnet' | 'testnet' | 'regtest' | 'signet';
  /** Wallet password; default "correct horse battery staple". */
  walletPassword?: string;
  /** Start unlocked; default false (locked, like LND after a restart). */
  unlocked?: boolean;
  alias?: string;
}

export interface LndSim {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  readonly certPem: string;
  /** Hex of each macaroon file, to compare against what reached the sim. */
  readonly macaroonHex: Record<SimScope, string>;
  /** Requests seen, by `METHOD path` (no query). */
  counts(): Record<string, number>;
  /** Total requests seen. */
  total(): number;
  /** Resolves once {@link total} reaches `n` (a request has arrived), rejects after `timeoutMs`. */
  waitForTotal(n: number, timeoutMs?: number): Promise<void>;
  /** Every Grpc-Metadata-macaroon header value received, in order. */
  macaroonHeaders(): string[];
  /** Every header set received, in order (lower-case names). */
  requestHeaders(): Record<string, string | string[] | undefined>[];
  isLocked(): boolean;
  /** Delay before answering /v1/getinfo, to test upstream timeouts. */
  setGetinfoDelayMs(ms: number): void;
  /** While on, /v1/state answers NON_EXISTING: LND runs but no wallet was created yet. */
  setNoWallet(on: boolean): void;
  /** How many times the wallet password was received (right or wrong). */
  unlockAttempts(): number;
  stop(): Promise<void>;
}

const LOG_LIMIT = 10_000;
const DEFAULT_PASSWORD = 'correct horse battery staple';
/** A fixed ~900-byte getinfo reply: the benchmark's payload. */
export function getinfoBody(alias: string): string {
  return JSON.stringify({
    version: '0.18.3-beta commit=v0.18.3-beta',
    commit_hash: 'c2c2ef9ab9bb0ac3cbcfe8f30c7f1e3a8c3ac2f1',
    identity_pubkey: '02' + 'a1'.repeat(32),
    alias,
    color: '#3399ff',
    num_pending_channels: 0,
    num_active_channels: 3,
    num_inactive_channels: 0,
    num_peers: 5,
    block_height: 871234,
    block_hash: '00000000000000000001c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3',
    best_header_timestamp: '1732400000',
    synced_to_chain: true,
    synced_to_graph: true,
    testnet: false,
    chains: [{ chain: 'bitcoin', network: 'mainnet' }],
    uris: ['02' + 'a1'.repeat(32) + '@203.0.113.7:9735'],
    features: {
      '0': { name: 'data-loss-protect', is_required: true, is_known: true },
      '5': { name: 'upfront-shutdown-script', is_required: false, is_known: true },
      '7': { name: 'gossip-queries', is_required: false, is_known: true },
      '9': { name: 'tlv-onion', is_required: false, is_known: true },
      '12': { name: 'static-remote-key', is_required: true, is_known: true },
      '14': { name: 'payment-addr', is_required: true, is_known: true },
    },
    require_htlc_interceptor: false,
    store_final_htlc_resolutions: false,
  });
}

export async function startLndSim(options: LndSimOptions): Promise<LndSim> {
  const network = options.network ?? 'mainnet';
  const password = options.walletPassword ?? DEFAULT_PASSWORD;
  let locked = !(options.unlocked ?? false);
  let getinfoDelayMs = 0;
  let noWallet = false;
  let unlockAttempts = 0;
  const alias = options.alias ?? 'nodegate-sim';
  const counts: Record<string, number> = {};
  let total = 0;
  const macaroonHeaders: string[] = [];
  const headerLog: Record<string, string | string[] | undefined>[] = [];
  const invoices: { memo: string; value: string; r_hash: string; payment_request: string; add_index: string }[] = [];
  const subscribers = new Set<(event: string) => void>();

  const cert = makeSelfSignedCert(['localhost'], ['127.0.0.1', '::1']);
  await mkdir(options.dir, { recursive: true });
  await writeFile(join(options.dir, 'tls.cert'), cert.certPem);
  await writeFile(join(options.dir, 'tls.key'), cert.keyPem, { mode: 0o600 });
  const macDir = join(options.dir, 'data', 'chain', 'bitcoin', network);
  await mkdir(macDir, { recursive: true });
  const rootKey = randomBytes(32);
  const macaroonHex = {} as Record<SimScope, string>;
  for (const scope of ['admin', 'readonly', 'invoice'] as const) {
    const identifier = JSON.stringify({ v: 0, nonce: randomBytes(8).toString('hex'), ops: SCOPE_PERMISSIONS[scope] });
    const m = newMacaroon({ identifier, location: 'lnd', rootKey, version: 2 });
    const bytes = Buffer.from(m.exportBinary());
    macaroonHex[scope] = bytes.toString('hex');
    await writeFile(join(macDir, `${scope}.macaroon`), bytes, { mode: 0o600 });
  }

  /** The permission list of a valid macaroon, or an error string. */
  function checkMacaroon(header: string | string[] | undefined): string[] | string {
    if (typeof header !== 'string' || !/^[0-9a-f]+$/i.test(header)) return 'expected 1 macaroon, got 0';
    try {
      const m = importMacaroon(Buffer.from(header, 'hex'));
      m.verify(rootKey, () => 'unknown caveat');
      const id = JSON.parse(Buffer.from(m.identifier).toString('utf8')) as { ops?: unknown };
      return Array.isArray(id.ops) ? (id.ops as string[]) : 'invalid macaroon identifier';
    } catch {
      return 'verification failed: signature mismatch after caveat verification';
    }
  }

  /** Keeps the first LOG_LIMIT requests' headers (a bench sends hundreds of thousands). */
  function record(req: IncomingMessage): void {
    if (headerLog.length >= LOG_LIMIT) return;
    headerLog.push({ ...req.headers });
    const mh = req.headers['grpc-metadata-macaroon'];
    if (typeof mh === 'string') macaroonHeaders.push(mh);
  }

  function reply(res: ServerResponse, status: number, body: unknown): void {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  function readBody(req: IncomingMessage): Promise<string> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > 1024 * 1024) req.destroy();
        else chunks.push(c);
      });
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      req.on('error', reject);
    });
  }

  function authorize(req: IncomingMessage, key: string): string | undefined {
    const perms = checkMacaroon(req.headers['grpc-metadata-macaroon']);
    if (typeof perms === 'string') return perms;
    const needed = ENDPOINT_PERMISSION[key];
    if (needed === undefined || !perms.includes(needed)) return 'permission denied';
    return undefined;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://lnd');
    const key = `${req.method} ${url.pathname}`;
    counts[key] = (counts[key] ?? 0) + 1;
    total++;
    record(req);

    if (key === 'GET /v1/state') return reply(res, 200, { state: noWallet ? 'NON_EXISTING' : locked ? 'LOCKED' : 'SERVER_ACTIVE' });
    if (key === 'POST /v1/unlockwallet') {
      const body = await readBody(req);
      unlockAttempts++;
      if (!locked) return reply(res, 500, { code: 2, message: 'wallet already unlocked, WalletUnlocker service is no longer available', details: [] });
      let given = '';
      try {
        const wp = (JSON.parse(body) as { wallet_password?: unknown }).wallet_password;
        given = Buffer.from(typeof wp === 'string' ? wp : '', 'base64').toString('utf8');
      } catch {
        return reply(res, 400, { code: 3, message: 'invalid request body', details: [] });
      }
      if (given !== password) return reply(res, 500, { code: 2, message: 'invalid passphrase for master public key', details: [] });
      locked = false;
      return reply(res, 200, {});
    }
    if (locked) return reply(res, 503, { code: 14, message: 'wallet locked, unlock it to enable full RPC access', details: [] });
    const denied = authorize(req, key);
    if (denied) {
      await readBody(req);
      return reply(res, denied === 'permission denied' ? 403 : 401, { code: 2, message: denied, details: [] });
    }
    switch (key) {
      case 'GET /v1/getinfo': {
        if (getinfoDelayMs > 0) await new Promise((r) => setTimeout(r, getinfoDelayMs));
        return reply(res, 200, getinfoBody(alias));
      }
      case 'GET /v1/balance/blockchain':
        return reply(res, 200, { total_balance: '150000', confirmed_balance: '150000', unconfirmed_balance: '0' });
      case 'GET /v1/balance/channels':
        return reply(res, 200, { balance: '500000' });
      case 'GET /v1/invoices':
        return reply(res, 200, { invoices, last_index_offset: String(invoices.length), first_index_offset: '0' });
      case 'POST /v1/invoices': {
        const body = JSON.parse((await readBody(req)) || '{}') as { memo?: string; value?: string | number };
        const rHash = createHash('sha256').update(randomBytes(32)).digest('base64');
        const invoice = { memo: String(body.memo ?? ''), value: String(body.value ?? '0'), r_hash: rHash, payment_request: 'lnbc1sim' + randomBytes(20).toString('hex'), add_index: String(invoices.length + 1) };
        invoices.push(invoice);
        for (const s of subscribers) s(JSON.stringify({ result: { ...invoice, state: 'OPEN' } }));
        return reply(res, 200, { r_hash: rHash, payment_request: invoice.payment_request, add_index: invoice.add_index });
      }
      case 'GET /v1/invoices/subscribe': {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.flushHeaders();
        const send = (event: string) => res.write(event + '\n');
        subscribers.add(send);
        res.on('close', () => subscribers.delete(send));
        return;
      }
      case 'POST /v1/channels/transactions':
        await readBody(req);
        return reply(res, 200, { payment_error: '', payment_preimage: randomBytes(32).toString('base64') });
      default:
        return reply(res, 404, { code: 5, message: 'Not Found', details: [] });
    }
  }

  const server: Server = createHttpsServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) reply(res, 500, { code: 13, message: 'internal', details: [] });
      else res.destroy();
    });
  });
  const wss = new WebSocketServer({ noServer: true });
  const sockets = new Set<WebSocket>();
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'https://lnd');
    const key = `GET ${url.pathname}`;
    counts[`WS ${url.pathname}`] = (counts[`WS ${url.pathname}`] ?? 0) + 1;
    total++;
    record(req);
    const denied = locked ? 'wallet locked' : authorize(req, key);
    if (denied || url.searchParams.get('method') !== 'GET' || url.pathname !== '/v1/invoices/subscribe') {
      socket.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.add(ws);
      const send = (event: string) => ws.send(event);
      subscribers.add(send);
      ws.on('close', () => {
        subscribers.delete(send);
        sockets.delete(ws);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    url: `https://127.0.0.1:${port}`,
    port,
    dir: options.dir,
    certPem: cert.certPem,
    macaroonHex,
    counts: () => ({ ...counts }),
    total: () => total,
    waitForTotal: async (n, timeoutMs = 10_000) => {
      const until = Date.now() + timeoutMs;
      while (total < n) {
        if (Date.now() > until) throw new Error(`the LND simulator saw ${total} requests, not ${n}, within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    macaroonHeaders: () => [...macaroonHeaders],
    requestHeaders: () => [...headerLog],
    isLocked: () => locked,
    setGetinfoDelayMs: (ms) => {
      getinfoDelayMs = ms;
    },
    setNoWallet: (on) => {
      noWallet = on;
    },
    unlockAttempts: () => unlockAttempts,
    async stop() {
      for (const ws of sockets) ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
