/**
 * WebSocket pass-through (RFC 6455 section 4): the client's upgrade request is re-sent upstream with
 * rewritten headers, and the two sockets are joined only once the upstream answers
 * `101 Switching Protocols`. Until then nothing else the client sent travels upstream, so bytes
 * after the upgrade request cannot ride on an upgrade the upstream refused (e.g. as a second,
 * unchecked HTTP request on the same connection).
 */
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';

/** An upstream that does not send its response head within this is dropped. */
const UPSTREAM_HEAD_TIMEOUT_MS = 30_000;
/** Longest response head accepted from the upstream before giving up. */
const MAX_HEAD_BYTES = 16 * 1024;

export interface TunnelOptions {
  client: Duplex;
  upstream: Socket;
  /** The request line and headers to send, without the final empty line. */
  requestHead: string;
  /** Bytes the client sent after its request head (start of the WebSocket stream). */
  head: Buffer;
  /** Event on `upstream` that means it is ready to write ('connect' or 'secureConnect'). */
  readyEvent: 'connect' | 'secureConnect';
  /** Called once when the upstream failed before any byte reached the client. */
  onConnectError(err: Error): void;
  /** Registry of open sockets, for graceful stop. */
  open: Set<Duplex>;
}

/** Joins client and upstream after a 101; forwards a refusal as is and closes. */
export function tunnel(o: TunnelOptions): void {
  const { client, upstream, open } = o;
  let answered = false;
  let buffered = Buffer.alloc(0);
  const cleanup = () => {
    open.delete(client);
    open.delete(upstream);
    client.destroy();
    upstream.destroy();
  };
  const timer = setTimeout(() => upstream.destroy(Object.assign(new Error('upstream did not answer the upgrade'), { code: 'UND_ERR_HEADERS_TIMEOUT' })), UPSTREAM_HEAD_TIMEOUT_MS);
  open.add(client);
  open.add(upstream);
  upstream.once(o.readyEvent, () => {
    upstream.write(o.requestHead + '\r\n\r\n');
  });
  const onHead = (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    const end = buffered.indexOf('\r\n\r\n');
    if (end === -1) {
      if (buffered.length > MAX_HEAD_BYTES) upstream.destroy(new Error('upstream response head too large'));
      return;
    }
    upstream.off('data', onHead);
    clearTimeout(timer);
    answered = true;
    const switched = /^HTTP\/1\.[01] 101 /.test(buffered.subarray(0, 16).toString('latin1'));
    client.write(buffered);
    if (switched) {
      if (o.head.length > 0) upstream.write(o.head);
      client.pipe(upstream);
      upstream.pipe(client);
    } else {
      // refused: relay the rest of that one response, never anything more from the client
      upstream.pipe(client);
    }
  };
  upstream.on('data', onHead);
  upstream.on('error', (err) => {
    clearTimeout(timer);
    if (!answered) o.onConnectError(err);
    else cleanup();
  });
  client.on('error', cleanup);
  client.once('close', cleanup);
  upstream.once('close', () => {
    clearTimeout(timer);
    if (answered) cleanup();
  });
}

/** True for an upgrade to WebSocket, the only upgrade the gateway passes through. */
export function isWebSocketUpgrade(upgradeHeader: string | undefined): boolean {
  return typeof upgradeHeader === 'string' && upgradeHeader.trim().toLowerCase() === 'websocket';
}
