/**
 * STUN Binding client (RFC 5389 §7.2.1, §15.2): asks the registry's STUN responder
 * (ddns/registry/stun.ts) which public address and port this node's NAT uses right now.
 */
import { randomBytes } from 'node:crypto';
import { NodegateError } from '../../core/errors.ts';
import { udpExchange, type CreateUdpSocket, type IoOptions } from './portmapper.ts';

const MAGIC_COOKIE = 0x2112a442;
const BINDING_SUCCESS = 0x0101;
const XOR_MAPPED_ADDRESS = 0x0020;
const MAPPED_ADDRESS = 0x0001;
/** The registry is on the internet (tens of ms): two tries within 1 s (RFC 5389 §7.2.1 uses 500 ms RTO). */
export const STUN_SCHEDULE_MS = [400, 600] as const;

export interface StunMapped {
  address: string;
  port: number;
}

/** Parses a Binding success response for transaction `tid`; undefined for someone else's packet. */
export function parseBindingResponse(msg: Buffer, tid: Buffer): StunMapped | undefined {
  if (msg.length < 20) throw malformed(`response of ${msg.length} bytes`);
  if (msg.readUInt32BE(4) !== MAGIC_COOKIE) throw malformed('response without the magic cookie');
  if (!msg.subarray(8, 20).equals(tid)) return undefined;
  if (msg.readUInt16BE(0) !== BINDING_SUCCESS) throw new NodegateError('NG_NET_STUN', `STUN: the server answered message type 0x${msg.readUInt16BE(0).toString(16)}.`);
  const length = msg.readUInt16BE(2);
  if (length + 20 > msg.length) throw malformed('response shorter than its length field');
  let offset = 20;
  let plain: StunMapped | undefined;
  while (offset + 4 <= 20 + length) {
    const type = msg.readUInt16BE(offset);
    const len = msg.readUInt16BE(offset + 2);
    const start = offset + 4;
    if (start + len > 20 + length) throw malformed('attribute past the end');
    if ((type === XOR_MAPPED_ADDRESS || type === MAPPED_ADDRESS) && len >= 8 && msg[start + 1] === 0x01) {
      const xor = type === XOR_MAPPED_ADDRESS;
      const port = msg.readUInt16BE(start + 2) ^ (xor ? MAGIC_COOKIE >>> 16 : 0);
      const cookie = Buffer.alloc(4);
      cookie.writeUInt32BE(MAGIC_COOKIE);
      const a = [0, 1, 2, 3].map((i) => msg[start + 4 + i]! ^ (xor ? cookie[i]! : 0));
      const mapped = { address: a.join('.'), port };
      if (xor) return mapped;
      plain = mapped;
    }
    offset = start + len + ((4 - (len % 4)) % 4);
  }
  if (plain) return plain;
  throw malformed('response without a mapped IPv4 address');
}

function malformed(what: string): NodegateError {
  return new NodegateError('NG_NET_MALFORMED', `STUN: malformed ${what}.`, { details: { protocol: 'stun' } });
}

/** One Binding request to host:port. */
export async function stunBinding(host: string, port: number, io: IoOptions & { createSocket?: CreateUdpSocket } = {}): Promise<StunMapped> {
  const tid = randomBytes(12);
  const req = Buffer.alloc(20);
  req.writeUInt16BE(0x0001, 0);
  req.writeUInt32BE(MAGIC_COOKIE, 4);
  tid.copy(req, 8);
  return udpExchange(host, port, req, (m) => parseBindingResponse(m, tid), {
    schedule: STUN_SCHEDULE_MS,
    protocol: 'stun',
    ...(io.createSocket ? { createSocket: io.createSocket } : {}),
    ...(io.signal ? { signal: io.signal } : {}),
  });
}
