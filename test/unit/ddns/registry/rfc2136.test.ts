/** Rfc2136Backend against scripted TCP peers: what it must NOT believe, and its error codes. */
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:net';
import { frameTcp, tcpMessageReader } from '../../../../ddns/dns-client.ts';
import { Rfc2136Backend } from '../../../../ddns/registry/rfc2136.ts';
import { findTsig, signMessage, type TsigKey } from '../../../../ddns/tsig.ts';

const key: TsigKey = { name: 'k', algorithm: 'hmac-sha256', secret: Buffer.alloc(32, 3).toString('base64') };
const DEVICE = { id: 'abc', ipv4: '198.51.100.1', ipv6: null, lan: null, acmeTxt: ['t'] };
const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

/** A peer that answers every UPDATE with `reply(request)` (null: never answers). */
async function peer(reply: (req: Buffer) => Buffer | null): Promise<{ host: string; port: number; requests: Buffer[] }> {
  const requests: Buffer[] = [];
  const srv = createServer((c) => {
    c.on('error', () => c.destroy());
    c.on(
      'data',
      tcpMessageReader((m) => {
        requests.push(m);
        const r = reply(m);
        if (r) c.write(frameTcp(r));
      }),
    );
  });
  servers.push(srv);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const addr = srv.address();
  return { host: '127.0.0.1', port: typeof addr === 'object' && addr ? addr.port : 0, requests };
}

/** The reply header for `req`: QR set, opcode UPDATE, given rcode, zone section echoed. */
function replyTo(req: Buffer, rcode: number): Buffer {
  const tsig = findTsig(req)!;
  const head = Buffer.from(req.subarray(0, tsig.start));
  const zoneEnd = head.indexOf(0, 12) + 5;
  const out = Buffer.from(head.subarray(0, zoneEnd));
  out[2] = 0x80 | (5 << 3);
  out[3] = rcode;
  out.writeUInt16BE(0, 6);
  out.writeUInt16BE(0, 8);
  out.writeUInt16BE(0, 10);
  return out;
}

describe('Rfc2136Backend', () => {
  it('sends one signed UPDATE that deletes the four names of the device, then adds', async () => {
    const p = await peer((req) => signMessage(replyTo(req, 0), key, { requestMac: findTsig(req)!.mac }).message);
    await new Rfc2136Backend({ server: p, zone: 'z.example', tsig: key }).putDevice(DEVICE);
    expect(p.requests).toHaveLength(1);
    const req = p.requests[0]!;
    expect([(req[2]! >> 3) & 0xf, req.readUInt16BE(4), req.readUInt16BE(8), req.readUInt16BE(10)]).toEqual([5, 1, 4 + 3, 1]);
  });

  it('does not believe an unsigned NOERROR (NG_DNS_TSIG_MISSING)', async () => {
    const p = await peer((req) => replyTo(req, 0));
    await expect(new Rfc2136Backend({ server: p, zone: 'z.example', tsig: key }).putDevice(DEVICE)).rejects.toMatchObject({ code: 'NG_DNS_TSIG_MISSING' });
  });

  it('does not believe a NOERROR signed with another secret or not chained to our request (NG_DNS_TSIG_BADSIG)', async () => {
    const other = { ...key, secret: Buffer.alloc(32, 4).toString('base64') };
    const p1 = await peer((req) => signMessage(replyTo(req, 0), other, { requestMac: findTsig(req)!.mac }).message);
    await expect(new Rfc2136Backend({ server: p1, zone: 'z.example', tsig: key }).putDevice(DEVICE)).rejects.toMatchObject({ code: 'NG_DNS_TSIG_BADSIG' });
    const p2 = await peer((req) => signMessage(replyTo(req, 0), key).message);
    await expect(new Rfc2136Backend({ server: p2, zone: 'z.example', tsig: key }).putDevice(DEVICE)).rejects.toMatchObject({ code: 'NG_DNS_TSIG_BADSIG' });
  });

  it('maps signed failures: REFUSED → NG_DNS_UPDATE_REFUSED, SERVFAIL → NG_DNS_UPDATE_FAILED', async () => {
    const refused = await peer((req) => signMessage(replyTo(req, 5), key, { requestMac: findTsig(req)!.mac }).message);
    await expect(new Rfc2136Backend({ server: refused, zone: 'z.example', tsig: key }).removeDevice('abc')).rejects.toMatchObject({ code: 'NG_DNS_UPDATE_REFUSED' });
    const servfail = await peer((req) => signMessage(replyTo(req, 2), key, { requestMac: findTsig(req)!.mac }).message);
    await expect(new Rfc2136Backend({ server: servfail, zone: 'z.example', tsig: key }).removeDevice('abc')).rejects.toMatchObject({ code: 'NG_DNS_UPDATE_FAILED' });
  });

  it('gives up after timeoutMs with NG_DNS_TIMEOUT, and honours an abort signal', async () => {
    const p = await peer(() => null);
    const backend = new Rfc2136Backend({ server: p, zone: 'z.example', tsig: key, timeoutMs: 200 });
    await expect(backend.putDevice(DEVICE)).rejects.toMatchObject({ code: 'NG_DNS_TIMEOUT' });
    const ac = new AbortController();
    const pending = backend.putDevice(DEVICE, { signal: ac.signal });
    setTimeout(() => ac.abort(), 20);
    await expect(pending).rejects.toMatchObject({ code: 'NG_ABORTED' });
  });

  it('rejects a bad key at construction with a TypeError', () => {
    expect(() => new Rfc2136Backend({ server: { host: '127.0.0.1', port: 53 }, zone: 'z.example', tsig: { ...key, algorithm: 'hmac-md5' as 'hmac-sha256' } })).toThrow(TypeError);
  });
});
