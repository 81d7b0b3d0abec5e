/**
 * One TXT question straight to one DNS server (no resolver, no cache, RD=0), through the DNS part's
 * stub client (ddns/dns-client.ts: UDP, TCP when truncated): how certs/propagation.ts asks each
 * authoritative server what it serves right now.
 */
import { queryDns, type DnsServerAddress } from '../ddns/dns-client.ts';

export type { DnsServerAddress };

/** One answer from a server on the path should come well within this: 2 seconds. */
export const TXT_QUERY_TIMEOUT_MS = 2000;

/** The TXT values at `name` on `server` (each value's strings joined). NXDOMAIN/NODATA give []. */
export async function queryTxt(server: DnsServerAddress, name: string, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<string[]> {
  const answer = await queryDns(server, name, 'TXT', { timeoutMs: options.timeoutMs ?? TXT_QUERY_TIMEOUT_MS, ...(options.signal ? { signal: options.signal } : {}) });
  const values: string[] = [];
  for (const a of answer.answers) {
    if (a.type !== 'TXT' || a.name.toLowerCase() !== name.toLowerCase()) continue;
    const parts = Array.isArray(a.data) ? a.data : [a.data];
    values.push(parts.map((p) => (typeof p === 'string' ? p : p.toString('utf8'))).join(''));
  }
  return values;
}
