/**
 * Reachability diagnosis: gathers facts (router WAN address from UPnP/NAT-PMP/PCP, the address the
 * registry sees, a probe from the registry back to the node, a hairpin try, DNS answers) and turns
 * them into verdicts with stable codes (messages.ts words them in the user's language).
 *
 * `diagnose()` is pure (facts in, verdicts out); `gatherFacts()` does the I/O, each step bounded
 * and failing into a fact, never into an exception; `reachabilityStatus()` reads what the running
 * service last wrote to DATA/reach/state.json, for the gateway's status page.
 */
import { connect } from 'node:net';
import { Resolver } from 'node:dns/promises';
import { join } from 'node:path';
import { readFileIfExists, writeJsonAtomic } from '../../core/atomic-file.ts';
import { isNodegateError } from '../../core/errors.ts';
import { queryDns } from '../dns-client.ts';
import { isCgnatIpv4, isPrivateIpv4, localAddresses } from './public-ip.ts';
import type { MappingState } from './mapping.ts';
import type { RegistryPort } from './registry-port.ts';
import { renderVerdict, VERDICT_CODES, type Language, type VerdictCode } from './messages.ts';

export const STATE_FILE = join('reach', 'state.json');
/** A router-vs-internet mismatch that lasts this long reads as carrier-grade NAT, ms. */
export const MISMATCH_PERSIST_MS = 10 * 60_000;
/** Bound on the hairpin and listening tries, ms (LAN: one hop). */
export const LOCAL_CONNECT_TIMEOUT_MS = 1_500;
/** Bound on the DNS lookups of the doctor, ms. */
export const DOCTOR_DNS_TIMEOUT_MS = 2_000;

export type Severity = 'ok' | 'info' | 'warning' | 'problem';

export const SEVERITY: Record<VerdictCode, Severity> = {
  REACHABLE: 'ok',
  REGISTRY_UNREACHABLE: 'problem',
  NOT_LISTENING: 'problem',
  CGNAT: 'problem',
  DOUBLE_NAT: 'problem',
  PORT_CLOSED: 'problem',
  UPNP_OFF: 'warning',
  UPNP_REFUSED: 'warning',
  DNS_STALE: 'problem',
  DNS_REBIND_PROTECTION: 'warning',
  NO_HAIRPIN: 'info',
  IPV6_AVAILABLE: 'info',
};

export interface ReachabilityFacts {
  name: string | null;
  lanName: string | null;
  port: number;
  lan: string | null;
  ipv6Global: string[];
  mapping: Pick<MappingState, 'status' | 'method' | 'reason' | 'answers'> & { externalPort: number | null };
  /** The router's WAN address: undefined = no protocol answered, '' = the router reports none. */
  routerWan: string | undefined;
  /** The address the registry (or its STUN echo) sees; null when it could not be asked. */
  internetView: string | null;
  registryError: string | null;
  /** Registry's probe back to the node: null when not run. */
  probe: { reachable: boolean; failure: string | null } | null;
  /** Something on this node answers on `port` (LAN address). */
  listening: boolean | null;
  /** Connecting to the public address from the LAN reaches us. */
  hairpin: boolean | null;
  /** A records the registry's DNS serves for `name`. */
  dnsAnswer: string[] | null;
  /** The registry's DNS has the LAN record, but the home resolver returned nothing for it. */
  lanHiddenByResolver: boolean | null;
  /** When the router/internet mismatch was first seen (ms), from the saved state. */
  mismatchSince: number | null;
  /** When these facts were taken (ms). */
  at: number;
}

export interface Verdict {
  code: VerdictCode;
  severity: Severity;
  title: string;
  advice: string;
}

export interface Diagnosis {
  /** The most important verdict's code (the first of `verdicts`). */
  verdict: VerdictCode;
  verdicts: Verdict[];
  facts: ReachabilityFacts;
}

/** Verdict codes for `facts`, most important first. Pure. */
export function verdictCodes(f: ReachabilityFacts): VerdictCode[] {
  const codes = new Set<VerdictCode>();
  if (f.registryError) codes.add('REGISTRY_UNREACHABLE');
  if (f.listening === false) codes.add('NOT_LISTENING');
  const wan = f.routerWan;
  const internetIsCgn = f.internetView !== null && isCgnatIpv4(f.internetView);
  if (wan !== undefined && wan !== '' && isCgnatIpv4(wan)) codes.add('CGNAT');
  else if (internetIsCgn) codes.add('CGNAT');
  else if (wan !== undefined && (wan === '' || isPrivateIpv4(wan) || f.mapping.reason === 'not-public')) codes.add('DOUBLE_NAT');
  else if (wan && f.internetView && wan !== f.internetView) {
    const persisted = f.mismatchSince !== null && f.at - f.mismatchSince >= MISMATCH_PERSIST_MS;
    codes.add(persisted ? 'CGNAT' : 'DOUBLE_NAT');
  }
  if (f.mapping.status === 'unavailable') codes.add('UPNP_OFF');
  else if (f.mapping.status === 'refused' && f.mapping.reason !== 'not-public' && !codes.has('DOUBLE_NAT') && !codes.has('CGNAT')) codes.add('UPNP_REFUSED');
  if (f.probe) codes.add(f.probe.reachable ? 'REACHABLE' : 'PORT_CLOSED');
  if (f.internetView && f.dnsAnswer && !f.dnsAnswer.includes(f.internetView)) codes.add('DNS_STALE');
  if (f.lanHiddenByResolver) codes.add('DNS_REBIND_PROTECTION');
  if (f.probe?.reachable && f.hairpin === false) codes.add('NO_HAIRPIN');
  if (f.ipv6Global.length > 0) codes.add('IPV6_AVAILABLE');
  const order = VERDICT_CODES;
  const list = [...codes].sort((a, b) => rank(a) - rank(b) || order.indexOf(a) - order.indexOf(b));
  return list;
}

function rank(code: VerdictCode): number {
  return { problem: 0, warning: 1, ok: 2, info: 3 }[SEVERITY[code]];
}

export function diagnose(facts: ReachabilityFacts, lang: Language = 'en'): Diagnosis {
  const vars = {
    name: facts.name ?? '?',
    lan: facts.lanName ?? '?',
    port: facts.mapping.externalPort ?? facts.port,
    public: facts.internetView ?? '?',
    router: facts.routerWan || '?',
  };
  const verdicts = verdictCodes(facts).map((code) => ({ code, severity: SEVERITY[code], ...renderVerdict(code, lang, vars) }));
  return { verdict: verdicts[0]?.code ?? 'REACHABLE', verdicts, facts };
}

export interface GatherOptions {
  registry: RegistryPort | null;
  name: string | null;
  lanName: string | null;
  port: number;
  externalPort: number;
  /** The mapping state (from the running service, or a fresh attempt by the doctor). */
  mapping: MappingState;
  gateway: string | null;
  /** The registry's authoritative DNS server, for the stale-answer check. */
  registryDns?: { host: string; port: number } | null;
  /** The home resolver(s) (default: the system's), for the DNS-rebind check. */
  homeResolvers?: string[];
  /** Skip the registry's probe (the status page must stay cheap). */
  probe?: boolean;
  previous?: ReachabilityFacts | null;
  now?: () => number;
  signal?: AbortSignal;
}

function tryConnect(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function aRecords(answers: Awaited<ReturnType<typeof queryDns>>['answers']): string[] {
  const out: string[] = [];
  for (const r of answers) if (r.type === 'A' && typeof r.data === 'string') out.push(r.data);
  return out;
}

export async function gatherFacts(o: GatherOptions): Promise<ReachabilityFacts> {
  const now = o.now ?? Date.now;
  const local = localAddresses(o.gateway);
  const io = o.signal ? { signal: o.signal } : {};
  let internetView: string | null = null;
  let registryError: string | null = null;
  if (o.registry) {
    try {
      const who = await o.registry.whoami(io);
      internetView = who.family === 4 ? who.address : null;
    } catch (err) {
      registryError = isNodegateError(err) ? err.code : 'NG_INTERNAL';
    }
  }
  const listening = local.lan ? await tryConnect(local.lan, o.port, LOCAL_CONNECT_TIMEOUT_MS) : null;
  let probe: ReachabilityFacts['probe'] = null;
  if (o.registry && o.probe !== false && !registryError) {
    try {
      const r = await o.registry.probe({ port: o.mapping.mapping?.externalPort ?? o.externalPort, tls: false }, io);
      probe = { reachable: r.reachable, failure: r.failure ?? null };
    } catch (err) {
      probe = { reachable: false, failure: isNodegateError(err) ? err.code : 'error' };
    }
  }
  const hairpin = internetView && probe?.reachable ? await tryConnect(internetView, o.mapping.mapping?.externalPort ?? o.externalPort, LOCAL_CONNECT_TIMEOUT_MS) : null;
  let dnsAnswer: string[] | null = null;
  let lanRecord: string[] | null = null;
  if (o.registryDns && o.name) {
    try {
      const a = await queryDns(o.registryDns, o.name, 'A', { timeoutMs: DOCTOR_DNS_TIMEOUT_MS, ...io });
      dnsAnswer = aRecords(a.answers);
      if (o.lanName) {
        const l = await queryDns(o.registryDns, o.lanName, 'A', { timeoutMs: DOCTOR_DNS_TIMEOUT_MS, ...io });
        lanRecord = aRecords(l.answers);
      }
    } catch {
      dnsAnswer = null;
    }
  }
  let lanHiddenByResolver: boolean | null = null;
  if (o.lanName && lanRecord && lanRecord.length > 0) {
    const resolver = new Resolver({ timeout: DOCTOR_DNS_TIMEOUT_MS, tries: 1 });
    if (o.homeResolvers) resolver.setServers(o.homeResolvers);
    try {
      const seen = await resolver.resolve4(o.lanName);
      lanHiddenByResolver = seen.length === 0;
    } catch (err) {
      const code = (err as { code?: string }).code;
      // NXDOMAIN/NODATA from the home resolver for a name the registry serves: filtered
      lanHiddenByResolver = code === 'ENOTFOUND' || code === 'ENODATA' ? true : null;
    }
  }
  const at = now();
  const wan = o.mapping.routerWan === null ? undefined : o.mapping.routerWan;
  const mismatch = wan && internetView && wan !== internetView && !isPrivateIpv4(wan);
  const mismatchSince = mismatch ? (o.previous?.mismatchSince ?? at) : null;
  return {
    name: o.name,
    lanName: o.lanName,
    port: o.port,
    lan: local.lan,
    ipv6Global: local.ipv6Global,
    mapping: { status: o.mapping.status, method: o.mapping.method, reason: o.mapping.reason, answers: o.mapping.answers, externalPort: o.mapping.mapping?.externalPort ?? null },
    routerWan: o.mapping.status === 'unavailable' || o.mapping.status === 'off' ? undefined : (o.mapping.routerWan ?? undefined),
    internetView,
    registryError,
    probe,
    listening,
    hairpin,
    dnsAnswer,
    lanHiddenByResolver,
    mismatchSince,
    at,
  };
}

/** What DATA/reach/state.json holds. */
export interface ReachabilityState {
  version: 1;
  updatedAt: string;
  addresses: { ipv4: string | null; ipv6: string | null; lan: string | null };
  published: { ipv4: string | null; ipv6: string | null; lan: string | null } | null;
  mapping: MappingState;
  lastFacts: ReachabilityFacts | null;
  lastVerdict: VerdictCode | null;
  registryError: string | null;
  /** The router's UPnP description URL, so a restart skips SSDP (about 1-2 s). */
  upnpLocation?: string;
}

export async function writeState(dataDir: string, state: ReachabilityState): Promise<void> {
  await writeJsonAtomic(join(dataDir, STATE_FILE), state, { mode: 0o600 });
}

export async function readState(dataDir: string): Promise<ReachabilityState | null> {
  const raw = await readFileIfExists(join(dataDir, STATE_FILE));
  if (!raw) return null;
  try {
    const v = JSON.parse(raw.toString('utf8')) as ReachabilityState;
    return v && v.version === 1 ? v : null;
  } catch {
    return null; // a torn or foreign file: treat as no state (it is rewritten on the next change)
  }
}

/** For the gateway's status page: the last saved state as verdicts in `lang` (cheap: no I/O but one file read). */
export async function reachabilityStatus(dataDir: string, lang: Language = 'en'): Promise<{ state: ReachabilityState | null; diagnosis: Diagnosis | null }> {
  const state = await readState(dataDir);
  if (!state?.lastFacts) return { state, diagnosis: null };
  return { state, diagnosis: diagnose(state.lastFacts, lang) };
}
