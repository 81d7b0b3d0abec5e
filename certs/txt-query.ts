/**
 * One TXT query straight to one DNS server (RFC 1035 §4.1 over UDP, RD=0, no resolver, no cache):
 * how certs/propagation.ts asks each authoritative server what it serves right now.
 */
import { createSocket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import dnsPacket from 'dns-packet';
import { NodegateError } from '../core/errors.ts';

/** One UDP answer should come back from a server on the path well within this: 2 seconds. */
export const TXT_QUERY_TIMEOUT_MS = 2000;

export interface DnsServerAddress {
  host: string;
  port: number;
}

/** Asks `server` for the TXT values at `name`. NXDOMAIN/NODATA give []; no answer is NG_DNS_TIMEOUT. */
export function queryTxt(server: DnsServerAddress, name: string, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<string[]> {
  const id = randomInt(0, 0x10000);
  const query = dnsPacket.encode({ type: 'query', id, flags: 0, questions: [{ type: 'TXT', class: 'IN', name }] });
  const socket = createSocket(server.host.includes(':') ? 'udp6' : 'udp4');
  return new Promise<string[]>((resolve, reject) => {
    const finish = (err: Error | undefined, values?: string[]) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      socket.close();
      if (err) reject(err);
      else resolve(values ?? []);
    };
    const onAbort = () => finish(new NodegateError('NG_ABORTED', `TXT query for ${name} cancelled.`));
    const timer = setTimeout(
      () => finish(new NodegateError('NG_DNS_TIMEOUT', `No answer from ${server.host}:${server.port} for ${name} TXT within ${options.timeoutMs ?? TXT_QUERY_TIMEOUT_MS} ms. Check that the server runs and is reachable.`)),
      options.timeoutMs ?? TXT_QUERY_TIMEOUT_MS,
    );
    options.signal?.addEventListener('abort', onAbort, { once: true });
    socket.on('error', (err) => finish(new NodegateError('NG_DNS_TIMEOUT', `Could not query ${server.host}:${server.port}: ${err.message}.`, { cause: err })));
    socket.on('message', (msg) => {
      let packet: dnsPacket.Packet;
      try {
        packet = dnsPacket.decode(msg);
      } catch {
        return; // not a DNS answer: keep waiting for the real one until the timeout
      }
      if (packet.id !== id) return;
      const values: string[] = [];
      for (const answer of packet.answers ?? []) {
        if (answer.type !== 'TXT' || answer.name.toLowerCase() !== name.toLowerCase()) continue;
        const data = answer.data;
        const parts = Array.isArray(data) ? data : [data];
        values.push(parts.map((p) => (typeof p === 'string' ? p : p.toString('utf8'))).join(''));
      }
      finish(undefined, values);
    });
    socket.send(query, server.port, server.host);
  });
}
