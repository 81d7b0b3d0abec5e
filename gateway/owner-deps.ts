/**
 * What the owner pages (gateway/ui, a separate part) may ask of the gateway: node status, wallet
 * unlock, token management and the pairing address. The pages receive these functions, never the
 * token key, the macaroons or the LND connection itself.
 */
import type { GatewayConfig, LndNetwork } from './config.ts';
import type { TokenService, Scope, TokenSummary } from './auth/tokens.ts';
import type { LndUpstream, LndWalletState } from './proxy/lnd-upstream.ts';
import type { TlsContextSource } from './listener.ts';

export interface NodeStatus {
  lnd: {
    state: LndWalletState;
    network: LndNetwork;
    alias?: string;
    blockHeight?: number;
    syncedToChain?: boolean;
    version?: string;
  };
  /** Names from the config (registration). */
  names: string[];
  listeners: { host: string; port: number }[];
  /** Whatever the certificate source reports (certs/manager.ts `info()`). */
  certificate: unknown;
  tokens: { active: number; revoked: number; expired: number };
  [extra: string]: unknown;
}

export interface PairingHost {
  host: string;
  port: number;
  /** True when the served certificate chains to a public CA (no cert in the lndconnect URI). */
  publiclyTrusted: boolean;
  /** The served certificate, for lndconnect's `cert=` when it is not publicly trusted. */
  certPem?: string;
  onionHost?: string;
}

export interface OwnerDeps {
  status(): Promise<NodeStatus>;
  /** Sends the password to LND once; never stored or logged. NG_GW_WALLET_UNLOCK on failure. */
  unlockWallet(password: string, signal?: AbortSignal): Promise<void>;
  createToken(input: { scope: Scope; name: string; ttlSeconds?: number }): Promise<{ id: string; token: string; expiresAt: string }>;
  listTokens(): Promise<TokenSummary[]>;
  revokeToken(id: string): Promise<void>;
  pairingHost(): PairingHost;
}

/** Reads `publiclyTrusted`, `certPem` and `onionHost` from a certificate source's info when present. */
function certFacts(info: unknown): { publiclyTrusted: boolean; certPem?: string; onionHost?: string } {
  const o = (info ?? {}) as Record<string, unknown>;
  return {
    publiclyTrusted: o.publiclyTrusted === true,
    ...(typeof o.certPem === 'string' ? { certPem: o.certPem } : {}),
    ...(typeof o.onionHost === 'string' ? { onionHost: o.onionHost } : {}),
  };
}

export function makeOwnerDeps(input: {
  tokens: TokenService;
  lnd: LndUpstream;
  config: GatewayConfig;
  tls: TlsContextSource;
  addresses: () => { host: string; port: number }[];
  extras?: (() => Record<string, unknown>) | undefined;
  now?: () => number;
}): OwnerDeps {
  const now = input.now ?? Date.now;
  return {
    async status() {
      const state = await input.lnd.walletState();
      const info = state === 'unlocked' ? await input.lnd.getInfo() : undefined;
      const list = input.tokens.list();
      const t = now();
      let certificate: unknown;
      try {
        certificate = input.tls.info();
      } catch {
        certificate = undefined; // no certificate yet: the status says so by omission
      }
      return {
        ...(input.extras?.() ?? {}),
        lnd: {
          state,
          network: input.config.lnd.network,
          ...(typeof info?.alias === 'string' ? { alias: info.alias } : {}),
          ...(typeof info?.block_height === 'number' ? { blockHeight: info.block_height } : {}),
          ...(typeof info?.synced_to_chain === 'boolean' ? { syncedToChain: info.synced_to_chain } : {}),
          ...(typeof info?.version === 'string' ? { version: info.version } : {}),
        },
        names: input.config.serverNames,
        listeners: input.addresses(),
        certificate,
        tokens: {
          active: list.filter((x) => !x.revokedAt && Date.parse(x.expiresAt) > t).length,
          revoked: list.filter((x) => x.revokedAt).length,
          expired: list.filter((x) => !x.revokedAt && Date.parse(x.expiresAt) <= t).length,
        },
      };
    },
    unlockWallet: (password, signal) => input.lnd.unlockWallet(password, signal),
    async createToken(req) {
      const created = await input.tokens.create(req);
      return { id: created.id, token: created.token, expiresAt: created.expiresAt };
    },
    listTokens: () => Promise.resolve(input.tokens.list()),
    async revokeToken(id) {
      await input.tokens.revoke(id);
    },
    pairingHost() {
      const first = input.addresses()[0] ?? { host: '127.0.0.1', port: 8443 };
      let facts: ReturnType<typeof certFacts> = { publiclyTrusted: false };
      try {
        facts = certFacts(input.tls.info());
      } catch {
        // no certificate info yet: pair with the served cert unknown (not publicly trusted)
      }
      const host = input.config.serverNames[0] ?? (first.host === '0.0.0.0' || first.host === '::' ? '127.0.0.1' : first.host);
      return { host, port: first.port, ...facts };
    },
  };
}
