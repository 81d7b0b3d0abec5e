/**
 * Header hygiene for a proxy: hop-by-hop headers (RFC 9110 section 7.6.1) apply to one connection
 * only and are dropped in both directions, together with any header the `Connection` header names.
 * Copying `Connection`/`Keep-Alive` across broke keep-alive in earlier prototypes. Credentials meant
 * for the gateway (our token, the owner's cookie) never travel upstream.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-connection', 'proxy-authorization', 'proxy-authenticate', 'http2-settings', 'host']);

/** A Connection value that is one connection option (`keep-alive`, `close`), not a header name. */
const ONLY_OPTION = /^\s*(?:keep-alive|close)\s*$/i;

/** `Expect: 100-continue` is answered by node's server already; undici refuses to send it. */
const REQUEST_ONLY_DROPPED = new Set(['expect']);

/** Headers the client sent that must not reach LND: our token in either form, the owner cookie. */
const CLIENT_CREDENTIALS = new Set(['authorization', 'grpc-metadata-macaroon', 'cookie']);

function connectionListed(value: string | string[] | undefined): Set<string> | undefined {
  if (value === undefined) return undefined;
  // what nearly every peer sends: names no header, nothing to drop beyond the hop-by-hop set
  if (typeof value === 'string' && ONLY_OPTION.test(value)) return undefined;
  const text = Array.isArray(value) ? value.join(',') : value;
  const names = text
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s.length > 0);
  return names.length === 0 ? undefined : new Set(names);
}

function isDropped(name: string, listed: Set<string> | undefined): boolean {
  return HOP_BY_HOP.has(name) || name.startsWith('proxy-') || (listed !== undefined && listed.has(name));
}

/** Whether a client request header (lower-case name) goes upstream: the one rule both forms below share. */
function keptUpstream(name: string, listed: Set<string> | undefined, dropCredentials: boolean): boolean {
  return !isDropped(name, listed) && !REQUEST_ONLY_DROPPED.has(name) && !(dropCredentials && CLIENT_CREDENTIALS.has(name));
}

/** Request headers for the upstream, without hop-by-hop ones and (when `dropCredentials`) our credentials. */
export function upstreamRequestHeaders(headers: IncomingHttpHeaders, dropCredentials: boolean): Record<string, string | string[]> {
  const listed = connectionListed(headers.connection);
  const out: Record<string, string | string[]> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || !keptUpstream(name, listed, dropCredentials)) continue;
    out[name] = value;
  }
  return out;
}

/** Response headers for the client, without hop-by-hop ones. */
export function clientResponseHeaders(headers: Record<string, string | string[] | undefined>): OutgoingHttpHeaders {
  const listed = connectionListed(headers.connection);
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || isDropped(name, listed)) continue;
    out[name] = value;
  }
  return out;
}

/**
 * {@link upstreamRequestHeaders} from the raw list node keeps (`req.rawHeaders`: name, value, …),
 * as the flat list undici takes: no object is built per request and repeated headers stay apart.
 */
export function upstreamRequestHeaderList(raw: string[], connection: string | string[] | undefined, dropCredentials: boolean): string[] {
  const listed = connectionListed(connection);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (keptUpstream(name, listed, dropCredentials)) out.push(name, raw[i + 1]!);
  }
  return out;
}

/** {@link clientResponseHeaders} as the flat list `res.writeHead` takes (name, value, …). */
export function clientResponseHeaderList(headers: Record<string, string | string[] | undefined>): string[] {
  const listed = connectionListed(headers.connection);
  const out: string[] = [];
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || isDropped(name, listed)) continue;
    if (typeof value === 'string') out.push(name, value);
    else for (const v of value) out.push(name, v);
  }
  return out;
}
