/**
 * UPnP IGD client (UPnP Device Architecture 1.1 §1 SSDP, §3 SOAP control; WANIPConnection:1 and :2,
 * WANPPPConnection:1). SSDP discovery (M-SEARCH to 239.255.255.250:1900) costs up to a couple of
 * seconds, so the description URL and control URL are cached for the life of the mapper and
 * discovery runs again only when the cached device stops answering.
 *
 * Every reply is hostile until parsed: sizes are capped, XML is read with a small bounded scanner
 * (no DTD, no entities beyond the five predefined), URLs must point at the router that answered.
 */
import { NodegateError } from '../../core/errors.ts';
import {
  defaultCreateSocket,
  grantedMapping,
  type CreateUdpSocket,
  type IoOptions,
  type MappingRequest,
  type PortMapper,
  type PortMapping,
} from './portmapper.ts';

export const SSDP_ADDRESS = '239.255.255.250';
export const SSDP_PORT = 1900;
/** How long to collect SSDP answers: routers answer in well under 1 s one hop away (MX=1). */
export const SSDP_WAIT_MS = 1_200;
/** HTTP timeout for description and SOAP calls to the router. */
export const UPNP_HTTP_TIMEOUT_MS = 2_000;
/** Largest description or SOAP body accepted (real ones are a few KiB). */
export const UPNP_MAX_BODY_BYTES = 64 * 1024;

const SEARCH_TARGETS = [
  'urn:schemas-upnp-org:device:InternetGatewayDevice:2',
  'urn:schemas-upnp-org:device:InternetGatewayDevice:1',
] as const;
const SERVICE_TYPES = [
  'urn:schemas-upnp-org:service:WANIPConnection:2',
  'urn:schemas-upnp-org:service:WANIPConnection:1',
  'urn:schemas-upnp-org:service:WANPPPConnection:1',
] as const;

/** UPnP error codes we act on (WANIPConnection:2 spec §2.4). */
export const UPNP_ERROR = {
  ActionFailed: 501,
  ConflictInMappingEntry: 718,
  NoSuchEntryInArray: 714,
  OnlyPermanentLeasesSupported: 725,
} as const;

export interface IgdService {
  /** Where the description came from. */
  location: string;
  serviceType: string;
  controlUrl: string;
}

function malformed(what: string): NodegateError {
  return new NodegateError('NG_NET_MALFORMED', `UPnP: the router sent ${what}.`, { details: { protocol: 'upnp' } });
}

/** Parses one SSDP response; returns the LOCATION URL or undefined when it is not an IGD answer. */
export function parseSsdpResponse(msg: Buffer, from: string): string | undefined {
  if (msg.length > 4096) throw malformed('an oversized SSDP answer');
  const text = msg.toString('latin1');
  if (!/^HTTP\/1\.[01] 200/i.test(text)) return undefined;
  let location: string | undefined;
  let st: string | undefined;
  for (const line of text.split(/\r?\n/).slice(1)) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    const name = line.slice(0, i).trim().toLowerCase();
    const value = line.slice(i + 1).trim();
    if (name === 'location') location = value;
    else if (name === 'st') st = value;
  }
  if (!location || !st || !/InternetGatewayDevice|WANIPConnection|WANPPPConnection/.test(st)) return undefined;
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    throw malformed('an SSDP LOCATION that is not a URL');
  }
  // the description must live on the router that answered: no third-party fetches (SSRF)
  if (url.protocol !== 'http:' || url.hostname !== from) throw malformed(`an SSDP LOCATION off the router (${url.hostname})`);
  return url.href;
}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

/** The text of every `<tag>` element (namespace prefixes ignored), entities decoded; bounded. */
export function xmlTexts(xml: string, tag: string): string[] {
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) throw malformed('XML with a DTD');
  const re = new RegExp(`<(?:[A-Za-z0-9_-]+:)?${tag}(?:\\s[^>]*)?>([^<]*)</(?:[A-Za-z0-9_-]+:)?${tag}\\s*>`, 'g');
  const out: string[] = [];
  for (const m of xml.matchAll(re)) {
    out.push(
      (m[1] ?? '').trim().replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, e: string) => {
        if (e[0] === '#') {
          const n = e[1] === 'x' || e[1] === 'X' ? Number.parseInt(e.slice(2), 16) : Number.parseInt(e.slice(1), 10);
          return n > 0 && n < 0x110000 ? String.fromCodePoint(n) : whole;
        }
        return ENTITIES[e] ?? whole;
      }),
    );
    if (out.length > 256) break;
  }
  return out;
}

/** Finds the WAN connection service in a device description. */
export function findIgdService(xml: string, location: string): IgdService {
  const blocks = xml.match(/<(?:[A-Za-z0-9_-]+:)?service(?:\s[^>]*)?>[\s\S]*?<\/(?:[A-Za-z0-9_-]+:)?service\s*>/g) ?? [];
  const base = xmlTexts(xml, 'URLBase')[0] || location;
  for (const wanted of SERVICE_TYPES) {
    for (const block of blocks.slice(0, 64)) {
      if (xmlTexts(block, 'serviceType')[0] !== wanted) continue;
      const control = xmlTexts(block, 'controlURL')[0];
      if (!control) throw malformed('a service without controlURL');
      let url: URL;
      try {
        url = new URL(control, base);
      } catch {
        throw malformed('a controlURL that is not a URL');
      }
      if (url.protocol !== 'http:' || url.hostname !== new URL(location).hostname) throw malformed(`a controlURL off the router (${url.hostname})`);
      return { location, serviceType: wanted, controlUrl: url.href };
    }
  }
  throw new NodegateError('NG_NET_UPNP_UNAVAILABLE', 'UPnP: the router describes no WAN connection service.', { details: { protocol: 'upnp' } });
}

/** Parses a SOAP response body: the named fields, or a coded error for a UPnP fault. */
export function parseSoapResponse(status: number, xml: string, action: string, fields: readonly string[]): Record<string, string> {
  if (xml.length > UPNP_MAX_BODY_BYTES) throw malformed('an oversized SOAP reply');
  if (/<(?:[A-Za-z0-9_-]+:)?Fault[\s>]/.test(xml) || status >= 400) {
    const code = Number(xmlTexts(xml, 'errorCode')[0]);
    const description = xmlTexts(xml, 'errorDescription')[0] ?? '';
    if (!Number.isInteger(code)) throw malformed(`an HTTP ${status} SOAP reply without an error code`);
    throw new NodegateError('NG_NET_UPNP', `UPnP: the router refused ${action} (error ${code}${description ? ` ${description.slice(0, 80)}` : ''}).`, {
      details: { protocol: 'upnp', action, upnpCode: code },
    });
  }
  if (!new RegExp(`<(?:[A-Za-z0-9_-]+:)?${action}Response[\\s>/]`).test(xml)) throw malformed(`a reply without ${action}Response`);
  const out: Record<string, string> = {};
  for (const f of fields) out[f] = xmlTexts(xml, f)[0] ?? '';
  return out;
}

/** The arguments of AddPortMapping and of AddAnyPortMapping (the same eight, in the same order). */
function addMappingArgs(request: MappingRequest, internalClient: string, leaseS: number): [string, string | number][] {
  return [
    ['NewRemoteHost', ''],
    ['NewExternalPort', request.externalPort],
    ['NewProtocol', request.protocol.toUpperCase()],
    ['NewInternalPort', request.internalPort],
    ['NewInternalClient', internalClient],
    ['NewEnabled', 1],
    ['NewPortMappingDescription', request.description ?? 'nodegate'],
    ['NewLeaseDuration', leaseS],
  ];
}

export interface UpnpOptions {
  /** The node's LAN address (NewInternalClient). */
  internalClient: string;
  createSocket?: CreateUdpSocket;
  fetch?: typeof fetch;
  now?: () => number;
  /** A fixed description URL: SSDP never runs (a router known by configuration). */
  location?: string;
  /**
   * The description URL found by an earlier run (saved in DATA/reach/state.json): tried first, and
   * SSDP runs only when it stops answering (routers often change port on reboot).
   */
  locationHint?: string;
}

export class UpnpMapper implements PortMapper {
  readonly method = 'upnp' as const;
  private service: IgdService | undefined;
  private hint: string | undefined;
  private readonly fetchImpl: typeof fetch;
  private readonly now: () => number;
  /** How many SSDP searches ran (tests assert the cache works). */
  discoveries = 0;

  constructor(private readonly options: UpnpOptions) {
    this.fetchImpl = options.fetch ?? fetch;
    this.hint = options.locationHint;
    this.now = options.now ?? Date.now;
  }

  /** The cached description URL, for persisting across restarts. */
  get location(): string | undefined {
    return this.service?.location ?? this.options.location;
  }

  /** SSDP M-SEARCH; resolves with the first IGD description URL. */
  async discover(io: IoOptions = {}): Promise<string> {
    this.discoveries++;
    const socket = (this.options.createSocket ?? defaultCreateSocket)('udp4');
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    try {
      return await new Promise<string>((resolve, reject) => {
        onAbort = () => reject(new NodegateError('NG_ABORTED', 'UPnP discovery cancelled.'));
        if (io.signal?.aborted) return onAbort();
        io.signal?.addEventListener('abort', onAbort, { once: true });
        socket.on('error', (err) => reject(new NodegateError('NG_NET_UPNP_UNAVAILABLE', `UPnP: SSDP failed: ${err.message}`, { cause: err })));
        socket.on('message', (msg, rinfo) => {
          try {
            const location = parseSsdpResponse(msg, rinfo.address);
            if (location) resolve(location);
          } catch {
            // a hostile or broken answer: keep listening for the real router
          }
        });
        socket.bind(0, () => {
          for (const st of SEARCH_TARGETS) {
            const m = `M-SEARCH * HTTP/1.1\r\nHOST: ${SSDP_ADDRESS}:${SSDP_PORT}\r\nMAN: "ssdp:discover"\r\nMX: 1\r\nST: ${st}\r\n\r\n`;
            socket.send(m, SSDP_PORT, SSDP_ADDRESS);
          }
          timer = setTimeout(
            () => reject(new NodegateError('NG_NET_UPNP_UNAVAILABLE', `UPnP: no router answered SSDP within ${SSDP_WAIT_MS} ms. UPnP is off or not offered on this network.`, { details: { protocol: 'upnp' } })),
            SSDP_WAIT_MS,
          );
        });
      });
    } finally {
      if (onAbort) io.signal?.removeEventListener('abort', onAbort); // the signal outlives this discovery
      clearTimeout(timer);
      try {
        socket.close();
      } catch {
        // already closed
      }
    }
  }

  private async httpText(url: string, init: RequestInit, io: IoOptions): Promise<{ status: number; text: string }> {
    const signal = io.signal ? AbortSignal.any([io.signal, AbortSignal.timeout(UPNP_HTTP_TIMEOUT_MS)]) : AbortSignal.timeout(UPNP_HTTP_TIMEOUT_MS);
    let res: Response;
    try {
      res = await this.fetchImpl(url, { ...init, signal, redirect: 'error' });
    } catch (err) {
      const code = io.signal?.aborted ? 'NG_ABORTED' : signal.aborted ? 'NG_NET_TIMEOUT' : 'NG_NET_UPNP_UNAVAILABLE';
      throw new NodegateError(code, `UPnP: ${url} did not answer.`, { cause: err, details: { protocol: 'upnp' } });
    }
    const reader = res.body?.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    if (reader) {
      try {
        for (;;) {
          const { done, value } = (await reader.read()) as { done: boolean; value: Uint8Array };
          if (done) break;
          size += value.byteLength;
          if (size > UPNP_MAX_BODY_BYTES) throw malformed(`a body over ${UPNP_MAX_BODY_BYTES} bytes`);
          chunks.push(value);
        }
      } catch (err) {
        await reader.cancel().catch(() => undefined);
        if (err instanceof NodegateError) throw err;
        throw new NodegateError(signal.aborted ? 'NG_NET_TIMEOUT' : 'NG_NET_UPNP_UNAVAILABLE', `UPnP: reading ${url} failed.`, { cause: err, details: { protocol: 'upnp' } });
      }
    }
    return { status: res.status, text: Buffer.concat(chunks).toString('utf8') };
  }

  private async resolveService(io: IoOptions): Promise<IgdService> {
    if (this.service) return this.service;
    const location = this.options.location ?? this.hint ?? (await this.discover(io));
    const { status, text } = await this.httpText(location, { method: 'GET' }, io);
    if (status !== 200) throw new NodegateError('NG_NET_UPNP_UNAVAILABLE', `UPnP: the description at ${location} answered HTTP ${status}.`, { details: { protocol: 'upnp' } });
    this.service = findIgdService(text, location);
    return this.service;
  }

  /** One SOAP action; on a dead cached device, rediscovers once. */
  async soap(action: string, args: [string, string | number][], fields: readonly string[], io: IoOptions = {}): Promise<Record<string, string>> {
    for (let attempt = 0; ; attempt++) {
      let service: IgdService;
      try {
        service = await this.resolveService(io);
      } catch (err) {
        const stale = this.hint !== undefined && err instanceof NodegateError && (err.code === 'NG_NET_UPNP_UNAVAILABLE' || err.code === 'NG_NET_TIMEOUT');
        if (!stale || attempt > 0) throw err;
        this.hint = undefined; // the saved description URL is dead (router rebooted on a new port)
        continue;
      }
      const body =
        `<?xml version="1.0"?>\r\n<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">` +
        `<s:Body><u:${action} xmlns:u="${service.serviceType}">` +
        args.map(([k, v]) => `<${k}>${String(v).replace(/[<>&]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;' })[c]!)}</${k}>`).join('') +
        `</u:${action}></s:Body></s:Envelope>\r\n`;
      try {
        const { status, text } = await this.httpText(
          service.controlUrl,
          { method: 'POST', headers: { 'content-type': 'text/xml; charset="utf-8"', soapaction: `"${service.serviceType}#${action}"` }, body },
          io,
        );
        return parseSoapResponse(status, text, action, fields);
      } catch (err) {
        const unreachable = err instanceof NodegateError && (err.code === 'NG_NET_UPNP_UNAVAILABLE' || err.code === 'NG_NET_TIMEOUT');
        if (!unreachable || attempt > 0 || this.options.location) throw err;
        this.service = undefined; // the router moved (new port after reboot): search again once
        this.hint = undefined;
      }
    }
  }

  async externalAddress(io: IoOptions = {}): Promise<string | null> {
    const r = await this.soap('GetExternalIPAddress', [], ['NewExternalIPAddress'], io);
    const a = r.NewExternalIPAddress ?? '';
    if (a === '') return null; // miniupnpd behind another NAT: "not suitable for external IP"
    if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(a)) throw malformed(`an external address that is not IPv4 (${a.slice(0, 40)})`);
    return a;
  }

  async map(request: MappingRequest, io: IoOptions = {}): Promise<PortMapping> {
    const add = (lease: number) => this.soap('AddPortMapping', addMappingArgs(request, this.options.internalClient, lease), [], io);
    let lifetimeS = request.lifetimeS;
    let externalPort = request.externalPort;
    try {
      await add(lifetimeS);
    } catch (err) {
      const code = err instanceof NodegateError ? err.details?.upnpCode : undefined;
      if (code === UPNP_ERROR.OnlyPermanentLeasesSupported) {
        lifetimeS = 0; // the router demands it (IGDv1 routers): permanent, removed on shutdown
        await add(0);
      } else if (code === UPNP_ERROR.ActionFailed) {
        // miniupnpd answers 501 when its own WAN address is not public: a NAT in front of it
        throw new NodegateError('NG_NET_MAPPING_REFUSED', 'UPnP: the router cannot forward ports because it is itself behind another NAT.', {
          cause: err,
          details: { protocol: 'upnp', reason: 'not-public', upnpCode: code },
        });
      } else if (code === UPNP_ERROR.ConflictInMappingEntry && this.service?.serviceType.endsWith(':2')) {
        // IGDv2: let the router pick a free public port (WANIPConnection:2 §2.5.16)
        const r = await this.soap('AddAnyPortMapping', addMappingArgs(request, this.options.internalClient, lifetimeS), ['NewReservedPort'], io);
        const reserved = Number(r.NewReservedPort);
        if (!Number.isInteger(reserved) || reserved < 1 || reserved > 65535) throw malformed(`a reserved port that is not a port (${String(r.NewReservedPort).slice(0, 20)})`);
        externalPort = reserved;
      } else if (code === UPNP_ERROR.ConflictInMappingEntry) {
        throw new NodegateError('NG_NET_MAPPING_REFUSED', `UPnP: public port ${request.externalPort} is already forwarded to another device.`, {
          cause: err,
          details: { protocol: 'upnp', reason: 'conflict', upnpCode: code },
        });
      } else throw err;
    }
    let externalAddress: string | null = null;
    try {
      externalAddress = await this.externalAddress(io);
    } catch {
      // informative only
    }
    return grantedMapping('upnp', request, { externalPort, externalAddress, lifetimeS, grantedAt: this.now() });
  }

  async check(mapping: PortMapping, io: IoOptions = {}): Promise<boolean> {
    try {
      const r = await this.soap(
        'GetSpecificPortMappingEntry',
        [
          ['NewRemoteHost', ''],
          ['NewExternalPort', mapping.externalPort],
          ['NewProtocol', mapping.protocol.toUpperCase()],
        ],
        ['NewInternalPort', 'NewInternalClient', 'NewEnabled'],
        io,
      );
      return r.NewInternalClient === this.options.internalClient && Number(r.NewInternalPort) === mapping.internalPort;
    } catch (err) {
      if (err instanceof NodegateError && err.details?.upnpCode === UPNP_ERROR.NoSuchEntryInArray) return false;
      throw err;
    }
  }

  async unmap(mapping: PortMapping, io: IoOptions = {}): Promise<void> {
    try {
      await this.soap(
        'DeletePortMapping',
        [
          ['NewRemoteHost', ''],
          ['NewExternalPort', mapping.externalPort],
          ['NewProtocol', mapping.protocol.toUpperCase()],
        ],
        [],
        io,
      );
    } catch (err) {
      if (err instanceof NodegateError && err.details?.upnpCode === UPNP_ERROR.NoSuchEntryInArray) return;
      throw err;
    }
  }
}
