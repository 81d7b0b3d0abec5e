import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { NodegateError } from '../../../../core/errors.ts';
import { findIgdService, parseSoapResponse, parseSsdpResponse, UpnpMapper, xmlTexts } from '../../../../ddns/client/upnp.ts';
import { fuzzBuffers, prng } from '../../../support/fuzz.ts';

const SSDP_OK = Buffer.from(
  'HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\nLOCATION: http://192.168.1.1:5000/rootDesc.xml\r\n\r\n',
);
const DESC = (control: string, type = 'urn:schemas-upnp-org:service:WANIPConnection:2') =>
  `<?xml version="1.0"?><root xmlns="urn:schemas-upnp-org:device-1-0"><device><deviceList><device><serviceList>` +
  `<service><serviceType>urn:schemas-upnp-org:service:WANCommonInterfaceConfig:1</serviceType><controlURL>/ctl/CmnIfCfg</controlURL></service>` +
  `<service><serviceType>${type}</serviceType><controlURL>${control}</controlURL></service>` +
  `</serviceList></device></deviceList></device></root>`;
const soapOk = (action: string, inner = '') =>
  `<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><u:${action}Response xmlns:u="urn:schemas-upnp-org:service:WANIPConnection:2">${inner}</u:${action}Response></s:Body></s:Envelope>`;
const soapFault = (code: number, desc: string) =>
  `<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail><UPnPError xmlns="urn:schemas-upnp-org:control-1-0"><errorCode>${code}</errorCode><errorDescription>${desc}</errorDescription></UPnPError></detail></s:Fault></s:Body></s:Envelope>`;

describe('UPnP parsing', () => {
  it('SSDP: takes LOCATION only from the router that answered', () => {
    expect(parseSsdpResponse(SSDP_OK, '192.168.1.1')).toBe('http://192.168.1.1:5000/rootDesc.xml');
    expect(() => parseSsdpResponse(SSDP_OK, '192.168.1.66')).toThrow(expect.objectContaining({ code: 'NG_NET_MALFORMED' }));
    expect(parseSsdpResponse(Buffer.from('NOTIFY * HTTP/1.1\r\n\r\n'), '192.168.1.1')).toBeUndefined();
  });

  it('description: picks WANIPConnection, resolves controlURL, refuses off-router URLs and DTDs', () => {
    expect(findIgdService(DESC('/ctl/IPConn'), 'http://192.168.1.1:5000/rootDesc.xml')).toEqual({
      location: 'http://192.168.1.1:5000/rootDesc.xml',
      serviceType: 'urn:schemas-upnp-org:service:WANIPConnection:2',
      controlUrl: 'http://192.168.1.1:5000/ctl/IPConn',
    });
    expect(() => findIgdService(DESC('http://10.9.9.9/x'), 'http://192.168.1.1:5000/d.xml')).toThrow(expect.objectContaining({ code: 'NG_NET_MALFORMED' }));
    expect(() => findIgdService('<!DOCTYPE x [<!ENTITY a "b">]>' + DESC('/c'), 'http://192.168.1.1/d.xml')).toThrow(expect.objectContaining({ code: 'NG_NET_MALFORMED' }));
    expect(() => findIgdService(DESC('/c', 'urn:x:service:Other:1'), 'http://192.168.1.1/d.xml')).toThrow(expect.objectContaining({ code: 'NG_NET_UPNP_UNAVAILABLE' }));
  });

  it('SOAP: fields, faults with their UPnP code, entities decoded', () => {
    expect(parseSoapResponse(200, soapOk('GetExternalIPAddress', '<NewExternalIPAddress>198.51.100.2</NewExternalIPAddress>'), 'GetExternalIPAddress', ['NewExternalIPAddress'])).toEqual({
      NewExternalIPAddress: '198.51.100.2',
    });
    expect(() => parseSoapResponse(500, soapFault(725, 'OnlyPermanentLeasesSupported'), 'AddPortMapping', [])).toThrow(
      expect.objectContaining({ code: 'NG_NET_UPNP', details: { protocol: 'upnp', action: 'AddPortMapping', upnpCode: 725 } }),
    );
    expect(xmlTexts('<a>x &amp; &lt;y&gt; &#65;</a>', 'a')).toEqual(['x & <y> A']);
  });

  it('fuzz: hostile SSDP and SOAP/XML give a coded error or are ignored, never a crash', () => {
    for (const b of fuzzBuffers([SSDP_OK], 3000, 1900)) {
      try {
        parseSsdpResponse(b, '192.168.1.1');
      } catch (err) {
        expect((err as NodegateError).code).toBe('NG_NET_MALFORMED');
      }
    }
    const rnd = prng(2);
    const pieces = ['<', '>', '</', 's:', 'Envelope', 'Body', 'Fault', 'errorCode', 'NewExternalIPAddress', '&amp;', '&#x0;', '&#99999999;', '<!DOCTYPE', '725', 'x', ' ', '"', 'Response', 'GetExternalIPAddressResponse', 'service', 'serviceType', 'controlURL', 'urn:schemas-upnp-org:service:WANIPConnection:1', '/ctl', 'http://192.168.1.1/'];
    const valid = [soapOk('GetExternalIPAddress', '<NewExternalIPAddress>1.2.3.4</NewExternalIPAddress>'), soapFault(501, 'ActionFailed'), DESC('/ctl/IPConn')];
    for (let i = 0; i < 3000; i++) {
      let text: string;
      if (i % 2) text = Array.from({ length: Math.floor(rnd() * 60) }, () => pieces[Math.floor(rnd() * pieces.length)]).join('');
      else {
        const v = valid[i % valid.length]!;
        const cut = Math.floor(rnd() * v.length);
        text = v.slice(0, cut) + pieces[Math.floor(rnd() * pieces.length)] + v.slice(cut + Math.floor(rnd() * 10));
      }
      for (const f of [
        () => parseSoapResponse(rnd() < 0.5 ? 200 : 500, text, 'GetExternalIPAddress', ['NewExternalIPAddress']),
        () => findIgdService(text, 'http://192.168.1.1/d.xml'),
      ]) {
        try {
          f();
        } catch (err) {
          expect(err).toBeInstanceOf(NodegateError);
          expect(['NG_NET_MALFORMED', 'NG_NET_UPNP', 'NG_NET_UPNP_UNAVAILABLE']).toContain((err as NodegateError).code);
        }
      }
    }
  });
});

describe('UpnpMapper against a router on loopback', () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));
  const calls: string[] = [];
  const start = (handle: (action: string, body: string, res: ServerResponse) => void) =>
    new Promise<string>((resolve) => {
      calls.length = 0;
      server = createServer((req: IncomingMessage, res) => {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () => {
          if (req.method === 'GET') {
            res.end(DESC('/ctl/IPConn'));
            return;
          }
          const action = /#(\w+)"/.exec(String(req.headers.soapaction))?.[1] ?? '?';
          calls.push(action);
          handle(action, body, res);
        });
      });
      server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server!.address() as AddressInfo).port}/rootDesc.xml`));
    });

  it('retries with a permanent lease only when the router demands it (725)', async () => {
    const location = await start((action, body, res) => {
      if (action === 'AddPortMapping' && !body.includes('<NewLeaseDuration>0<')) {
        res.statusCode = 500;
        res.end(soapFault(725, 'OnlyPermanentLeasesSupported'));
      } else if (action === 'GetExternalIPAddress') res.end(soapOk(action, '<NewExternalIPAddress>198.51.100.2</NewExternalIPAddress>'));
      else res.end(soapOk(action));
    });
    const m = new UpnpMapper({ internalClient: '192.168.1.10', location });
    const mapping = await m.map({ protocol: 'tcp', internalPort: 8443, externalPort: 8443, lifetimeS: 7200 });
    expect(mapping).toMatchObject({ lifetimeS: 0, externalAddress: '198.51.100.2' });
    expect(calls).toEqual(['AddPortMapping', 'AddPortMapping', 'GetExternalIPAddress']);
    expect(m.discoveries).toBe(0);
  });

  it('reads 501 as "the router is behind another NAT" and an empty external address as none', async () => {
    const location = await start((action, _body, res) => {
      if (action === 'AddPortMapping') {
        res.statusCode = 500;
        res.end(soapFault(501, 'Action Failed'));
      } else res.end(soapOk(action, '<NewExternalIPAddress></NewExternalIPAddress>'));
    });
    const m = new UpnpMapper({ internalClient: '192.168.1.10', location });
    expect(await m.externalAddress()).toBeNull();
    await expect(m.map({ protocol: 'tcp', internalPort: 8443, externalPort: 8443, lifetimeS: 7200 })).rejects.toMatchObject({
      code: 'NG_NET_MAPPING_REFUSED',
      details: { reason: 'not-public', upnpCode: 501 },
    });
  });

  it('a saved description URL skips SSDP; a dead one falls back to SSDP', async () => {
    const location = await start((action, _body, res) => res.end(soapOk(action, '<NewExternalIPAddress>198.51.100.2</NewExternalIPAddress>')));
    const m = new UpnpMapper({ internalClient: '192.168.1.10', locationHint: location });
    expect(await m.externalAddress()).toBe('198.51.100.2');
    expect(m.discoveries).toBe(0);
    const dead = new UpnpMapper({ internalClient: '192.168.1.10', locationHint: 'http://127.0.0.1:9/rootDesc.xml' });
    await expect(dead.externalAddress()).rejects.toMatchObject({ code: 'NG_NET_UPNP_UNAVAILABLE' });
    expect(dead.discoveries).toBe(1);
  });

  it('IGDv2: a public port taken by another device makes the router pick one (AddAnyPortMapping)', async () => {
    const location = await start((action, _body, res) => {
      if (action === 'AddPortMapping') {
        res.statusCode = 500;
        res.end(soapFault(718, 'ConflictInMappingEntry'));
      } else if (action === 'AddAnyPortMapping') res.end(soapOk(action, '<NewReservedPort>50443</NewReservedPort>'));
      else res.end(soapOk(action, '<NewExternalIPAddress>198.51.100.2</NewExternalIPAddress>'));
    });
    const m = new UpnpMapper({ internalClient: '192.168.1.10', location });
    const mapping = await m.map({ protocol: 'tcp', internalPort: 8443, externalPort: 8443, lifetimeS: 7200 });
    expect(mapping).toMatchObject({ externalPort: 50443, internalPort: 8443, lifetimeS: 7200 });
    expect(calls).toEqual(['AddPortMapping', 'AddAnyPortMapping', 'GetExternalIPAddress']);
  });

  it('check(): 714 means the mapping is gone; another client holding the port also counts as gone', async () => {
    let reply = soapFault(714, 'NoSuchEntryInArray');
    const location = await start((_action, _body, res) => {
      if (reply.includes('Fault')) res.statusCode = 500;
      res.end(reply);
    });
    const m = new UpnpMapper({ internalClient: '192.168.1.10', location });
    const mapping = { method: 'upnp' as const, protocol: 'tcp' as const, internalPort: 8443, externalPort: 8443, externalAddress: null, lifetimeS: 7200, grantedAt: 0 };
    expect(await m.check(mapping)).toBe(false);
    reply = soapOk('GetSpecificPortMappingEntry', '<NewInternalPort>8443</NewInternalPort><NewInternalClient>192.168.1.99</NewInternalClient>');
    expect(await m.check(mapping)).toBe(false);
    reply = soapOk('GetSpecificPortMappingEntry', '<NewInternalPort>8443</NewInternalPort><NewInternalClient>192.168.1.10</NewInternalClient>');
    expect(await m.check(mapping)).toBe(true);
    reply = soapFault(714, 'NoSuchEntryInArray');
    await m.unmap(mapping); // idempotent: a mapping already gone is not an error
    expect(calls.at(-1)).toBe('DeletePortMapping');
  });

  it('a router that never answers gives NG_NET_TIMEOUT; an oversized body NG_NET_MALFORMED', async () => {
    let mode: 'hang' | 'huge' = 'hang';
    const location = await start((_a, _b, res) => {
      if (mode === 'huge') res.end('<x>' + 'A'.repeat(200_000));
      // 'hang': never answers
    });
    const m = new UpnpMapper({ internalClient: '192.168.1.10', location });
    await expect(m.externalAddress()).rejects.toMatchObject({ code: 'NG_NET_TIMEOUT' });
    mode = 'huge';
    await expect(m.externalAddress()).rejects.toMatchObject({ code: 'NG_NET_MALFORMED' });
    server?.closeAllConnections();
  });
});
