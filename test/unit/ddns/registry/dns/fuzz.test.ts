/**
 * Fuzzing the embedded server through its sockets: thousands of random and mutated packets over UDP
 * and TCP (seeded, bounded in count and time). No crash, no hang, every reply well-formed and
 * consistent with its query, no wrong data, and the server still answers correctly afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import * as dnsPacket from 'dns-packet';
import { buildQuery, frameTcp, queryDns, rdataText, tcpMessageReader } from '../../../../../ddns/dns-client.ts';
import { startEmbeddedDns, type EmbeddedDns } from '../../../../../ddns/registry/dns/server.ts';
import { prng } from '../../../../support/fuzz.ts';

const ZONE = 'dyn.example.net';
const D1 = 'aaaabbbbccccdddd';
const UDP_PACKETS = 18_000;
const TCP_PACKETS = 2_000;
const BATCH = 200;
/** A batch is done when no reply came for this long, ms (loopback replies take microseconds). */
const QUIET_MS = 25;
/** Hard bound per batch, ms. */
const BATCH_MAX_MS = 3_000;
const KNOWN = new Set(['198.51.100.7', '2001:db8::7', '192.168.1.10', '"tok-one"', '"tok-two"', '127.0.0.1', `ns1.${ZONE}`]);

let dns: EmbeddedDns;


const SEED = Number(process.env.NODEGATE_FUZZ_SEED ?? 20261124);
const rnd = prng(SEED);
const int = (n: number) => Math.floor(rnd() * n);

const corpus: Buffer[] = [];
for (const name of [`${D1}.${ZONE}`, `x.y.${D1}.${ZONE}`, `lan.${D1}.${ZONE}`, `_acme-challenge.${D1}.${ZONE}`, ZONE, `nope.${ZONE}`, 'example.org', `AaAa.${D1}.DYN.example.NET`]) {
  for (const type of ['A', 'AAAA', 'TXT', 'NS', 'SOA', 'ANY', 'MX']) {
    corpus.push(buildQuery(0, name, type), buildQuery(0, name, type, { edns: false }), buildQuery(0, name, type, { edns: 4096 }));
  }
}

function mutate(): Buffer {
  const kind = int(10);
  if (kind === 0) {
    const b = Buffer.alloc(int(600));
    for (let i = 0; i < b.length; i++) b[i] = int(256);
    return b;
  }
  const base = Buffer.from(corpus[int(corpus.length)]!);
  switch (kind) {
    case 1: // truncate
      return base.subarray(0, int(base.length));
    case 2: // extend with junk
      return Buffer.concat([base, Buffer.from(Array.from({ length: 1 + int(40) }, () => int(256)))]);
    case 3: // random section counts
      base.writeUInt16BE(int(4), 4 + 2 * int(4));
      return base;
    case 4: {
      // compression pointer in the question, possibly a loop
      const at = 12 + int(Math.max(1, base.length - 14));
      base[at] = 0xc0;
      base[at + 1] = int(2) ? 12 : at;
      return base;
    }
    case 5: // flags: QR, opcode, anything
      base[2] = int(256);
      base[3] = int(256);
      return base;
    default: {
      const flips = 1 + int(8);
      for (let i = 0; i < flips; i++) {
        const at = int(base.length);
        base[at] = int(3) ? base[at]! ^ (1 << int(8)) : int(256);
      }
      return base;
    }
  }
}

interface Check {
  replies: number;
  /** The first problems found (kept short). */
  problems: string[];
}

/** Checks one reply against the query that caused it; records problems instead of throwing. */
function checkReply(query: Buffer | undefined, reply: Buffer, tcp: boolean, c: Check): void {
  c.replies++;
  const problem = (what: string) => {
    if (c.problems.length < 10) c.problems.push(`${what} (query ${query?.toString('hex')}, reply ${reply.toString('hex')})`);
  };
  if (!query) return problem('reply to no query we sent');
  let d: dnsPacket.DecodedPacket;
  try {
    d = dnsPacket.decode(reply);
  } catch {
    return problem('reply not well-formed');
  }
  if (!d.flag_qr) problem('QR not set');
  if (reply.readUInt16BE(0) !== query.readUInt16BE(0)) problem('id mismatch');
  if ((query[2]! & 0x80) !== 0) problem('answered a response');
  let parsed: dnsPacket.DecodedPacket | null = null;
  try {
    parsed = dnsPacket.decode(query);
  } catch {
    parsed = null;
  }
  const hasOpt = parsed?.additionals?.some((a) => a.type === 'OPT') ?? false;
  if (!tcp && !hasOpt && reply.length > 512) problem('UDP reply over 512 bytes without EDNS');
  if (!tcp && reply.length > 1232) problem('UDP reply over 1232 bytes');
  if ((d.questions?.length ?? 0) === 1) {
    const qlen = reply.indexOf(0, 12) + 5 - 12;
    if (!reply.subarray(12, 12 + qlen).equals(query.subarray(12, 12 + qlen))) problem('question not echoed byte for byte');
  }
  for (const a of [...(d.answers ?? []), ...(d.additionals ?? [])]) {
    if (a.type === 'OPT' || a.type === 'SOA') continue;
    // Names compressed against the (mutated) question may come back in its case.
    if (!KNOWN.has(rdataText(a).toLowerCase())) problem(`unexpected ${a.type} ${rdataText(a)}`);
  }
}

beforeAll(async () => {
  dns = await startEmbeddedDns({ zone: ZONE, nameservers: [{ name: `ns1.${ZONE}`, ipv4: '127.0.0.1' }], udp: { host: '127.0.0.1', port: 0 } });
  await dns.backend.putDevice({ id: D1, ipv4: '198.51.100.7', ipv6: '2001:db8::7', lan: '192.168.1.10', acmeTxt: ['tok-one', 'tok-two'] });
});
afterAll(async () => {
  await dns?.close();
});

describe(`embedded DNS fuzzing (seed ${SEED})`, () => {
  it(`survives ${UDP_PACKETS} random and mutated UDP packets with well-formed, correct replies`, async () => {
    const sock = createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    sock.setRecvBufferSize(8 * 1024 * 1024);
    const c: Check = { replies: 0, problems: [] };
    const port = dns.address().udpPort;
    const sentById = new Map<number, Buffer>();
    try {
      for (let sent = 0; sent < UDP_PACKETS; sent += BATCH) {
        const batch: Buffer[] = [];
        for (let i = 0; i < BATCH; i++) {
          const p = mutate();
          // A unique id over the whole run pairs each reply, even a late one, with its query.
          if (p.length >= 2) p.writeUInt16BE(sent + i, 0);
          sentById.set(sent + i, p);
          batch.push(p);
        }
        await new Promise<void>((resolve) => {
          let quiet: NodeJS.Timeout | undefined;
          const hard = setTimeout(done, BATCH_MAX_MS);
          function done() {
            clearTimeout(hard);
            clearTimeout(quiet);
            sock.off('message', onMessage);
            resolve();
          }
          const onMessage = (m: Buffer) => {
            checkReply(sentById.get(m.readUInt16BE(0)), m, false, c);
            clearTimeout(quiet);
            quiet = setTimeout(done, QUIET_MS);
          };
          sock.on('message', onMessage);
          for (const p of batch) sock.send(p, port, '127.0.0.1');
          quiet = setTimeout(done, QUIET_MS * 5);
        });
      }
    } finally {
      sock.close();
    }
    expect(c.problems).toEqual([]);
    // Every packet with a full header that is a query gets an answer; most of the corpus does.
    expect(c.replies).toBeGreaterThan(UDP_PACKETS / 2);
    // Batches of 200 fit the default 208 KiB socket buffer: nothing is lost on loopback.
    expect(dns.stats().udpQueries).toBeGreaterThanOrEqual(UDP_PACKETS * 0.99);
    const ok = await queryDns({ host: '127.0.0.1', port }, `z.${D1}.${ZONE}`, 'AAAA');
    expect([ok.rcode, ok.answers.map(rdataText)]).toEqual(['NOERROR', ['2001:db8::7']]);
  });

  it(`survives ${TCP_PACKETS} mutated framed packets and raw junk over TCP`, async () => {
    const port = dns.address().tcpPort;
    const c: Check = { replies: 0, problems: [] };
    const perConnection = 200;
    for (let conn = 0; conn < TCP_PACKETS / perConnection; conn++) {
      const packets = Array.from({ length: perConnection }, (_, i) => {
        const p = mutate();
        if (p.length >= 2) p.writeUInt16BE(i, 0);
        return p;
      });
      const sent = new Map(packets.map((p, i) => [i, p] as const));
      await new Promise<void>((resolve, reject) => {
        const sock = connect(port, '127.0.0.1');
        let quiet: NodeJS.Timeout | undefined;
        const finish = (err?: Error) => {
          clearTimeout(hard);
          clearTimeout(quiet);
          sock.destroy();
          if (err) reject(err);
          else resolve();
        };
        const hard = setTimeout(() => finish(), BATCH_MAX_MS);
        sock.on('error', () => finish());
        sock.on('close', () => finish());
        sock.on(
          'data',
          tcpMessageReader((m) => {
            checkReply(sent.get(m.readUInt16BE(0)), m, true, c);
            clearTimeout(quiet);
            quiet = setTimeout(() => finish(), QUIET_MS);
          }),
        );
        sock.on('connect', () => {
          sock.write(Buffer.concat(packets.map((p) => frameTcp(p))));
          quiet = setTimeout(() => finish(), QUIET_MS * 5);
        });
      });
    }
    expect(c.problems).toEqual([]);
    expect(c.replies).toBeGreaterThan(TCP_PACKETS / 2);
    // A connection that sends a length prefix and then nothing does not block others.
    const stuck = connect(port, '127.0.0.1');
    stuck.write(Buffer.from([0xff, 0xff, 1, 2, 3]));
    try {
      const ok = await queryDns({ host: '127.0.0.1', port }, `lan.${D1}.${ZONE}`, 'A', { tcp: true });
      expect(ok.answers.map(rdataText)).toEqual(['192.168.1.10']);
    } finally {
      stuck.destroy();
    }
  });
});
