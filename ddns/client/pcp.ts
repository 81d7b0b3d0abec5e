/**
 * PCP client, MAP opcode only (RFC 6887 §11): create/refresh a mapping, delete it (lifetime 0,
 * §15), learn the router's external address from the reply, and see a router reboot by its epoch
 * going back (§8.5). Addresses on the wire are 16 bytes, IPv4 as IPv4-mapped IPv6 (§5).
 */
import { randomBytes } from 'node:crypto';
import { NodegateError } from '../../core/errors.ts';
import { NATPMP_PORT } from './natpmp.ts';
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

/** RFC 6887 §19.1: PCP shares NAT-PMP's port 5351; version 2 (version 0 is NAT-PMP). */
export const PCP_PORT = NATPMP_PORT;
export const PCP_VERSION = 2;
const OP_MAP = 1;
const OP_REPLY = 0x80;
/** §8.1.1 starts retransmission at 3 s; one hop away we try twice within 750 ms like NAT-PMP. */
export const PCP_SCHEDULE_MS = [250, 500] as const;
/** Lifetime of the probe mapping used to learn the external address (seconds). */
const PROBE_LIFETIME_S = 30;
/**
 * Port of the short UDP mapping that learns the external address; deleted at once. High on purpose:
 * routers restrict mappings to unprivileged ports (miniupnpd's default allow rules start at 1024,
 * and a MAP for a denied port went unanswered in our tests).
 */
const PROBE_PORT = 61_000;

const RESULT_NAMES: Record<number, string> = {
  1: 'unsupp-version',
  2: 'not-authorized',
  3: 'malformed-request',
  4: 'unsupp-opcode',
  5: 'unsupp-option',
  6: 'malformed-option',
  7: 'network-failure',
  8: 'no-resources',
  9: 'unsupp-protocol',
  10: 'user-ex-quota',
  11: 'cannot-provide-external',
  12: 'address-mismatch',
  13: 'excessive-remote-peers',
};

export interface PcpMapReply {
  result: number;
  lifetimeS: number;
  epoch: number;
  nonce: Buffer;
  protocol: number;
  internalPort: number;
  externalPort: number;
  externalAddress: string | null;
}

function ipv4Mapped(address: string): Buffer {
  const b = Buffer.alloc(16);
  b[10] = 0xff;
  b[11] = 0xff;
  const parts = address.split('.').map(Number);
  for (let i = 0; i < 4; i++) b[12 + i] = parts[i] ?? 0;
  return b;
}

function fromMapped(b: Buffer): string | null {
  const isMapped = b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
  if (!isMapped) return null; // IPv6 external addresses are not used for the IPv4 name
  const a = `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  return a === '0.0.0.0' ? null : a;
}

export function buildMapRequest(o: { clientAddress: string; nonce: Buffer; protocol: number; internalPort: number; externalPort: number; lifetimeS: number }): Buffer {
  const pkt = Buffer.alloc(60);
  pkt[0] = PCP_VERSION;
  pkt[1] = OP_MAP;
  pkt.writeUInt32BE(o.lifetimeS, 4);
  ipv4Mapped(o.clientAddress).copy(pkt, 8);
  o.nonce.copy(pkt, 24);
  pkt[36] = o.protocol;
  pkt.writeUInt16BE(o.internalPort, 40);
  pkt.writeUInt16BE(o.externalPort, 42);
  ipv4Mapped('0.0.0.0').copy(pkt, 44);
  return pkt;
}

/** Parses a MAP reply; undefined for packets that are not a MAP reply to `nonce`. */
export function parseMapReply(msg: Buffer, nonce?: Buffer): PcpMapReply | undefined {
  if (msg.length < 24) throw malformed(`reply of ${msg.length} bytes`);
  if (msg[0] === 0) throw new NodegateError('NG_NET_PCP', 'PCP: the router speaks NAT-PMP only.', { details: { protocol: 'pcp', reason: 'unsupp-version' } });
  if (msg[0] !== PCP_VERSION) throw malformed(`version ${msg[0]}`);
  if (msg[1] !== (OP_MAP | OP_REPLY)) return undefined;
  const result = msg[3]!;
  const lifetimeS = msg.readUInt32BE(4);
  const epoch = msg.readUInt32BE(8);
  if (msg.length < 60) {
    if (result !== 0) throw refused(result);
    throw malformed(`MAP reply of ${msg.length} bytes`);
  }
  const replyNonce = Buffer.from(msg.subarray(24, 36));
  if (nonce && !replyNonce.equals(nonce)) return undefined; // §11.3: not the answer to our request
  if (result !== 0) throw refused(result);
  return {
    result,
    lifetimeS,
    epoch,
    nonce: replyNonce,
    protocol: msg[36]!,
    internalPort: msg.readUInt16BE(40),
    externalPort: msg.readUInt16BE(42),
    externalAddress: fromMapped(Buffer.from(msg.subarray(44, 60))),
  };
}

function malformed(what: string): NodegateError {
  return new NodegateError('NG_NET_MALFORMED', `PCP: the router sent a malformed ${what}.`, { details: { protocol: 'pcp' } });
}

function refused(result: number): NodegateError {
  const reason = RESULT_NAMES[result] ?? `result-${result}`;
  return new NodegateError('NG_NET_MAPPING_REFUSED', `PCP: the router refused the mapping (${reason}).`, { details: { protocol: 'pcp', reason, result } });
}

export interface PcpOptions {
  gateway: string;
  /** This node's LAN address (the PCP client address, §7.1). */
  clientAddress: string;
  createSocket?: CreateUdpSocket;
  now?: () => number;
}

export class PcpMapper implements PortMapper {
  readonly method = 'pcp' as const;
  private readonly now: () => number;
  /** One nonce per mapping: refreshes must repeat it (§11.2). */
  private readonly nonces = new Map<string, Buffer>();
  /** §8.5: the epoch must keep pace with our clock (either way); otherwise the router lost its state. */
  private readonly epoch: RouterEpoch;

  constructor(private readonly options: PcpOptions) {
    this.now = options.now ?? Date.now;
    this.epoch = new RouterEpoch(this.now, 'pcp');
  }

  private async request(req: { protocol: number; internalPort: number; externalPort: number; lifetimeS: number; nonce: Buffer }, io: IoOptions): Promise<PcpMapReply> {
    const pkt = buildMapRequest({ clientAddress: this.options.clientAddress, ...req });
    const reply = await udpExchange(this.options.gateway, PCP_PORT, pkt, (m) => parseMapReply(m, req.nonce), {
      schedule: PCP_SCHEDULE_MS,
      protocol: 'pcp',
      ...(this.options.createSocket ? { createSocket: this.options.createSocket } : {}),
      ...(io.signal ? { signal: io.signal } : {}),
    });
    this.epoch.observe(reply.epoch);
    return reply;
  }

  async externalAddress(io: IoOptions = {}): Promise<string | null> {
    const nonce = randomBytes(12);
    const req = { protocol: 17, internalPort: PROBE_PORT, externalPort: PROBE_PORT, nonce };
    const reply = await this.request({ ...req, lifetimeS: PROBE_LIFETIME_S }, io);
    await this.request({ ...req, lifetimeS: 0 }, io).catch(() => undefined); // best effort: it expires anyway
    return reply.externalAddress;
  }

  async map(request: MappingRequest, io: IoOptions = {}): Promise<PortMapping> {
    const key = `${request.protocol}:${request.internalPort}`;
    const nonce = this.nonces.get(key) ?? randomBytes(12);
    this.nonces.set(key, nonce);
    const reply = await this.request(
      { protocol: request.protocol === 'udp' ? 17 : 6, internalPort: request.internalPort, externalPort: request.externalPort, lifetimeS: request.lifetimeS, nonce },
      io,
    );
    return grantedMapping('pcp', request, { externalPort: reply.externalPort, externalAddress: reply.externalAddress, lifetimeS: reply.lifetimeS, grantedAt: this.now() });
  }

  /** PCP has no lookup either; a reboot shows as an epoch out of pace with our clock (§8.5). */
  async check(_mapping: PortMapping, io: IoOptions = {}): Promise<boolean> {
    await this.externalAddress(io);
    return !this.epoch.takeRebootSeen();
  }

  async unmap(mapping: PortMapping, io: IoOptions = {}): Promise<void> {
    const key = `${mapping.protocol}:${mapping.internalPort}`;
    const nonce = this.nonces.get(key);
    if (!nonce) return;
    await this.request({ protocol: mapping.protocol === 'udp' ? 17 : 6, internalPort: mapping.internalPort, externalPort: mapping.externalPort, lifetimeS: 0, nonce }, io);
    this.nonces.delete(key);
  }
}
