/**
 * The contract between the owner pages (gateway/ui) and the gateway that hosts them. The gateway
 * builds an {@link OwnerDeps} from its real subsystems (LND client, token service, cert store, tor)
 * and registers `ownerPages` with it; the pages never reach LND, tokens or tor any other way.
 */
import type { ReachStatus } from '../../ddns/client/reach-status.ts';

/** Scopes of API tokens, from least to most powerful. */
export type TokenScope = 'readonly' | 'invoice' | 'admin';

/** What the owner pages list about a token; never the token itself. */
export interface TokenSummary {
  id: string;
  name: string;
  scope: TokenScope;
  /** ISO 8601. */
  createdAt: string;
  /** ISO 8601; absent when the token does not expire. */
  expiresAt?: string;
  /** ISO 8601; present once revoked (the gateway keeps revoked tokens in its list). */
  revokedAt?: string;
}

/** The node's state as the home page shows it. The gateway fills it; later parts add fields. */
export interface NodeStatus {
  /** Public names the node answers on, e.g. `abcd1234.nodegate.example`. */
  names: string[];
  /** The LAN name covered by the same certificate, e.g. `lan.abcd1234.nodegate.example`. */
  lanName?: string;
  certificate?: {
    issuer: string;
    /** ISO 8601. */
    notAfter: string;
    selfSigned: boolean;
    /** ISO 8601. */
    nextRenewal?: string;
    /** The last renewal failure, shown as is (escaped); certs/ reports it as `{ code, message, at }`. */
    lastError?: string | { code: string; message: string; at?: string };
  };
  lnd: {
    /** `no-wallet`: LND runs but no wallet was created yet (`lncli create`). */
    state: 'locked' | 'unlocked' | 'unreachable' | 'starting' | 'no-wallet';
    alias?: string;
    blockHeight?: number;
    synced?: boolean;
  };
  onion?: { address: string; clientAuth: boolean };
  tor?: { enabled: boolean; /** 0..100 */ bootstrap?: number };
  reachability?: { verdict: string; details: string[] };
  /**
   * How the node is reached from outside (ddns/client/reach-status.ts: the one model that the
   * owner page, `nodegate status` and `nodegate doctor` share): the HTTPS path and Lightning P2P.
   */
  reach?: ReachStatus;
  /** True when the proxied dashboard does not work without JavaScript. */
  dashboardNeedsJs?: boolean;
}

/** Where wallets reach the LND REST listener, for pairing. */
export interface PairingHost {
  host: string;
  port: number;
  /** True when the served certificate chains to a public root: the URI then carries no cert. */
  publiclyTrusted: boolean;
  /** PEM of the served certificate; needed when it is not publicly trusted. */
  certPem?: string;
  /** `xyz.onion` of the LND REST onion service, when Tor is on. */
  onionHost?: string;
}

/**
 * Everything the owner pages may do. Errors are {@link NodegateError}s; the pages map their codes
 * to plain words and never show the message of an error raised while handling a password.
 */
export interface OwnerDeps {
  status(): Promise<NodeStatus>;
  /**
   * Sends the wallet password once to LND's `/v1/unlockwallet`. Must not store or log it.
   * Throws NG_GW_WALLET_UNLOCK with status 400 when LND refuses (`details.reason`: 'wrong-password' |
   * 'already-unlocked' | 'refused') and with status 502 when LND did not answer; or
   * NG_GW_UPSTREAM_UNREACHABLE / NG_GW_UPSTREAM_TIMEOUT / NG_GW_UPSTREAM_TLS.
   */
  unlockWallet(password: string, signal?: AbortSignal): Promise<void>;
  createToken(input: { scope: TokenScope; name: string; ttlSeconds?: number }): Promise<{ id: string; token: string; expiresAt: string }>;
  listTokens(): Promise<TokenSummary[]>;
  revokeToken(id: string): Promise<void>;
  pairingHost(): PairingHost;
  /** Present only when Tor is configured: turns the onion services on or off. */
  setTorEnabled?(on: boolean): Promise<void>;
  /** The notification settings page (gateway/notify); absent: no such page. */
  notifications?: OwnerNotifications;
}

export type WebhookFormat = 'ntfy' | 'gotify' | 'json';
export type NotifyChannelName = 'webhook' | 'email';
export const NOTIFY_EVENT_KINDS = ['lnd-locked', 'cert-failing', 'unreachable', 'wallet-paired', 'login-new-address'] as const;
export type NotifyEventKind = (typeof NOTIFY_EVENT_KINDS)[number];

/** What the settings page shows: never a secret (the webhook URL is shown redacted, the SMTP password not at all). */
export interface NotificationSettingsView {
  language: string;
  webhook?: { format: WebhookFormat; redactedUrl: string };
  email?: { host: string; port: number; security: 'starttls' | 'tls'; user?: string; hasPassword: boolean; from: string; to: string[] };
  muted: NotifyEventKind[];
  pending: number;
  /** ISO 8601. */
  lastSentAt?: string;
}

/** The settings form as posted (strings as typed; the gateway validates). */
export interface NotificationSettingsInput {
  language: string;
  webhook: { remove: boolean; url: string; format: string };
  email: { remove: boolean; host: string; port: string; security: string; user: string; password: string; from: string; to: string };
  /** Event kinds left on. */
  enabled: string[];
}

export interface OwnerNotifications {
  view(): NotificationSettingsView;
  /**
   * Validates and saves (the owner password was checked by the page). NG_CONFIG_INVALID (400) with
   * `details.field`: 'webhook' | 'email' | 'torOnly' when the input cannot be used; nothing changes then.
   */
  save(input: NotificationSettingsInput): Promise<void>;
  /** One test through every channel. NG_NOTIFY_NO_CHANNEL, NG_NOTIFY_RATE_LIMITED (`details.retryAfterSeconds` | `details.cap`). */
  sendTest(): Promise<{ channel: NotifyChannelName; ok: boolean; reason?: string }[]>;
  /** A successful owner login from `address` (for the new-address notice). */
  ownerLoggedIn(address: string): void;
}
