/**
 * TEMPORARY harness for the owner-pages tests until the gateway branch lands its LND REST simulator
 * (test/support/lnd-sim.ts) and TokenService: a small LND-like HTTPS server (its own self-signed
 * certificate, locked/unlocked wallet, `/v1/state`, `/v1/getinfo` behind a macaroon header,
 * `/v1/unlockwallet` with LND's base64 password and LND's error body) and OwnerDeps that reach it
 * over pinned TLS with undici, as the gateway does.
 */
import { createServer, type Server } from 'node:https';
import { randomBytes, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { Agent, fetch } from 'undici';
import { NodegateError } from '../../../../core/errors.ts';
import type { NodeStatus, OwnerDeps, TokenScope, TokenSummary } from '../../../../gateway/ui/types.ts';

export const CERT_PEM = readFileSync(new URL('../../../fixtures/ui/owner-pages.cert.pem', import.meta.url), 'utf8');
export const KEY_PEM = readFileSync(new URL('../../../fixtures/ui/owner-pages.key.pem', import.meta.url), 'utf8');

export interface LndLike {
  url: string;
  port: number;
  /** How many /v1/unlockwallet requests arrived (side-effect count for tests). */
  unlockCalls(): number;
  lock(): void;
  close(): Promise<void>;
}

export async function startLndLike(opts: { walletPassword: string; alias: string; macaroonHex: string }): Promise<LndLike> {
  let locked = true;
  let unlockCalls = 0;
  const server: Server = createServer({ cert: CERT_PEM, key: KEY_PEM }, (req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'GET' && req.url === '/v1/state') return send(200, { state: locked ? 'LOCKED' : 'SERVER_ACTIVE' });
      if (req.method === 'POST' && req.url === '/v1/unlockwallet') {
        unlockCalls++;
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as { wallet_password?: string };
        if (!locked) return send(500, { code: 12, message: 'wallet already unlocked, WalletUnlocker service is no longer available', details: [] });
        if (Buffer.from(body.wallet_password ?? '', 'base64').toString('utf8') !== opts.walletPassword) {
          return send(500, { code: 2, message: 'invalid passphrase for master public key', details: [] });
        }
        locked = false;
        return send(200, {});
      }
      if (req.method === 'GET' && req.url === '/v1/getinfo') {
        if (req.headers['grpc-metadata-macaroon'] !== opts.macaroonHex) return send(500, { code: 2, message: 'verification failed: signature mismatch after caveat verification', details: [] });
        if (locked) return send(500, { code: 2, message: 'wallet locked, unlock it to enable full RPC access', details: [] });
        return send(200, { alias: opts.alias, block_height: 871234, synced_to_chain: true });
      }
      send(404, { code: 5, message: 'Not Found', details: [] });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `https://127.0.0.1:${port}`,
    port,
    unlockCalls: () => unlockCalls,
    lock: () => {
      locked = true;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** OwnerDeps over pinned TLS to the LND-like server, with an in-memory token list. */
export function lndLikeDeps(lnd: LndLike, macaroonHex: string): OwnerDeps & { close(): Promise<void>; tokens: Map<string, TokenSummary & { token: string }> } {
  const dispatcher = new Agent({ connect: { ca: CERT_PEM, servername: 'localhost' } });
  const tokens = new Map<string, TokenSummary & { token: string }>();
  const call = async (path: string, init: { method?: string; body?: string; signal?: AbortSignal } = {}) => {
    try {
      const res = await fetch(`${lnd.url}${path}`, {
        method: init.method ?? 'GET',
        headers: { 'grpc-metadata-macaroon': macaroonHex, 'content-type': 'application/json' },
        ...(init.body !== undefined ? { body: init.body } : {}),
        ...(init.signal ? { signal: init.signal } : {}),
        dispatcher,
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    } catch (err) {
      throw new NodegateError('NG_GW_UPSTREAM_UNREACHABLE', 'LND is not reachable.', { status: 502, cause: err });
    }
  };
  return {
    tokens,
    async status(): Promise<NodeStatus> {
      const state = await call('/v1/state').catch(() => undefined);
      const base = { names: ['abcd1234.nodegate.test', '*.abcd1234.nodegate.test'], lanName: 'lan.abcd1234.nodegate.test', certificate: { issuer: '(self-signed)', notAfter: '2036-11-22T00:00:00Z', selfSigned: true } };
      if (!state) return { ...base, lnd: { state: 'unreachable' } };
      if (state.body.state === 'LOCKED') return { ...base, lnd: { state: 'locked' } };
      const info = await call('/v1/getinfo');
      return {
        ...base,
        lnd: { state: 'unlocked', alias: String(info.body.alias), blockHeight: Number(info.body.block_height), synced: info.body.synced_to_chain === true },
      };
    },
    async unlockWallet(password, signal) {
      const res = await call('/v1/unlockwallet', { method: 'POST', body: JSON.stringify({ wallet_password: Buffer.from(password).toString('base64') }), ...(signal ? { signal } : {}) });
      if (res.status !== 200) throw new NodegateError('NG_GW_WALLET_UNLOCK', 'LND refused the wallet password.', { status: 400 });
    },
    createToken({ scope, name, ttlSeconds }: { scope: TokenScope; name: string; ttlSeconds?: number }) {
      const id = randomUUID();
      const token = `ngt_${randomBytes(24).toString('base64url')}`;
      const expiresAt = new Date(Date.now() + (ttlSeconds ?? 0) * 1000).toISOString();
      tokens.set(id, { id, name, scope, createdAt: new Date().toISOString(), ...(ttlSeconds ? { expiresAt } : {}), token });
      return Promise.resolve({ id, token, expiresAt: ttlSeconds ? expiresAt : '' });
    },
    listTokens() {
      return Promise.resolve([...tokens.values()].map(({ token: _t, ...summary }) => summary));
    },
    revokeToken(id) {
      const tok = tokens.get(id);
      if (tok) tok.revoked = true;
      return Promise.resolve();
    },
    pairingHost() {
      return { host: '127.0.0.1', port: lnd.port, publiclyTrusted: false, certPem: CERT_PEM };
    },
    close: () => dispatcher.close(),
  };
}
