/**
 * Before the CA is told to validate (RFC 8555 §7.5.1), every authoritative server of the zone must
 * already serve the TXT value: the CA may ask any of them, and a resolver's cache says nothing about
 * what they serve. So we ask each one directly (certs/txt-query.ts), repeatedly, within a bounded
 * wait, and fail with NG_CERT_TXT_NOT_VISIBLE naming the servers that lag.
 */
import { promises as dnsPromises } from 'node:dns';
import { setTimeout as sleep } from 'node:timers/promises';
import { NodegateError, messageOf } from '../core/errors.ts';
import { parseHostPort } from '../core/cli.ts';
import { queryTxt, type DnsServerAddress } from './txt-query.ts';

export type TxtLookup = (server: DnsServerAddress, name: string, options: { signal?: AbortSignal }) => Promise<string[]>;

export interface PropagationOptions {
  /** The authoritative servers to ask. */
  servers: DnsServerAddress[];
  /** Total bounded wait, ms. */
  timeoutMs: number;
  /** Pause between rounds, ms. */
  intervalMs: number;
  signal?: AbortSignal;
  /** Injected for tests; default a direct UDP query. */
  lookup?: TxtLookup;
  now?: () => number;
}

/**
 * Resolves once every server returns every `(name, value)` pair in `expected`.
 * @throws NG_CERT_TXT_NOT_VISIBLE after `timeoutMs` (details.missing lists server → name → value).
 */
export async function waitForTxt(expected: Array<{ name: string; value: string }>, options: PropagationOptions): Promise<void> {
  const lookup = options.lookup ?? ((server, name, o) => queryTxt(server, name, o));
  const now = options.now ?? Date.now;
  const deadline = now() + options.timeoutMs;
  let missing: string[] = [];
  for (let round = 0; ; round++) {
    missing = [];
    await Promise.all(
      options.servers.map(async (server) => {
        const names = [...new Set(expected.map((e) => e.name))];
        for (const name of names) {
          let seen: string[];
          try {
            seen = await lookup(server, name, { signal: options.signal });
          } catch (err) {
            if (options.signal?.aborted) throw err;
            missing.push(`${server.host}:${server.port} did not answer for ${name} (${messageOf(err)})`);
            continue;
          }
          for (const e of expected) {
            if (e.name === name && !seen.includes(e.value)) missing.push(`${server.host}:${server.port} does not serve ${name} TXT "${e.value}" yet`);
          }
        }
      }),
    );
    if (missing.length === 0) return;
    if (now() + options.intervalMs > deadline) break;
    await sleep(options.intervalMs, undefined, { signal: options.signal });
  }
  throw new NodegateError(
    'NG_CERT_TXT_NOT_VISIBLE',
    `The ACME challenge TXT record is not visible at every authoritative server after ${Math.round(options.timeoutMs / 1000)} s: ${missing.slice(0, 4).join('; ')}. Check that the DNS solver updates the primary and that secondaries receive the change (NOTIFY/IXFR), or raise acme.propagationTimeoutMs.`,
    { details: { missing } },
  );
}

/**
 * The zone's authoritative servers: the configured "HOST:PORT" list, else the zone's NS names
 * (looked up through the system resolver: only the server list, never the TXT answer) at port 53.
 */
export async function authoritativeServersFor(zone: string, configured: string[] | undefined): Promise<DnsServerAddress[]> {
  if (configured && configured.length > 0) return configured.map((s) => parseHostPort(s, 'acme.authoritativeServers'));
  let names: string[];
  try {
    names = await dnsPromises.resolveNs(zone);
  } catch (err) {
    throw new NodegateError('NG_CERT_TXT_NOT_VISIBLE', `Could not find the authoritative servers of ${zone} (NS lookup failed: ${messageOf(err)}). Set acme.authoritativeServers in DATA/config.json.`, { cause: err });
  }
  const servers: DnsServerAddress[] = [];
  for (const ns of names) {
    const v4 = await dnsPromises.resolve4(ns).catch(() => [] as string[]);
    const v6 = await dnsPromises.resolve6(ns).catch(() => [] as string[]);
    for (const host of [...v4, ...v6]) servers.push({ host, port: 53 });
  }
  if (servers.length === 0) throw new NodegateError('NG_CERT_TXT_NOT_VISIBLE', `The NS names of ${zone} (${names.join(', ')}) have no addresses. Set acme.authoritativeServers in DATA/config.json.`);
  return servers;
}
