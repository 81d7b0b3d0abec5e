import { describe, expect, it } from 'vitest';
import * as dnsPacket from 'dns-packet';
import { buildUpdate } from '../../../ddns/dns-update.ts';

describe('buildUpdate (RFC 2136)', () => {
  it('writes header, zone, prerequisites and updates byte for byte', () => {
    const msg = buildUpdate(
      0xbeef,
      'z.example',
      [
        { op: 'delete-rrset', name: 'a.z.example', type: 'A' },
        { op: 'delete-name', name: 'a.z.example' },
        { op: 'delete-rr', record: { type: 'A', name: 'a.z.example', ttl: 60, data: '192.0.2.1' } },
        { op: 'add', record: { type: 'TXT', name: 'a.z.example', ttl: 60, data: 'v' } },
      ],
      [{ op: 'name-not-in-use', name: 'b.z.example' }],
    );
    const zone = '017a076578616d706c6500';
    const a = '01610' + '17a076578616d706c6500';
    const b = '0162017a076578616d706c6500';
    expect(msg.toString('hex')).toBe(
      'beef' + '2800' + '0001' + '0001' + '0004' + '0000' +
        zone + '0006' + '0001' +
        b + '00ff' + '00fe' + '00000000' + '0000' + // prerequisite: name not in use (ANY, NONE)
        a + '0001' + '00ff' + '00000000' + '0000' + // delete RRset: class ANY, no rdata
        a + '00ff' + '00ff' + '00000000' + '0000' + // delete all RRsets at a name: type ANY class ANY
        a + '0001' + '00fe' + '00000000' + '0004' + 'c0000201' + // delete one RR: class NONE, TTL 0
        a + '0010' + '0001' + '0000003c' + '0002' + '0176', // add TXT
    );
    const decoded = dnsPacket.decode(msg) as dnsPacket.DecodedPacket & { opcode: string };
    expect(decoded.opcode).toBe('UPDATE');
    expect(decoded.questions).toEqual([{ name: 'z.example', type: 'SOA', class: 'IN' }]);
  });
});
