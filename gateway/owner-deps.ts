/**
 * The gateway's side of the owner-pages contract (gateway/ui/types.ts): node status, wallet unlock,
 * token management and the pairing address, built from the real subsystems. The pages receive these
 * functions, never the token key, the macaroons or the LND connection itself.
 */
import type { GatewayConfig } from './config.ts';
import type { TokenService } from './auth/tokens.ts';
import type { LndUpstream } from './proxy/lnd-upstream.ts';
import type { TlsContextSource } from './listener.ts';
import type { CertInfo } from '../certs/cert-info.ts';
import type { NodeStatus, OwnerDeps, OwnerNotifications, PairingHost, TokenSummary } from './ui/types.ts';

export type { NodeStatus, OwnerDeps, PairingHost };

export interface OwnerDepsInput {
  tokens: TokenService;
  lnd: LndUpstream;
  config: GatewayConfig;
  tls: TlsContextSource;
  /** Bound HTTPS listeners, first one is where wallets pair. */
  addresses: () => { host: string; port: number }[];
  /** Fields other parts add to the status (onion, reachability, renewal state). */
  extras?: (() => Partial<NodeStatus>) | undefined;
  /** PEM of the served certificate, for lndconnect's `cert=` while it is self-signed. */
  certPem?: (() => string | undefined) | undefined;
  /** The onion host of the LND REST onion service, when Tor is on. */
  onionHost?: (() => string | undefined) | undefined;
  /** Turns the onion service on or off (the owner page's Tor switch); absent: no switch shown. */
  setTorEnabled?: ((on: boolean) => Promise<void>) | undefined;
  /** The notification settings (gateway/notify/owner.ts); absent: no settings page. */
  notifications?: OwnerNotifications | undefined;
}

function certInfo(tls: TlsContextSource): CertInfo | undefined {
  try {
    return tls.info();
  } catch {
    return undefined; // no certificate yet: status says so by omission
  }
}

export function makeOwnerDeps(input: OwnerDepsInput): OwnerDeps {
  return {
    async status(): Promise<NodeStatus> {
      const state = await input.lnd.walletState();
      const info = state === 'unlocked' ? await input.lnd.getInfo() : undefined;
      const cert = certInfo(input.tls);
      const lanName = input.config.serverNames.find((n) => n.startsWith('lan.'));
      return {
        names: input.config.serverNames.filter((n) => !n.startsWith('lan.')),
        ...(lanName ? { lanName } : {}),
        ...(cert ? { certificate: { issuer: cert.issuer, notAfter: cert.notAfter.toISOString(), selfSigned: cert.selfSigned } } : {}),
        lnd: {
          state,
          ...(typeof info?.alias === 'string' ? { alias: info.alias } : {}),
          ...(typeof info?.block_height === 'number' ? { blockHeight: info.block_height } : {}),
          ...(typeof info?.synced_to_chain === 'boolean' ? { synced: info.synced_to_chain } : {}),
        },
        dashboardNeedsJs: input.config.dashboard !== undefined,
        ...(input.extras?.() ?? {}),
      };
    },
    unlockWallet: (password, signal) => input.lnd.unlockWallet(password, signal),
    async createToken(req) {
      const created = await input.tokens.create(req);
      return { id: created.id, token: created.token, expiresAt: created.expiresAt };
    },
    listTokens(): Promise<TokenSummary[]> {
      return Promise.resolve(
        input.tokens.list().map((t) => ({ id: t.id, name: t.name, scope: t.scope, createdAt: t.createdAt, expiresAt: t.expiresAt, revoked: t.revokedAt !== undefined })),
      );
    },
    async revokeToken(id) {
      await input.tokens.revoke(id);
    },
    ...(input.setTorEnabled ? { setTorEnabled: input.setTorEnabled } : {}),
    ...(input.notifications ? { notifications: input.notifications } : {}),
    pairingHost(): PairingHost {
      const first = input.addresses()[0] ?? { host: '127.0.0.1', port: 8443 };
      const cert = certInfo(input.tls);
      const host = input.config.serverNames.find((n) => !n.startsWith('lan.')) ?? (first.host === '0.0.0.0' || first.host === '::' ? '127.0.0.1' : first.host);
      const certPem = input.certPem?.();
      const onionHost = input.onionHost?.();
      return {
        host,
        port: first.port,
        publiclyTrusted: cert !== undefined && !cert.selfSigned,
        ...(certPem ? { certPem } : {}),
        ...(onionHost ? { onionHost } : {}),
      };
    },
  };
}
