/**
 * NAT-PMP client (RFC 6886): external address (opcode 0), TCP/UDP mappings (opcodes 1, 2), removal
 * (lifetime 0, §3.4), the epoch ("seconds since start of epoch", §3.6) that goes back when the router
 * reboots and has lost its mappings, and the address-change announcements routers multicast to
 * 224.0.0.1:5350 (§3.2.1).
 */
import * as dgram from 'node:dgram';
import { NodegateError } from '../../core/errors.ts';
import {
  grantedMapping,
  udpExchange,
  type CreateUdpSocket,
  type IoOptions,
  type MappingRequest,
  type PortMapper,
  type PortMapping,
} from './portmapper.ts';
import { RouterEpoch } from './router-epoch.ts';

/** RFC 6886 §3: the server listens on UDP 5351; announcements go to 224.0.0.1:5350. */
export const NATPMP_PORT = 5351;
export const NATPMP_ANNOUNCE_PORT = 5350;
export const NATPMP_ANNOUNCE_GROUP = '224.0.0.1';
/**
 * Retransmission: RFC 6886 §3.1 starts at 250 ms and doubles up to 9 tries (64 s). The router is one
 * hop away, so two tries (250 + 500 ms) tell a silent router from a slow one.
 */
export const NATPMP_SCHEDULE_MS = [250, 500] as const;

const RESULT_NAMES: Record<number, string> = {
  1: 'unsupported-version',
  2: 'not-authorized',
  // "Network Failure, e.g. NAT box itself has not obtained a DHCP lease": the router has no public
  // address of its own (miniupnpd answers this when its WAN address is private: a NAT in front)
  3: 'not-public',
  4: 'out-of-resources',
  5: 'unsupported-opcode',
};

export interface NatPmpAddressReply {
  epoch: number;
  /** null when the router answers result 3 (no public address: a NAT in front of it). */
  address: string | null;
}

export interface NatPmpMapReply {
  epoch: number;
  internalPort: number;
  externalPort: number;
  lifetimeS: number;
}

/** Parses an external-address reply (opcode 128). Throws NG_NET_MALFORMED / NG_NET_NATPMP. */
export function parseAddressReply(msg: Buffer): NatPmpAddressReply | undefined {
  if (msg.length < 8) throw malformed(`reply of ${msg.length} bytes`);
  if (msg[0] !== 0) throw malformed(`version ${msg[0]}`);
  if (msg[1] !== 128) return undefined; // not ours
  const result = msg.readUInt16BE(2);
  const epoch = msg.readUInt32BE(4);
  if (result === 3) return { epoch, address: null };
  if (result !== 0) throw refused(result);
  if (msg.length < 12) throw malformed(`address reply of ${msg.length} bytes`);
  const address = `${msg[8]}.${msg[9]}.${msg[10]}.${msg[11]}`;
  return { epoch, address: address === '0.0.0.0' ? null : address };
}

/** Parses a mapping reply for opcode `op` (1 udp, 2 tcp). */
export function parseMapReply(msg: Buffer, op: number): NatPmpMapReply | undefined {
  if (msg.length < 8) throw malformed(`reply of ${msg.length} bytes`);
  if (msg[0] !== 0) throw malformed(`version ${msg[0]}`);
  if (msg[1] !== 128 + op) return undefined;
  const result = msg.readUInt16BE(2);
  if (result !== 0) throw refused(result);
  if (msg.length < 16) throw malformed(`mapping reply of ${msg.length} bytes`);
  return { epoch: msg.readUInt32BE(4), internalPort: msg.readUInt16BE(8), externalPort: msg.readUInt16BE(10), lifetimeS: msg.readUInt32BE(12) };
}

function malformed(what: string): NodegateError {
  return new NodegateError('NG_NET_MALFORMED', `NAT-PMP: the router sent a malformed ${what}.`, { details: { protocol: 'natpmp' } });
}

function refused(result: number): NodegateError {
  const reason = RESULT_NAMES[result] ?? `result-${result}`;
  return new NodegateError('NG_NET_MAPPING_REFUSED', `NAT-PMP: the router refused (${reason}). Check that NAT-PMP is enabled for this device in the router's settings.`, {
    details: { protocol: 'natpmp', reason, result },
  });
}

export interface NatPmpOptions {
  gateway: string;
  createSocket?: CreateUdpSocket;
  now?: () => number;
}

export class NatPmpMapper implements PortMapper {
  readonly method = 'natpmp' as const;
  private readonly now: () => number;
  /** The router's epoch: a smaller one means it rebooted and forgot its mappings (§3.6). */
  private readonly epoch: RouterEpoch;

  constructor(private readonly options: NatPmpOptions) {
    this.now = options.now ?? Date.now;
    this.epoch = new RouterEpoch(this.now, 'natpmp');
  }

  private exchange<T>(payload: Buffer, accept: (m: Buffer) => T | undefined, io: IoOptions): Promise<T> {
    return udpExchange(this.options.gateway, NATPMP_PORT, payload, accept, {
      schedule: NATPMP_SCHEDULE_MS,
      protocol: 'natpmp',
      ...(this.options.createSocket ? { createSocket: this.options.createSocket } : {}),
      ...(io.signal ? { signal: io.signal } : {}),
    });
  }

  async externalAddress(io: IoOptions = {}): Promise<string | null> {
    const reply = await this.exchange(Buffer.from([0, 0]), parseAddressReply, io);
    this.epoch.observe(reply.epoch);
    return reply.address;
  }

  async map(request: MappingRequest, io: IoOptions = {}): Promise<PortMapping> {
    const op = request.protocol === 'udp' ? 1 : 2;
    const pkt = Buffer.alloc(12);
    pkt[0] = 0;
    pkt[1] = op;
    pkt.writeUInt16BE(request.internalPort, 4);
    pkt.writeUInt16BE(request.externalPort, 6);
    pkt.writeUInt32BE(request.lifetimeS, 8);
    const reply = await this.exchange(pkt, (m) => parseMapReply(m, op), io);
    this.epoch.observe(reply.epoch);
    if (reply.internalPort !== request.internalPort) throw malformed(`mapping reply for port ${reply.internalPort}`);
    let externalAddress: string | null = null;
    try {
      externalAddress = await this.externalAddress(io);
    } catch {
      // the mapping stands; the address is only informative here
    }
    return grantedMapping('natpmp', request, { externalPort: reply.externalPort, externalAddress, lifetimeS: reply.lifetimeS, grantedAt: this.now() });
  }

  /** NAT-PMP has no lookup: a router that rebooted shows it by its epoch going back (§3.6). */
  async check(_mapping: PortMapping, io: IoOptions = {}): Promise<boolean> {
    await this.externalAddress(io);
    return !this.epoch.takeRebootSeen();
  }

  async unmap(mapping: PortMapping, io: IoOptions = {}): Promise<void> {
    const op = mapping.protocol === 'udp' ? 1 : 2;
    const pkt = Buffer.alloc(12);
    pkt[1] = op;
    pkt.writeUInt16BE(mapping.internalPort, 4);
    // §3.4: external port 0 and lifetime 0 delete the mapping
    await this.exchange(pkt, (m) => parseMapReply(m, op), io);
  }
}

/**
 * Listens for the router's public-address announcements (§3.2.1: sent to 224.0.0.1:5350 on every
 * change). `onAnnounce` gets the parsed reply; malformed packets are ignored. Returns a stop function.
 */
export function listenForAnnouncements(
  gateway: string,
  onAnnounce: (reply: NatPmpAddressReply) => void,
  options: { createSocket?: (o: dgram.SocketOptions) => dgram.Socket } = {},
): Promise<() => void> {
  const socket = (options.createSocket ?? ((o) => dgram.createSocket(o)))({ type: 'udp4', reuseAddr: true });
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.on('message', (msg, rinfo) => {
      if (rinfo.address !== gateway) return; // §3.2.1: only from the default gateway
      try {
        const reply = parseAddressReply(msg);
        if (reply) onAnnounce(reply);
      } catch {
        // hostile or broken announcement: ignored, the next check will ask the router directly
      }
    });
    socket.bind(NATPMP_ANNOUNCE_PORT, () => {
      try {
        socket.addMembership(NATPMP_ANNOUNCE_GROUP);
      } catch {
        // no multicast route: announcements are a speed-up, polling still works
      }
      socket.off('error', reject);
      socket.on('error', () => undefined);
      resolve(() => {
        try {
          socket.close();
        } catch {
          // already closed
        }
      });
    });
  });
}
