/**
 * Composition of a registry: store (the truth) -> DNS backend (loaded from the store at start,
 * then following every change) -> HTTP API. `startRegistry` is what `nodegate registry` runs and
 * what tests and the demo call.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../core/log.ts';
import { createLogger } from '../../core/log.ts';
import { NodegateError, messageOf } from '../../core/errors.ts';
import { isBulkLoading, type DeviceRecordSet, type DnsBackend } from './dns-backend.ts';
import { startEmbeddedDns, type EmbeddedDns } from './dns/server.ts';
import { RRL_DEFAULT_EXEMPT } from './dns/rrl.ts';
import { Rfc2136Backend } from './rfc2136.ts';
import type { TsigKey } from '../tsig.ts';
import { SqliteStore, type RegistryStore } from './store.ts';
import { AddressPolicy } from './addresses.ts';
import { EnrollmentTokens, NonceBook, TokenVerifier } from './auth.ts';
import { DEFAULT_RATE_LIMITS, TokenBucketLimiter, type RateLimits } from './rate-limit.ts';
import { Publisher } from './publisher.ts';
import { GroupCommitter, KeyedMutex } from './group-commit.ts';
import { buildApi, recordSetOf, type RegistryContext } from './api.ts';
import { acmeRecordSet } from './acmedns.ts';
import { startStunServer } from './stun.ts';

/** The registry database below --data. */
export const REGISTRY_DB_FILE = 'registry.sqlite';
/** Devices published at once at start-up to a backend without bulk loading (RFC 2136 UPDATEs in flight). */
export const STARTUP_PUBLISH_CONCURRENCY = 16;
/** Default API listener. */
export const DEFAULT_API = { host: '127.0.0.1', port: 8053 };
/** STUN's registered port (RFC 5389 §18.4): where nodes look for the echo by default. */
export const DEFAULT_STUN_PORT = 3478;
/** Default DNS listener (UDP and TCP). */
export const DEFAULT_DNS = { host: '127.0.0.1', port: 5300 }; // not 5353: mDNS daemons hold that one

export interface HostPort {
  host: string;
  port: number;
}

export interface NameserverOption {
  /** NS name, e.g. `ns1.dyn.example.net`. */
  name: string;
  /** Glue address when the name is inside the zone. */
  ipv4?: string;
  ipv6?: string;
}

export interface Rfc2136BackendOption {
  /** The authoritative server taking UPDATEs. */
  server: HostPort;
  /** TSIG key: algorithm as in ddns/tsig.ts (e.g. hmac-sha256), secret base64. */
  tsig: { name: string; algorithm: string; secret: string };
}

export interface StartRegistryOptions {
  /** The zone devices are named under, e.g. `dyn.example.net`. */
  zone: string;
  /** Directory of the registry database (created if missing). */
  dataDir: string;
  /** API listener; port 0 = any free port. Default {@link DEFAULT_API}. */
  api?: HostPort;
  /** Embedded DNS listener (UDP + TCP on the same port); port 0 = any. Default {@link DEFAULT_DNS}. */
  dns?: HostPort;
  /** Apex NS records. Default: `ns.<zone>` with the DNS listener's address as glue. */
  nameservers?: NameserverOption[];
  /** CIDRs accepted for public records despite being special-purpose (labs, tests, demo). */
  allowAddresses?: string[];
  /** Where records are published. Default 'embedded'. A DnsBackend instance is used as given and closed by close(). */
  backend?: 'embedded' | { rfc2136: Rfc2136BackendOption } | DnsBackend;
  /** When non-empty, registration needs one of these tokens. */
  enrollmentTokens?: string[];
  /** PEM file of CAs the probe trusts besides Node's root store. */
  probeCa?: string;
  /** fastify trustProxy: trust X-Forwarded-For from these proxies. Default false. */
  trustProxy?: boolean | string | string[];
  /**
   * The STUN binding echo nodes ask every few seconds to see their public address change
   * (ddns/registry/stun.ts, RFC 5389). Off when absent; `nodegate registry` runs it on the API's
   * host, port {@link DEFAULT_STUN_PORT}, unless told otherwise.
   */
  stun?: HostPort;
  /** Per-source rate limits. Default {@link DEFAULT_RATE_LIMITS}. */
  rateLimits?: Partial<RateLimits>;
  /**
   * Response rate limiting of the embedded DNS server's UDP answers (ddns/registry/dns/rrl.ts):
   * answers per second per (client network, response), 0 for none; default 20. `dnsExempt` adds
   * networks never limited (the vendor's own resolvers) to loopback.
   */
  dnsRateLimit?: number;
  dnsExempt?: string[];
  logger?: Logger;
  /** Clock, ms since the epoch. */
  now?: () => number;
}

export interface RunningRegistry {
  /** e.g. `http://127.0.0.1:8053` */
  apiUrl: string;
  /** Where the embedded DNS answers (UDP and TCP), or the RFC 2136 server. */
  dnsAddress: HostPort;
  /** Where the STUN echo answers, when it runs. */
  stunAddress?: HostPort;
  zone: string;
  store: RegistryStore;
  publisher: Publisher;
  /** The embedded server (stats, serial) when that backend is used. */
  embedded: EmbeddedDns | undefined;
  close(): Promise<void>;
}

function checkZone(zone: string): string {
  const z = zone.toLowerCase().replace(/\.$/, '');
  if (!/^(?=.{1,200}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(z)) {
    throw new NodegateError('NG_USAGE', `--zone "${zone}" is not a DNS name; give the zone devices are named under, like dyn.example.net.`);
  }
  return z;
}

function formatUrl({ host, port }: HostPort): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

export async function startRegistry(opts: StartRegistryOptions): Promise<RunningRegistry> {
  const zone = checkZone(opts.zone);
  const now = opts.now ?? Date.now;
  const log = opts.logger ?? createLogger({ name: 'registry' });
  let policy: AddressPolicy;
  try {
    policy = new AddressPolicy(opts.allowAddresses ?? []);
  } catch (err) {
    throw new NodegateError('NG_USAGE', `--allow-address: ${messageOf(err)}.`, { cause: err });
  }
  let probeCa: string | undefined;
  if (opts.probeCa !== undefined) {
    try {
      probeCa = await readFile(opts.probeCa, 'utf8');
    } catch (err) {
      throw new NodegateError('NG_USAGE', `--probe-ca ${opts.probeCa} cannot be read (${messageOf(err)}); give a PEM file.`, { cause: err });
    }
  }

  const cleanups: Array<() => Promise<void> | void> = [];
  const closeAll = async () => {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (err) {
        log.warn({ err: messageOf(err) }, 'cleanup failed');
      }
    }
    cleanups.length = 0;
  };
  try {
    const store = new SqliteStore(join(opts.dataDir, REGISTRY_DB_FILE));
    cleanups.push(() => store.close());

    let backend: DnsBackend;
    let embedded: EmbeddedDns | undefined;
    let dnsAddress: HostPort;
    const dnsListen = opts.dns ?? DEFAULT_DNS;
    const choice = opts.backend ?? 'embedded';
    if (choice === 'embedded') {
      const wildcard = dnsListen.host === '0.0.0.0' || dnsListen.host === '::';
      if (!opts.nameservers && wildcard) log.warn('the DNS listener has no single address to use as glue for ns.<zone>; give --ns NAME=IP');
      const glue = wildcard ? {} : dnsListen.host.includes(':') ? { ipv6: dnsListen.host } : { ipv4: dnsListen.host };
      const nameservers = opts.nameservers ?? [{ name: `ns.${zone}`, ...glue }];
      try {
        const rateLimit = { ...(opts.dnsRateLimit !== undefined ? { responsesPerSecond: opts.dnsRateLimit } : {}), exempt: [...RRL_DEFAULT_EXEMPT, ...(opts.dnsExempt ?? [])] };
        embedded = await startEmbeddedDns({ zone, nameservers, udp: dnsListen, logger: log, now, rateLimit });
      } catch (err) {
        if (err instanceof NodegateError) throw err;
        throw new NodegateError('NG_USAGE', `The DNS server cannot listen on ${dnsListen.host}:${dnsListen.port} (${messageOf(err)}); choose another --dns HOST:PORT (ports below 1024 need privileges).`, { cause: err });
      }
      backend = embedded.backend;
      const addr = embedded.address();
      dnsAddress = { host: addr.host, port: addr.udpPort };
      cleanups.push(() => embedded!.close());
    } else if ('rfc2136' in choice) {
      const { server, tsig } = choice.rfc2136;
      try {
        backend = new Rfc2136Backend({ server, zone, tsig: tsig as TsigKey, now });
      } catch (err) {
        throw new NodegateError('NG_USAGE', `--tsig: ${messageOf(err)}.`, { cause: err });
      }
      dnsAddress = server;
      cleanups.push(() => backend.close());
    } else {
      backend = choice;
      dnsAddress = dnsListen;
      cleanups.push(() => backend.close());
    }

    // The store is the truth: load all of it into the backend before serving the API.
    const current = (key: string): DeviceRecordSet | undefined => {
      if (key.startsWith('acme:')) {
        const account = store.getAcmeAccount(key.slice(5));
        return account ? acmeRecordSet(account) : undefined;
      }
      const device = store.getDevice(key);
      return device ? recordSetOf(device) : undefined;
    };
    const publisher = new Publisher(backend, current, log);
    cleanups.push(() => publisher.close());
    const keys: string[] = [];
    for (const device of store.devices()) keys.push(device.id);
    for (const account of store.acmeAccounts()) keys.push(`acme:${account.username}`);
    if (isBulkLoading(backend)) {
      await backend.loadAll(keys.map((k) => current(k)!));
    } else {
      // One UPDATE per device, a few at a time. A backend that is down does not stop the registry:
      // the publisher keeps what failed and retries it until the server takes it.
      let next = 0;
      await Promise.all(
        Array.from({ length: Math.min(STARTUP_PUBLISH_CONCURRENCY, keys.length) }, async () => {
          while (next < keys.length) {
            await publisher.publish(keys[next++]!).catch(() => undefined); // logged and queued by the publisher
          }
        }),
      );
    }
    log.info({ devices: keys.length, pending: publisher.pendingCount, zone }, 'records loaded into the DNS backend');

    const limits = { ...DEFAULT_RATE_LIMITS, ...opts.rateLimits };
    const ctx: RegistryContext = {
      zone,
      store,
      publisher,
      writer: new GroupCommitter(store, now),
      locks: new KeyedMutex(),
      policy,
      verifier: new TokenVerifier({ zone, lookupKey: (id) => store.getDevice(id)?.publicKey, now }),
      nonces: new NonceBook(now),
      enrollment: new EnrollmentTokens(opts.enrollmentTokens ?? []),
      limits: { register: new TokenBucketLimiter(limits.register, now), api: new TokenBucketLimiter(limits.api, now) },
      probeCa,
      now,
      log,
    };
    const app = await buildApi(ctx, { ...(opts.trustProxy !== undefined ? { trustProxy: opts.trustProxy } : {}) });
    cleanups.push(() => app.close());
    const apiListen = opts.api ?? DEFAULT_API;
    try {
      await app.listen({ host: apiListen.host, port: apiListen.port });
    } catch (err) {
      throw new NodegateError('NG_USAGE', `The API cannot listen on ${apiListen.host}:${apiListen.port} (${messageOf(err)}); choose another --api HOST:PORT.`, { cause: err });
    }
    let stunAddress: HostPort | undefined;
    if (opts.stun) {
      const stunListen = opts.stun;
      const stun = await startStunServer({ host: stunListen.host, port: stunListen.port }).catch((err: unknown) => {
        throw new NodegateError('NG_USAGE', `The STUN echo cannot listen on ${stunListen.host}:${stunListen.port} (${messageOf(err)}); choose another --stun HOST:PORT.`, { cause: err });
      });
      cleanups.push(() => stun.close());
      stunAddress = { host: stunListen.host, port: stun.port };
    }
    const address = app.server.address();
    const apiPort = typeof address === 'object' && address ? address.port : apiListen.port;
    const apiUrl = formatUrl({ host: apiListen.host, port: apiPort });
    let closing: Promise<void> | undefined;
    return {
      apiUrl,
      dnsAddress,
      ...(stunAddress ? { stunAddress } : {}),
      zone,
      store,
      publisher,
      embedded,
      close: () => (closing ??= closeAll()),
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
