/**
 * The `PortMapper` port: asks the home router to forward a public port to this node, by one of UPnP
 * IGD (upnp.ts), NAT-PMP (natpmp.ts, RFC 6886) or PCP (pcp.ts, RFC 6887). `probePortMappers` asks
 * all three at once with short deadlines (the router is one hop away) and returns those that answered.
 *
 * Contract for every adapter:
 * - `externalAddress()` resolves to the router's WAN address, or `null` when the router has none it
 *   will report (miniupnpd 2.3.1 behind another NAT answers with an empty string; NAT-PMP result 3).
 * - `map()` creates or refreshes a mapping and resolves to what the router granted (its lifetime may
 *   differ from the one asked; `lifetimeS` 0 means permanent). Refusals are `NG_NET_MAPPING_REFUSED`
 *   with `details.reason`; `'not-public'` means the router's own WAN address is not public (double NAT).
 * - `check()` resolves `true` while the router still holds the mapping, `false` when it forgot it
 *   (reboot, flush); it throws only when the router cannot be asked.
 * - `unmap()` is idempotent: a mapping already gone is not an error.
 * - Every call takes `{ signal }`, is bounded in time (`NG_NET_TIMEOUT`), and malformed replies are
 *   `NG_NET_MALFORMED`, never a crash or a hang. Adapters are safe to call concurrently.
 */
import * as dgram from 'node:dgram';
import { readFile } from 'node:fs/promises';
import { NodegateError } from '../../core/errors.ts';

export type MappingMethod = 'upnp' | 'natpmp' | 'pcp';
export type MappingProtocol = 'tcp' | 'udp';

export interface MappingRequest {
  protocol: MappingProtocol;
  internalPort: number;
  /** The public port wanted; routers may grant another. */
  externalPort: number;
  /** Seconds asked for. */
  lifetimeS: number;
  /** Shown in the router's UI (UPnP NewPortMappingDescription). */
  description?: string;
}

export interface PortMapping {
  method: MappingMethod;
  protocol: MappingProtocol;
  internalPort: number;
  externalPort: number;
  /** The router's WAN address as it reported it, if it did. */
  externalAddress: string | null;
  /** Seconds granted; 0 = permanent (only where the router demands it). */
  lifetimeS: number;
  /** ms since the epoch when granted. */
  grantedAt: number;
}

export interface IoOptions {
  signal?: AbortSignal;
}

export interface PortMapper {
  readonly method: MappingMethod;
  externalAddress(options?: IoOptions): Promise<string | null>;
  map(request: MappingRequest, options?: IoOptions): Promise<PortMapping>;
  check(mapping: PortMapping, options?: IoOptions): Promise<boolean>;
  unmap(mapping: PortMapping, options?: IoOptions): Promise<void>;
}

/** The `PortMapping` the router granted for `request`. */
export function grantedMapping(
  method: MappingMethod,
  request: MappingRequest,
  granted: Pick<PortMapping, 'externalPort' | 'externalAddress' | 'lifetimeS' | 'grantedAt'>,
): PortMapping {
  return {
    method,
    protocol: request.protocol,
    internalPort: request.internalPort,
    externalPort: granted.externalPort,
    externalAddress: granted.externalAddress,
    lifetimeS: granted.lifetimeS,
    grantedAt: granted.grantedAt,
  };
}

/** A socket factory seam for tests (defaults to node:dgram). */
export type CreateUdpSocket = (type: 'udp4') => dgram.Socket;
export const defaultCreateSocket: CreateUdpSocket = (type) => dgram.createSocket(type);

/**
 * Sends `payload` to host:port and resolves with the first reply `accept` takes, retransmitting at
 * each delay of `schedule` (ms) — RFC 6886 §3.1 doubles from 250 ms; we stop early because the
 * router is one hop away and a silent router is an answer too (NG_NET_TIMEOUT).
 */
export async function udpExchange<T>(
  host: string,
  port: number,
  payload: Buffer,
  accept: (msg: Buffer) => T | undefined,
  options: { schedule: readonly number[]; protocol: string; createSocket?: CreateUdpSocket; signal?: AbortSignal },
): Promise<T> {
  const socket = (options.createSocket ?? defaultCreateSocket)('udp4');
  const timers: NodeJS.Timeout[] = [];
  let onAbort: (() => void) | undefined;
  try {
    return await new Promise<T>((resolve, reject) => {
      onAbort = () => reject(new NodegateError('NG_ABORTED', `${options.protocol} request cancelled.`));
      if (options.signal?.aborted) return onAbort();
      options.signal?.addEventListener('abort', onAbort, { once: true });
      socket.on('error', (err) => reject(new NodegateError('NG_NET_TIMEOUT', `${options.protocol}: ${err.message}`, { cause: err, details: { protocol: options.protocol } })));
      socket.on('message', (msg, rinfo) => {
        if (rinfo.address !== host) return; // only the router we asked (RFC 6886 §3.1)
        try {
          const value = accept(msg);
          if (value !== undefined) resolve(value);
        } catch (err) {
          reject(err instanceof Error ? err : new NodegateError('NG_NET_MALFORMED', `${options.protocol}: unreadable reply.`, { details: { protocol: options.protocol } }));
        }
      });
      let elapsed = 0;
      const send = () => socket.send(payload, port, host, (err) => { if (err) reject(new NodegateError('NG_NET_NO_GATEWAY', `${options.protocol}: cannot reach ${host}: ${err.message}`, { cause: err })); });
      socket.bind(0, () => {
        send();
        for (const delay of options.schedule.slice(0, -1)) {
          elapsed += delay;
          timers.push(setTimeout(send, elapsed));
        }
        const total = options.schedule.reduce((a, b) => a + b, 0);
        timers.push(
          setTimeout(
            () => reject(new NodegateError('NG_NET_TIMEOUT', `${options.protocol}: the router at ${host} did not answer within ${total} ms.`, { details: { protocol: options.protocol } })),
            total,
          ),
        );
      });
    });
  } finally {
    // The signal outlives this exchange (a service's lifetime): drop our listener, or every
    // periodic check would add one more (a leak Node warns about after ten).
    if (onAbort) options.signal?.removeEventListener('abort', onAbort);
    for (const t of timers) clearTimeout(t);
    try {
      socket.close();
    } catch {
      // already closed by an error
    }
  }
}

/** The IPv4 default gateway from /proc/net/route (Linux), or null. */
export async function defaultGateway(routeFile = '/proc/net/route'): Promise<string | null> {
  let text: string;
  try {
    text = await readFile(routeFile, 'utf8');
  } catch {
    return null;
  }
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[1] === '00000000' && f[2] && f[2] !== '00000000' && /^[0-9A-F]{8}$/i.test(f[2])) {
      const n = Number.parseInt(f[2], 16);
      return [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, n >>> 24].join('.');
    }
  }
  return null;
}

/** Result of probing all protocols at once: the adapters that answered, fastest first. */
export interface ProbeResult {
  gateway: string | null;
  mappers: PortMapper[];
  /** What each protocol said: 'ok', or the error code. */
  answers: Record<MappingMethod, string>;
}

/**
 * Probes UPnP, NAT-PMP and PCP together (tailscale's portmapper does the same): each adapter's
 * `externalAddress()` is the probe; a `null` answer still counts as present (the router is there,
 * its WAN address is just not public).
 */
export async function probePortMappers(candidates: PortMapper[], options: IoOptions = {}): Promise<Omit<ProbeResult, 'gateway'>> {
  const answers = { upnp: 'absent', natpmp: 'absent', pcp: 'absent' } as Record<MappingMethod, string>;
  const found: PortMapper[] = [];
  await Promise.all(
    candidates.map(async (m) => {
      try {
        await m.externalAddress(options);
        answers[m.method] = 'ok';
        found.push(m);
      } catch (err) {
        answers[m.method] = err instanceof NodegateError ? err.code : 'NG_INTERNAL';
        // a refusal is an answer: the router speaks the protocol but will not map (e.g. PCP result 8
        // from miniupnpd whose own WAN address is not public)
        if (err instanceof NodegateError && err.code === 'NG_NET_MAPPING_REFUSED') found.push(m);
      }
    }),
  );
  const order: MappingMethod[] = ['upnp', 'pcp', 'natpmp'];
  found.sort((a, b) => order.indexOf(a.method) - order.indexOf(b.method));
  return { mappers: found, answers };
}
