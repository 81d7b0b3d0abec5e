/** Rfc2136Backend against a real knotd: TSIG accepted, wrong keys refused with the right codes. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { queryDns, rdataText } from '../../../../ddns/dns-client.ts';
import { Rfc2136Backend } from '../../../../ddns/registry/rfc2136.ts';
import { startBind } from '../../../support/bind.ts';
import { startKnot, type KnotServer } from '../../../support/knot.ts';

const ZONE = 'dyn.example.net';
const DEVICE = { id: 'mmmmnnnnoooopppp', ipv4: '198.51.100.20', ipv6: null, lan: null, acmeTxt: [] };

describe('Rfc2136Backend with knot (hmac-sha512 key)', () => {
  let knot: KnotServer;
  beforeAll(async () => {
    knot = await startKnot({ zone: ZONE, tsig: { name: 'registry-key', algorithm: 'hmac-sha512', secret: randomBytes(64).toString('base64') } });
  });
  afterAll(async () => {
    await knot?.stop();
  });
  const server = () => ({ host: knot.host, port: knot.port });
  const serial = async () => {
    const soa = (await queryDns(server(), ZONE, 'SOA')).answers[0]!;
    return soa.type === 'SOA' ? soa.data.serial! : -1;
  };

  it('applies an update signed with the right key (and verifies the signed reply)', async () => {
    const backend = new Rfc2136Backend({ server: server(), zone: ZONE, tsig: knot.tsig });
    await backend.putDevice(DEVICE);
    const r = await queryDns(server(), `${DEVICE.id}.${ZONE}`, 'A');
    expect(r.answers.map(rdataText)).toEqual(['198.51.100.20']);
  });

  it('comes back BADSIG with a wrong secret and changes nothing', async () => {
    const before = await serial();
    const backend = new Rfc2136Backend({ server: server(), zone: ZONE, tsig: { ...knot.tsig, secret: randomBytes(64).toString('base64') } });
    await expect(backend.putDevice({ ...DEVICE, ipv4: '198.51.100.21' })).rejects.toMatchObject({ code: 'NG_DNS_TSIG_BADSIG' });
    expect(await serial()).toBe(before);
    expect((await queryDns(server(), `${DEVICE.id}.${ZONE}`, 'A')).answers.map(rdataText)).toEqual(['198.51.100.20']);
  });

  it('comes back BADKEY with an unknown key name or another algorithm', async () => {
    const unknown = new Rfc2136Backend({ server: server(), zone: ZONE, tsig: { ...knot.tsig, name: 'not-configured' } });
    await expect(unknown.removeDevice(DEVICE.id)).rejects.toMatchObject({ code: 'NG_DNS_TSIG_BADKEY' });
    const otherAlg = new Rfc2136Backend({ server: server(), zone: ZONE, tsig: { ...knot.tsig, algorithm: 'hmac-sha256' } });
    await expect(otherAlg.removeDevice(DEVICE.id)).rejects.toMatchObject({ code: 'NG_DNS_TSIG_BADKEY' });
  });

  it('is refused for a zone the server does not serve', async () => {
    const backend = new Rfc2136Backend({ server: server(), zone: 'other.example.org', tsig: knot.tsig });
    await expect(backend.putDevice(DEVICE)).rejects.toMatchObject({ code: 'NG_DNS_UPDATE_REFUSED' });
  });
});

describe('Rfc2136Backend with bind9', () => {
  it('applies a signed update, and a wrong secret comes back BADSIG', async () => {
    const bind = await startBind({ zone: ZONE });
    try {
      const server = { host: bind.host, port: bind.port };
      await new Rfc2136Backend({ server, zone: ZONE, tsig: bind.tsig }).putDevice(DEVICE);
      expect((await queryDns(server, `x.${DEVICE.id}.${ZONE}`, 'A')).answers.map(rdataText)).toEqual(['198.51.100.20']);
      const wrong = new Rfc2136Backend({ server, zone: ZONE, tsig: { ...bind.tsig, secret: randomBytes(32).toString('base64') } });
      await expect(wrong.removeDevice(DEVICE.id)).rejects.toMatchObject({ code: 'NG_DNS_TSIG_BADSIG' });
      expect((await queryDns(server, `${DEVICE.id}.${ZONE}`, 'A')).answers.map(rdataText)).toEqual(['198.51.100.20']);
    } finally {
      await bind.stop();
    }
  });
});
