/**
 * Outbound connections through tor's SOCKS port (RFC 1928 SOCKS5 with the hostname sent to tor, so
 * no DNS query leaves the machine), for Tor-only mode. Uses the `socks` package.
 *
 * Tor's SOCKS extended errors (tor spec socks-extensions §3, "Extended error codes", e.g. 0xF4
 * "onion service descriptor cannot be decrypted: client authorisation missing") are kept in the
 * error's details.
 */
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { connect as netConnect, type Socket } from 'node:net';
import { SocksClient } from 'socks';
import { Agent, type Dispatcher, type buildConnector } from 'undici';
import { NodegateError, messageOf } from '../core/errors.ts';

/** Building a circuit and reaching an onion can take tens of seconds on a fresh tor. */
export const SOCKS_CONNECT_TIMEOUT_MS = 60_000;

export interface SocksEndpoint {
  host: string;
  port: number;
}

/**
 * Opens a TCP stream to `host:port` through tor. On refusal: NG_TOR_COMMAND with
 * `details.socksReply` (the SOCKS5 REP byte, e.g. 0xF4 for missing client authorisation).
 */
export async function socksConnect(socks: SocksEndpoint, host: string, port: number, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<Socket> {
  options.signal?.throwIfAborted();
  const timeoutMs = options.timeoutMs ?? SOCKS_CONNECT_TIMEOUT_MS;
  // We open the TCP stream ourselves to read the reply byte: the `socks` package names only the
  // RFC 1928 codes, and tor's extended codes (0xF0–0xF7) are the ones that explain onion failures.
  const raw = netConnect({ host: socks.host, port: socks.port });
  const seen: number[] = [];
  const tap = (chunk: Buffer) => {
    for (const b of chunk) if (seen.length < 8) seen.push(b);
  };
  raw.on('data', tap);
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no connection to tor's SOCKS port within ${timeoutMs} ms`)), timeoutMs);
      raw.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
      raw.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    const { socket } = await SocksClient.createConnection({
      proxy: { host: socks.host, port: socks.port, type: 5 },
      command: 'connect',
      destination: { host, port },
      timeout: timeoutMs,
      existing_socket: raw,
    });
    raw.off('data', tap);
    return socket;
  } catch (err) {
    raw.destroy();
    // seen = [05, method] then [05, REP, 00, ATYP, ...]: REP is the fourth byte received
    const reply = seen.length >= 4 ? seen[3] : undefined;
    throw new NodegateError('NG_TOR_COMMAND', `Tor could not connect to ${host}:${port}${reply === undefined ? '' : ` (SOCKS reply 0x${reply.toString(16)})`}: ${messageOf(err)}`, {
      cause: err,
      details: reply === undefined ? {} : { socksReply: reply },
    });
  }
}

/**
 * An undici dispatcher whose every connection goes through tor: pass it as `dispatcher` to
 * `fetch`/`request` in Tor-only mode. TLS is verified as usual (`tls` options pass through).
 */
export function createSocksDispatcher(socks: SocksEndpoint, options: { tls?: ConnectionOptions } = {}): Dispatcher {
  const connect: buildConnector.connector = (opts, callback) => {
    const port = Number(opts.port) || (opts.protocol === 'https:' ? 443 : 80);
    socksConnect(socks, opts.hostname, port).then(
      (raw) => {
        if (opts.protocol !== 'https:') {
          callback(null, raw);
          return;
        }
        const secure = tlsConnect({ socket: raw, servername: opts.servername ?? opts.hostname, ALPNProtocols: ['http/1.1'], ...options.tls });
        secure.once('secureConnect', () => callback(null, secure));
        secure.once('error', (err: Error) => callback(err, null));
      },
      (err: Error) => callback(err, null),
    );
  };
  return new Agent({ connect });
}
