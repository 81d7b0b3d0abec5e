/**
 * Pairing a wallet: the lndconnect URI and its QR code.
 *
 * lndconnect (https://github.com/LN-Zap/lndconnect/blob/master/lnd_connect_uri.md):
 *   lndconnect://<host>:<port>?macaroon=<base64url macaroon bytes>[&cert=<base64url DER>]
 * base64url is RFC 4648 §5 without padding. Here the "macaroon" is a nodegate token: the wallet
 * decodes it to bytes and sends them hex-encoded in `Grpc-Metadata-macaroon`, which the gateway
 * accepts in place of a macaroon. `cert` is only added when the served certificate is not publicly
 * trusted (the self-signed fallback); a wallet pins that certificate instead of trusting the roots.
 */
import { X509Certificate } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import type QRCode from 'qrcode';

export interface LndconnectInput {
  /** DNS name, IPv4, IPv6 (bracketed in the URI) or `xyz.onion`. */
  host: string;
  port: number;
  /** The API token (a JWT string) the wallet will present. */
  token: string;
  /** PEM of the served certificate; pass it ONLY when it is not publicly trusted. */
  certPem?: string;
}

/**
 * `lndconnect://host:port?macaroon=…[&cert=…]`.
 * @example lndconnectUri({ host: 'abc.example', port: 8080, token: 'eyJ…' })
 *   // 'lndconnect://abc.example:8080?macaroon=ZXlK4oCm'
 */
export function lndconnectUri(input: LndconnectInput): string {
  const { host, port, token, certPem } = input;
  if (!host || /[\s/?#@]/.test(host)) throw new TypeError(`lndconnectUri: invalid host "${host}"`);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new TypeError(`lndconnectUri: invalid port ${port}`);
  if (!token) throw new TypeError('lndconnectUri: token is required');
  const hostPart = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  let uri = `lndconnect://${hostPart}:${port}?macaroon=${Buffer.from(token, 'utf8').toString('base64url')}`;
  if (certPem !== undefined) uri += `&cert=${pemToDer(certPem).toString('base64url')}`;
  return uri;
}

/** DER bytes of the first certificate in `pem` (validated by parsing it). */
export function pemToDer(pem: string): Buffer {
  try {
    return new X509Certificate(pem).raw;
  } catch (err) {
    throw new TypeError('lndconnectUri: certPem is not a PEM certificate', { cause: err });
  }
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * True when `chainPem` (leaf first, then intermediates) chains to one of `roots` (default: Node's
 * bundled Mozilla root store, what phones trust too): each certificate is issued and signed by the
 * next, the last by a root, and the leaf is within its validity at `now`. A self-signed fallback or
 * a test CA's certificate (pebble) gives false, so the lndconnect URI then carries the certificate.
 */
export function isPubliclyTrusted(chainPem: string, options: { roots?: readonly string[]; now?: number } = {}): boolean {
  let chain: X509Certificate[];
  try {
    chain = (chainPem.match(PEM_CERTIFICATE) ?? []).map((pem) => new X509Certificate(pem));
  } catch {
    return false;
  }
  const leaf = chain[0];
  if (!leaf) return false;
  const now = options.now ?? Date.now();
  if (now < Date.parse(leaf.validFrom) || now > Date.parse(leaf.validTo)) return false;
  for (let i = 0; i + 1 < chain.length; i++) {
    const child = chain[i]!;
    const parent = chain[i + 1]!;
    if (!child.checkIssued(parent) || !child.verify(parent.publicKey)) return false;
  }
  const top = chain[chain.length - 1]!;
  for (const pem of options.roots ?? rootCertificates) {
    let root: X509Certificate;
    try {
      root = new X509Certificate(pem);
    } catch {
      continue;
    }
    if (top.checkIssued(root) && top.verify(root.publicKey)) return true;
    if (top.fingerprint256 === root.fingerprint256) return true; // the chain includes the root itself
  }
  return false;
}

/**
 * Error correction: M (15 %) for short URIs; L (7 %) once a certificate makes the URI long, so the
 * code stays at a version a phone camera reads from a screen.
 */
const LONG_URI_CHARS = 600;

function correctionFor(text: string): 'L' | 'M' {
  return text.length > LONG_URI_CHARS ? 'L' : 'M';
}

/** qrcode is loaded on first use: the daemon draws a QR code only when the owner pairs a wallet. */
async function qrcode(): Promise<typeof QRCode> {
  const mod = (await import('qrcode')) as typeof QRCode & { default?: typeof QRCode };
  return mod.default ?? mod; // CommonJS: node puts module.exports on default
}

/** An SVG QR code of `text`, to inline in a page (no script, scales with CSS). */
export async function qrSvg(text: string): Promise<string> {
  const svg = await (await qrcode()).toString(text, { type: 'svg', errorCorrectionLevel: correctionFor(text), margin: 2, color: { dark: '#000000', light: '#ffffff' } });
  return svg.replace('<svg ', '<svg role="img" aria-label="QR code" ');
}

/** A QR code of `text` drawn with block characters, for `nodegate pair` in a terminal. */
export async function qrTerminal(text: string): Promise<string> {
  return (await qrcode()).toString(text, { type: 'terminal', small: true, errorCorrectionLevel: correctionFor(text) });
}
