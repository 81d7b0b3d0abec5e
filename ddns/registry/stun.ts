/**
 * A stateless STUN Binding responder (RFC 5389 §7, §15.2 XOR-MAPPED-ADDRESS) run beside the
 * registry. Nodes send a Binding request every couple of seconds; the answer tells them the public
 * address and port their NAT gives them right now, so a WAN address change shows within one
 * interval even where the router offers no UPnP or NAT-PMP. The registry keeps no state per packet:
 * one 20-byte request in, one 32-byte (IPv4) answer out (cost per device: docs/performance.md).
 *
 * Anything that is not a well-formed Binding request is dropped silently (no amplification: the
 * answer is never larger than 12 bytes more than the request, RFC 5389 §7.3).
 */
import * as dgram from 'node:dgram';
import { ipv6Bytes } from './dns/wire.ts';

export const STUN_MAGIC_COOKIE = 0x2112a442;
export const STUN_BINDING_REQUEST = 0x0001;
export const STUN_BINDING_SUCCESS = 0x0101;
export const STUN_ATTR_XOR_MAPPED_ADDRESS = 0x0020;
/** Requests longer than this are dropped: a Binding request needs no attributes. */
const MAX_REQUEST_BYTES = 548;

/** The answer to one datagram, or undefined to drop it. Pure: exported for the fuzz test. */
export function stunAnswer(msg: Buffer, address: string, port: number, family: 'IPv4' | 'IPv6'): Buffer | undefined {
  if (msg.length < 20 || msg.length > MAX_REQUEST_BYTES) return undefined;
  if (msg.readUInt16BE(0) !== STUN_BINDING_REQUEST) return undefined;
  if (msg.readUInt32BE(4) !== STUN_MAGIC_COOKIE) return undefined;
  if (msg.readUInt16BE(2) !== msg.length - 20 || (msg.length & 3) !== 0) return undefined;
  const v6 = family === 'IPv6' && !address.startsWith('::ffff:');
  const addrLen = v6 ? 16 : 4;
  const out = Buffer.alloc(20 + 4 + 4 + addrLen);
  out.writeUInt16BE(STUN_BINDING_SUCCESS, 0);
  out.writeUInt16BE(4 + 4 + addrLen, 2);
  out.writeUInt32BE(STUN_MAGIC_COOKIE, 4);
  msg.copy(out, 8, 8, 20); // transaction id
  out.writeUInt16BE(STUN_ATTR_XOR_MAPPED_ADDRESS, 20);
  out.writeUInt16BE(4 + addrLen, 22);
  out[25] = v6 ? 0x02 : 0x01;
  out.writeUInt16BE(port ^ (STUN_MAGIC_COOKIE >>> 16), 26);
  const xorKey = Buffer.concat([out.subarray(4, 8), out.subarray(8, 20)]);
  const raw = v6 ? ipv6Bytes(address) : Buffer.from(address.replace(/^::ffff:/, '').split('.').map(Number));
  for (let i = 0; i < addrLen; i++) out[28 + i] = raw[i]! ^ xorKey[i]!;
  return out;
}

export interface StunServer {
  readonly port: number;
  /** Binding requests answered so far. */
  readonly answered: number;
  close(): Promise<void>;
}

/** Starts the responder on host:port (port 0 = any; the registry uses 3478, RFC 5389 §18.4). */
export function startStunServer(options: { host: string; port: number; createSocket?: (t: 'udp4' | 'udp6') => dgram.Socket }): Promise<StunServer> {
  const type = options.host.includes(':') ? 'udp6' : 'udp4';
  const socket = (options.createSocket ?? ((t) => dgram.createSocket(t)))(type);
  let answered = 0;
  socket.on('message', (msg, rinfo) => {
    const answer = stunAnswer(msg, rinfo.address, rinfo.port, rinfo.family);
    if (!answer) return;
    answered++;
    socket.send(answer, rinfo.port, rinfo.address);
  });
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(options.port, options.host, () => {
      socket.off('error', reject);
      socket.on('error', () => undefined); // a send to a vanished peer (ICMP) must not stop the server
      resolve({
        port: socket.address().port,
        get answered() {
          return answered;
        },
        close: () => new Promise<void>((r) => socket.close(() => r())),
      });
    });
  });
}
