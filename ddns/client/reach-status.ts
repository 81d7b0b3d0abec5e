/**
 * The one status model of how this node is reached from outside, agreed between the parts that
 * know a piece of it and the three places that show it (the owner page, `nodegate status`,
 * `nodegate doctor`):
 *
 * - `https`: which path HTTPS from outside takes (direct, relay, Tor only) and why; written by the
 *   path chooser (reachability mode auto | direct | relay, relay tunnel client).
 * - `lightning`: LND's peer-to-peer port: mapping, what LND announces, the BOLT 8 dial-back; written
 *   by the Lightning P2P part.
 *
 * Each writer owns one file under DATA/reach/ (so two writers never race on one file) and writes it
 * atomically; {@link readReachStatus} reads both. Every user-facing sentence comes from a stable
 * code through reach-messages.ts (five languages), never from prose stored here, so a status
 * written in one language reads in every other.
 */
import { join } from 'node:path';
import { readFileIfExists, writeJsonAtomic } from '../../core/atomic-file.ts';

/** What the owner chose (`nodegate init --reach`); default auto. */
export type ReachMode = 'auto' | 'direct' | 'relay';
export const REACH_MODES: readonly ReachMode[] = ['auto', 'direct', 'relay'];

/** The path HTTPS from outside takes now. `none`: no way in found (yet). */
export type HttpsPath = 'direct' | 'relay' | 'tor' | 'none';

/** Why the path is what it is; each has words in reach-messages.ts. */
export const PATH_REASONS = [
  /** Not decided yet: the first dial-back has not come back. */
  'CHECKING',
  /** auto: the registry's dial-back reached the node at its public address. */
  'DIRECT_REACHABLE',
  /** The owner chose direct (`--reach direct`). */
  'DIRECT_CHOSEN',
  /** auto: the dial-back failed (carrier-grade NAT, double NAT, VPN, closed port): relayed. */
  'RELAY_NO_INBOUND',
  /** The owner chose relay (`--reach relay`). */
  'RELAY_CHOSEN',
  /** A relay is wanted but no tunnel is up (none offered, refused, or reconnecting). */
  'RELAY_UNAVAILABLE',
  /** Tor-only mode: no clearnet path, by design. */
  'TOR_ONLY',
  /** auto, direct failed and no relay either: only Tor (if on) reaches the node. */
  'NO_PATH',
] as const;
export type PathReason = (typeof PATH_REASONS)[number];

export interface HttpsReach {
  mode: ReachMode;
  path: HttpsPath;
  reason: PathReason;
  /** ISO 8601: since when this path has been in use. */
  since: string;
  /** The relay, while relayed or trying to be. */
  relay?: {
    /** The relay's name (what the device's names resolve to while relayed). */
    host: string;
    state: 'connecting' | 'up' | 'down';
    /** ISO 8601, while up. */
    connectedSince?: string;
    /** A coded error of the last failure (NG_… code), never prose with secrets. */
    lastError?: { code: string; at: string };
  };
  /** The last direct dial-back of the registry (ISO 8601 time, and whether it got in). */
  lastDirectCheck?: { at: string; reachable: boolean };
}

/** What the Lightning P2P part reports. */
export type LightningState =
  /** `--no-lnd-p2p`, or reachability off. */
  | 'off'
  /** Tor-only: nothing mapped, nothing announced on clearnet (by design). */
  | 'tor-only'
  /** LND announces the address that reaches it. */
  | 'announced'
  /** An announcement is being made or retried. */
  | 'pending'
  /** LND is locked or starting: announced right after it unlocks. */
  | 'lnd-locked'
  /** LND has no peersrpc (built without it): `externalhosts=` in lnd.conf instead. */
  | 'unsupported'
  | 'error';

export interface LightningReach {
  state: LightningState;
  /** LND's P2P port on the node. */
  p2pPort: number;
  /** The address and port peers should use (the router's WAN address and external port). */
  external?: { address: string; port: number; method: string | null };
  /** LND's `getinfo.uris` as last read. */
  announced: string[];
  /** The registry's BOLT 8 dial-back: did this node's LND answer at `address`? */
  check?: { at: string; address: string; reachable: boolean; failure?: string };
  /** Tor-only with a clearnet address in LND's `uris`: the home address is public. */
  leak?: string[];
  /** A coded error of the last failure. */
  lastError?: { code: string; at: string };
}

export const HTTPS_STATE_FILE = join('reach', 'https.json');
export const LIGHTNING_STATE_FILE = join('reach', 'lightning.json');

export interface ReachStatus {
  https: HttpsReach | null;
  lightning: LightningReach | null;
}

async function readJson<T>(path: string): Promise<T | null> {
  const raw = await readFileIfExists(path);
  if (raw === undefined) return null;
  try {
    return JSON.parse(raw.toString('utf8')) as T;
  } catch {
    return null; // a damaged status file is a status not known yet; its writer rewrites it
  }
}

/** Reads what the running daemon last wrote (null parts: not known yet). */
export async function readReachStatus(dataDir: string): Promise<ReachStatus> {
  const [https, lightning] = await Promise.all([readJson<HttpsReach>(join(dataDir, HTTPS_STATE_FILE)), readJson<LightningReach>(join(dataDir, LIGHTNING_STATE_FILE))]);
  return { https, lightning };
}

export function writeHttpsReach(dataDir: string, state: HttpsReach): Promise<void> {
  return writeJsonAtomic(join(dataDir, HTTPS_STATE_FILE), state, { mode: 0o600 });
}

export function writeLightningReach(dataDir: string, state: LightningReach): Promise<void> {
  return writeJsonAtomic(join(dataDir, LIGHTNING_STATE_FILE), state, { mode: 0o600 });
}
