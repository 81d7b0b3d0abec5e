import { afterEach, describe, expect, it } from 'vitest';
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import * as dnsPacket from 'dns-packet';
import { frameTcp, queryDns, rdataText, tcpMessageReader } from '../../../ddns/dns-client.ts';

// A scripted peer on loopback: the client under test talks to real sockets.
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (closers.length) await closers.pop()!();
});

function reply(query: Buffer, opts: { tc?: boolean; id?: number; name?: string; answers?: dnsPacket.Answer[] } = {}): Buffer {
  const q = dnsPacket.decode(query);
  return dnsPacket.encode({
    type: 'response',
    id: opts.id ?? q.id!,
    flags: dnsPacket.AUTHORITATIVE_ANSWER | (opts.tc ? dnsPacket.TRUNCATED_RESPONSE : 0),
    questions: [{ ...q.questions![0]!, name: opts.name ?? q.questions![0]!.name }],
    answers: opts.answers ?? [],
  });
}

async function udpPeer(onQuery: (msg: Buffer, send: (b: Buffer) => void) => void): Promise<{ port: number; count: () => number }> {
  const sock: Socket = createSocket('udp4');
  let n = 0;
  sock.on('message', (msg, rinfo) => {
    n++;
    onQuery(msg, (b) => sock.send(b, rinfo.port, rinfo.address));
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  closers.push(() => new Promise((r) => sock.close(() => r())));
  return { port: sock.address().port, count: () => n };
}

async function tcpPeerOn(port: number, onQuery: (msg: Buffer) => Buffer): Promise<number> {
  const srv: Server = createServer((c) => c.on('data', tcpMessageReader((m) => c.write(frameTcp(onQuery(m))))));
  await new Promise<void>((r) => srv.listen(port, '127.0.0.1', () => r()));
  closers.push(() => new Promise((r) => srv.close(() => r())));
  return port;
}

const A = (name: string, ip: string): dnsPacket.Answer => ({ type: 'A', name, ttl: 60, data: ip });

describe('queryDns', () => {
  it('ignores replies with a wrong id or question and accepts the matching one', async () => {
    const peer = await udpPeer((msg, send) => {
      send(reply(msg, { id: (dnsPacket.decode(msg).id! + 1) & 0xffff, answers: [A('x.test', '192.0.2.66')] }));
      send(reply(msg, { name: 'other.test', answers: [A('other.test', '192.0.2.67')] }));
      send(reply(msg, { answers: [A('x.test', '198.51.100.1')] }));
    });
    const r = await queryDns({ host: '127.0.0.1', port: peer.port }, 'x.test', 'A');
    expect(r.rcode).toBe('NOERROR');
    expect(r.flags.aa).toBe(true);
    expect(r.transport).toBe('udp');
    expect(r.answers.map(rdataText)).toEqual(['198.51.100.1']);
  });

  it('retries over TCP when the UDP reply is truncated', async () => {
    const peer = await udpPeer((msg, send) => send(reply(msg, { tc: true })));
    await tcpPeerOn(peer.port, (m) => reply(m, { answers: [A('big.test', '198.51.100.2')] }));
    const r = await queryDns({ host: '127.0.0.1', port: peer.port }, 'big.test', 'A');
    expect(r.transport).toBe('tcp');
    expect(r.flags.tc).toBe(false);
    expect(r.answers.map(rdataText)).toEqual(['198.51.100.2']);
    expect(peer.count()).toBe(1);
  });

  it('times out with NG_DNS_TIMEOUT when nobody answers', async () => {
    const peer = await udpPeer(() => {});
    await expect(queryDns({ host: '127.0.0.1', port: peer.port }, 'x.test', 'A', { timeoutMs: 200 })).rejects.toMatchObject({ code: 'NG_DNS_TIMEOUT' });
    expect(peer.count()).toBe(1);
  });

  it('rejects a broken reply that carries our id with NG_DNS_MALFORMED', async () => {
    const peer = await udpPeer((msg, send) => {
      const b = Buffer.from(msg.subarray(0, 14));
      b[2] = 0x84; // QR=1 AA=1
      b.writeUInt16BE(1, 6); // claims one answer that is not there
      send(b);
    });
    await expect(queryDns({ host: '127.0.0.1', port: peer.port }, 'x.test', 'A', { timeoutMs: 1000 })).rejects.toMatchObject({ code: 'NG_DNS_MALFORMED' });
  });

  it('sends a random id and an EDNS0 OPT of 1232 by default, none with edns:false', async () => {
    const seen: dnsPacket.DecodedPacket[] = [];
    const peer = await udpPeer((msg, send) => {
      seen.push(dnsPacket.decode(msg));
      send(reply(msg));
    });
    await queryDns({ host: '127.0.0.1', port: peer.port }, 'x.test', 'TXT');
    await queryDns({ host: '127.0.0.1', port: peer.port }, 'x.test', 'TXT', { edns: false });
    expect(seen[0]!.additionals).toMatchObject([{ type: 'OPT', udpPayloadSize: 1232 }]);
    expect(seen[1]!.additionals).toEqual([]);
    expect(seen[0]!.flag_rd).toBe(false);
  });

  it('honours an already aborted signal', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(queryDns({ host: '127.0.0.1', port: 53 }, 'x.test', 'A', { signal: ac.signal })).rejects.toMatchObject({ code: 'NG_ABORTED' });
  });
});
