/**
 * Tor control protocol client (typed, promise-based).
 *
 * Spec: torspec control-spec (https://spec.torproject.org/control-spec):
 *   §2.1  General-use tokens, §2.1.1 quoted strings and escapes (CString)
 *   §2.3  Replies: `NNN SP text` (end), `NNN-text` (mid), `NNN+text CRLF data CRLF . CRLF` (data,
 *         dot-stuffed), §2.5 asynchronous events (status 650, may arrive at any time)
 *   §3.3/§3.4 GETCONF/SETCONF, §3.4 SETEVENTS (§3.4 in 0.4.x numbering), §3.5 AUTHENTICATE,
 *   §3.7 SIGNAL, §3.9 GETINFO, §3.21 PROTOCOLINFO, §3.24 AUTHCHALLENGE (SAFECOOKIE),
 *   §3.27 ADD_ONION, §3.28 DEL_ONION, §3.30 ONION_CLIENT_AUTH_ADD,
 *   §4.1.10 STATUS_CLIENT (BOOTSTRAP), §4.1.25 HS_DESC, §5.1 controller-side bootstrap.
 *
 * Commands are serialized: one command is in flight at a time, and its reply is the next non-650
 * reply on the wire. A reply that does not arrive in time closes the connection (the stream could
 * not be re-synchronised) and every pending command fails with a coded error.
 */
import { createConnection, type Socket } from 'node:net';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { NodegateError, messageOf } from '../core/errors.ts';

/** One line of a reply wire form limited to this many bytes: tor's own lines stay far below it. */
export const MAX_LINE_BYTES = 64 * 1024;
/** A whole reply (including data blocks) is capped: GETINFO of our keys is kilobytes, not megabytes. */
export const MAX_REPLY_BYTES = 8 * 1024 * 1024;
/** Lines in one reply: protects against a hostile peer sending endless `250-` lines. */
export const MAX_REPLY_LINES = 100_000;
/** Connecting to a local control port or socket takes milliseconds; 10 s covers a loaded machine. */
export const CONNECT_TIMEOUT_MS = 10_000;
/** A command's reply: tor answers local commands at once; ADD_ONION does not wait for upload. */
export const COMMAND_TIMEOUT_MS = 30_000;

const SAFECOOKIE_SERVER_TO_CONTROLLER = 'Tor safe cookie authentication server-to-controller hash';
const SAFECOOKIE_CONTROLLER_TO_SERVER = 'Tor safe cookie authentication controller-to-server hash';
const COOKIE_LENGTH = 32; // §3.5: the cookie file holds exactly 32 bytes
const NONCE_LENGTH = 32;

/** One line of a reply: its status code, separator and text (and the data block for `+` lines). */
export interface ReplyLine {
  status: number;
  separator: ' ' | '-' | '+';
  text: string;
  /** For `+` lines: the data block, dot-unstuffed, lines joined with `\n`. */
  data?: string;
}

/** A complete reply: the status of its final line and every line. */
export interface ControlReply {
  status: number;
  lines: ReplyLine[];
}

// ---------------------------------------------------------------------------------------------
// Reply parser (§2.3)
// ---------------------------------------------------------------------------------------------

/**
 * Incremental reply parser. Feed it bytes as they arrive; it returns completed replies. Any
 * malformed input throws NG_TOR_PROTOCOL, after which the parser is unusable (the connection must
 * be closed: the stream cannot be trusted any more).
 */
export class ReplyParser {
  private pending: Buffer = Buffer.alloc(0);
  private lines: ReplyLine[] = [];
  private replyBytes = 0;
  private dataLine: ReplyLine | undefined;
  private dataChunks: string[] = [];
  private failed = false;

  /** True when part of a reply has been received but not its end. */
  get midReply(): boolean {
    return this.lines.length > 0 || this.dataLine !== undefined || this.pending.length > 0;
  }

  push(chunk: Buffer): ControlReply[] {
    if (this.failed) throw protocolError('the parser already failed on earlier input');
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const replies: ControlReply[] = [];
    try {
      let start = 0;
      for (;;) {
        const nl = this.pending.indexOf(0x0a, start);
        if (nl === -1) break;
        let end = nl;
        if (end > start && this.pending[end - 1] === 0x0d) end--;
        const lineLength = end - start;
        if (lineLength > MAX_LINE_BYTES) throw protocolError(`a reply line is longer than ${MAX_LINE_BYTES} bytes`);
        const line = this.pending.toString('latin1', start, end);
        start = nl + 1;
        const reply = this.line(line, lineLength + 2);
        if (reply) replies.push(reply);
      }
      this.pending = this.pending.subarray(start);
      if (this.pending.length > MAX_LINE_BYTES) throw protocolError(`a reply line is longer than ${MAX_LINE_BYTES} bytes`);
    } catch (err) {
      this.failed = true;
      throw err;
    }
    return replies;
  }

  private line(line: string, wireBytes: number): ControlReply | undefined {
    this.replyBytes += wireBytes;
    if (this.replyBytes > MAX_REPLY_BYTES) throw protocolError(`a reply is larger than ${MAX_REPLY_BYTES} bytes`);
    if (this.dataLine) {
      if (line === '.') {
        this.dataLine.data = this.dataChunks.join('\n');
        this.dataLine = undefined;
        this.dataChunks = [];
      } else {
        this.dataChunks.push(line.startsWith('.') ? line.slice(1) : line); // §2.3 dot-unstuffing
      }
      return undefined;
    }
    const m = /^([0-9]{3})([ +-])/.exec(line);
    if (!m) throw protocolError(`malformed reply line ${JSON.stringify(line.slice(0, 80))}`);
    const status = Number(m[1]);
    const separator = m[2] as ReplyLine['separator'];
    const first = this.lines[0];
    if (first && first.status !== status) {
      // §2.3: every line of one reply carries the same code; events never split a reply
      throw protocolError(`reply status changed from ${first.status} to ${status} mid-reply`);
    }
    if (this.lines.length >= MAX_REPLY_LINES) throw protocolError(`a reply has more than ${MAX_REPLY_LINES} lines`);
    const entry: ReplyLine = { status, separator, text: line.slice(4) };
    this.lines.push(entry);
    if (separator === '+') {
      this.dataLine = entry;
      return undefined;
    }
    if (separator === ' ') {
      const reply: ControlReply = { status, lines: this.lines };
      this.lines = [];
      this.replyBytes = 0;
      return reply;
    }
    return undefined;
  }
}

function protocolError(what: string): NodegateError {
  return new NodegateError('NG_TOR_PROTOCOL', `Tor's control port sent an invalid reply: ${what}. Check that the control address points at tor, not another service.`);
}

// ---------------------------------------------------------------------------------------------
// Tokens (§2.1, §2.1.1)
// ---------------------------------------------------------------------------------------------

/** Quotes a string for the control protocol (§2.1.1): backslash-escapes `"`, `\`, CR, LF, TAB. */
export function quoteString(value: string): string {
  return (
    '"' +
    value.replace(/[\\"\r\n\t]/g, (c) => ({ '\\': '\\\\', '"': '\\"', '\r': '\\r', '\n': '\\n', '\t': '\\t' })[c] ?? c) +
    '"'
  );
}

/** Reads a quoted string starting at `text[start] === '"'`; returns the value and the index after it. */
export function readQuotedString(text: string, start: number): { value: string; end: number } {
  if (text[start] !== '"') throw protocolError('expected a quoted string');
  let out = '';
  let i = start + 1;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') return { value: out, end: i + 1 };
    if (c === '\\') {
      const n = text[i + 1];
      if (n === undefined) break;
      if (/[0-7]/.test(n)) {
        const oct = /^[0-7]{1,3}/.exec(text.slice(i + 1, i + 4))![0];
        out += String.fromCharCode(parseInt(oct, 8) & 0xff);
        i += 1 + oct.length;
        continue;
      }
      out += ({ n: '\n', r: '\r', t: '\t' } as Record<string, string>)[n] ?? n;
      i += 2;
      continue;
    }
    out += c;
    i++;
  }
  throw protocolError('an unterminated quoted string');
}

/**
 * Parses `WORD WORD KEY=VALUE KEY="quoted value"` into positional words and keyword arguments.
 * Used for PROTOCOLINFO, AUTHCHALLENGE, ADD_ONION and event lines.
 */
export function parseArguments(text: string): { positional: string[]; keywords: Map<string, string> } {
  const positional: string[] = [];
  const keywords = new Map<string, string>();
  let i = 0;
  while (i < text.length) {
    if (text[i] === ' ') {
      i++;
      continue;
    }
    const kv = /^([A-Za-z0-9_-]+)=/.exec(text.slice(i, i + 256));
    if (kv) {
      const key = kv[1]!;
      i += kv[0].length;
      if (text[i] === '"') {
        const q = readQuotedString(text, i);
        keywords.set(key, q.value);
        i = q.end;
      } else {
        const sp = text.indexOf(' ', i);
        const end = sp === -1 ? text.length : sp;
        keywords.set(key, text.slice(i, end));
        i = end;
      }
      continue;
    }
    if (text[i] === '"') {
      const q = readQuotedString(text, i);
      positional.push(q.value);
      i = q.end;
      continue;
    }
    const sp = text.indexOf(' ', i);
    const end = sp === -1 ? text.length : sp;
    positional.push(text.slice(i, end));
    i = end;
  }
  return { positional, keywords };
}

// ---------------------------------------------------------------------------------------------
// Events (§4.1)
// ---------------------------------------------------------------------------------------------

/** §4.1.10 STATUS_CLIENT BOOTSTRAP: progress in percent (0–100), tag and summary. */
export interface BootstrapEvent {
  type: 'BOOTSTRAP';
  severity: string;
  progress: number;
  tag: string;
  summary: string;
  warning?: string;
}

/** §4.1.25 HS_DESC: an onion descriptor action (UPLOAD, UPLOADED, FAILED, RECEIVED, …). */
export interface HsDescEvent {
  type: 'HS_DESC';
  action: string;
  /** The onion address without `.onion` (or UNKNOWN). */
  address: string;
  authType: string;
  hsDir: string;
  descriptorId?: string;
  reason?: string;
}

/** Any other event, as tor sent it (first line after the event name, then further lines). */
export interface OtherEvent {
  type: string;
  text: string;
  lines: ReplyLine[];
}

export type TorEvent = BootstrapEvent | HsDescEvent | OtherEvent;

/** Turns a 650 reply into a typed event. Malformed known events become NG_TOR_PROTOCOL. */
export function parseEvent(reply: ControlReply): TorEvent {
  const first = reply.lines[0];
  if (!first) throw protocolError('an empty event');
  const sp = first.text.indexOf(' ');
  const name = sp === -1 ? first.text : first.text.slice(0, sp);
  const rest = sp === -1 ? '' : first.text.slice(sp + 1);
  if (name === 'STATUS_CLIENT') {
    const args = parseArguments(rest);
    if (args.positional[1] === 'BOOTSTRAP') {
      const progress = Number(args.keywords.get('PROGRESS'));
      if (!Number.isInteger(progress) || progress < 0 || progress > 100) throw protocolError('a BOOTSTRAP event without a valid PROGRESS');
      const warning = args.keywords.get('WARNING');
      return {
        type: 'BOOTSTRAP',
        severity: args.positional[0] ?? '',
        progress,
        tag: args.keywords.get('TAG') ?? '',
        summary: args.keywords.get('SUMMARY') ?? '',
        ...(warning !== undefined ? { warning } : {}),
      };
    }
  }
  if (name === 'HS_DESC') {
    const args = parseArguments(rest);
    const [action, address, authType, hsDir, descriptorId] = args.positional;
    if (action === undefined || address === undefined) throw protocolError('an HS_DESC event without action and address');
    const reason = args.keywords.get('REASON');
    return {
      type: 'HS_DESC',
      action,
      address,
      authType: authType ?? '',
      hsDir: hsDir ?? '',
      ...(descriptorId !== undefined ? { descriptorId } : {}),
      ...(reason !== undefined ? { reason } : {}),
    };
  }
  return { type: name, text: rest, lines: reply.lines };
}

// ---------------------------------------------------------------------------------------------
// The client
// ---------------------------------------------------------------------------------------------

/** Where the control port is: TCP or a unix socket. */
export type ControlTarget = { host: string; port: number } | { path: string };

/** Parses `HOST:PORT` or `unix:PATH` (the `--tor-control` syntax). */
export function parseControlTarget(value: string): ControlTarget {
  if (value.startsWith('unix:')) {
    const path = value.slice(5);
    if (!path.startsWith('/')) throw new NodegateError('NG_USAGE', `--tor-control unix:PATH needs an absolute path, got "${value}".`);
    return { path };
  }
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port > 0 && port <= 65535)) {
    throw new NodegateError('NG_USAGE', `--tor-control expects HOST:PORT or unix:PATH (for example 127.0.0.1:9051 or unix:/run/tor/control), got "${value}".`);
  }
  return { host: (m[1] ?? m[2])!, port };
}

export function describeTarget(target: ControlTarget): string {
  return 'path' in target ? `unix:${target.path}` : `${target.host}:${target.port}`;
}

export interface ControlConnectOptions {
  signal?: AbortSignal;
  /** Default {@link CONNECT_TIMEOUT_MS}. */
  connectTimeoutMs?: number;
  /** Default {@link COMMAND_TIMEOUT_MS}. */
  commandTimeoutMs?: number;
  /** Test seam: opens the stream instead of node:net. */
  connect?: (target: ControlTarget) => Duplex;
}

export interface ProtocolInfo {
  protocolInfoVersion: number;
  methods: string[];
  cookieFile?: string;
  torVersion?: string;
}

export interface AuthenticateOptions {
  /** Read the cookie from here instead of PROTOCOLINFO's COOKIEFILE (e.g. when paths differ). */
  cookieFile?: string;
  /** The cookie bytes themselves. */
  cookie?: Uint8Array;
  /** For HASHEDPASSWORD. */
  password?: string;
  /** Restrict or order the methods tried. Default: NULL, SAFECOOKIE, COOKIE, HASHEDPASSWORD. */
  methods?: Array<'NULL' | 'SAFECOOKIE' | 'COOKIE' | 'HASHEDPASSWORD'>;
}

export interface OnionPort {
  /** The port clients dial on the onion address. */
  virtualPort: number;
  /** Where tor forwards: `HOST:PORT` (loopback) or `unix:PATH`; default the same port on 127.0.0.1. */
  target?: string;
}

export interface AddOnionOptions {
  /** `NEW` asks tor for a fresh ED25519-V3 key; otherwise our stored key (base64 blob, 64 bytes). */
  key: { type: 'NEW' } | { type: 'ED25519-V3'; blob: string };
  ports: OnionPort[];
  /** §3.27 flags, e.g. `Detach`, `DiscardPK`, `V3Auth`, `NonAnonymous`, `MaxStreamsCloseCircuit`. */
  flags?: string[];
  /** x25519 public keys (base32, 52 chars) of authorised clients (ClientAuthV3). */
  clientAuthV3?: string[];
  maxStreams?: number;
}

export interface AddOnionResult {
  /** The onion address without `.onion` (56 base32 chars). */
  serviceId: string;
  /** Only for `key: NEW` without DiscardPK: `ED25519-V3:<base64>`. */
  privateKey?: string;
}

type Pending = {
  line: string;
  resolve: (reply: ControlReply) => void;
  reject: (err: unknown) => void;
};

export interface TorControlEvents {
  event: [TorEvent];
  /** The connection closed; `error` says why (NG_TOR_CONTROL_CLOSED, NG_TOR_PROTOCOL, NG_TIMEOUT). */
  close: [NodegateError];
}

/**
 * A control connection. Create it with {@link TorControl.connect}, then {@link authenticate}.
 *
 * @example
 * const tor = await TorControl.connect({ host: '127.0.0.1', port: 9051 });
 * await tor.authenticate();
 * const { serviceId } = await tor.addOnion({ key: { type: 'NEW' }, ports: [{ virtualPort: 443, target: '127.0.0.1:8443' }] });
 */
export class TorControl extends EventEmitter<TorControlEvents> {
  private readonly parser = new ReplyParser();
  private readonly queue: Pending[] = [];
  private inFlight: (Pending & { timer: NodeJS.Timeout }) | undefined;
  private closedError: NodegateError | undefined;
  readonly target: ControlTarget;
  private readonly commandTimeoutMs: number;

  private constructor(
    private readonly socket: Duplex,
    target: ControlTarget,
    commandTimeoutMs: number,
  ) {
    super();
    this.target = target;
    this.commandTimeoutMs = commandTimeoutMs;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.fail(new NodegateError('NG_TOR_CONTROL_CLOSED', `The control connection to tor (${describeTarget(target)}) failed: ${err.message}.`, { cause: err })));
    socket.on('close', () =>
      this.fail(
        new NodegateError(
          'NG_TOR_CONTROL_CLOSED',
          `Tor closed the control connection (${describeTarget(target)})${this.parser.midReply ? ' in the middle of a reply' : ''}. Tor may have stopped or restarted; it is reconnected automatically where possible.`,
        ),
      ),
    );
  }

  /** Opens a control connection (not yet authenticated). NG_TOR_CONTROL_CONNECT on failure. */
  static async connect(target: ControlTarget, options: ControlConnectOptions = {}): Promise<TorControl> {
    const timeoutMs = options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
    const where = describeTarget(target);
    options.signal?.throwIfAborted();
    const socket: Duplex = options.connect
      ? options.connect(target)
      : 'path' in target
        ? createConnection({ path: target.path })
        : createConnection({ host: target.host, port: target.port });
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error) => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        socket.off('error', onError);
        socket.off('connect', onConnect);
        if (err) {
          socket.destroy();
          reject(err);
        } else resolve();
      };
      const onError = (err: Error) =>
        done(new NodegateError('NG_TOR_CONTROL_CONNECT', `Could not connect to tor's control port at ${where}: ${err.message}. Check that tor runs and that ControlPort/ControlSocket is set to this address.`, { cause: err }));
      const onConnect = () => done();
      const onAbort = () => done(new NodegateError('NG_ABORTED', `Connecting to tor at ${where} was cancelled.`));
      const timer = setTimeout(() => done(new NodegateError('NG_TOR_CONTROL_CONNECT', `Tor's control port at ${where} did not accept a connection within ${timeoutMs} ms.`)), timeoutMs);
      socket.once('error', onError);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      const net = socket as Partial<Socket>;
      if (options.connect || net.connecting === false) queueMicrotask(onConnect);
      else socket.once('connect', onConnect);
    });
    return new TorControl(socket, target, options.commandTimeoutMs ?? COMMAND_TIMEOUT_MS);
  }

  /** Wraps an already connected stream (tests, or a socket opened elsewhere). */
  static fromStream(stream: Duplex, target: ControlTarget = { path: 'stream' }, commandTimeoutMs = COMMAND_TIMEOUT_MS): TorControl {
    return new TorControl(stream, target, commandTimeoutMs);
  }

  get closed(): boolean {
    return this.closedError !== undefined;
  }

  /**
   * Sends one raw command line (without CRLF) and resolves with its reply when the status is
   * 2xx; other statuses reject with NG_TOR_COMMAND (details: status, text).
   */
  async command(line: string, options: { signal?: AbortSignal } = {}): Promise<ControlReply> {
    if (/[\r\n]/.test(line)) throw new TypeError('a control command must be one line (no CR/LF)');
    if (this.closedError) throw this.closedError;
    options.signal?.throwIfAborted();
    const reply = await new Promise<ControlReply>((resolve, reject) => {
      this.queue.push({ line, resolve, reject });
      this.pump();
    });
    if (reply.status < 200 || reply.status > 299) {
      const text = reply.lines.map((l) => l.text).join(' / ');
      const verb = line.split(' ', 1)[0];
      throw new NodegateError('NG_TOR_COMMAND', `Tor refused ${verb}: ${reply.status} ${text}`, { details: { status: reply.status, text, command: verb } });
    }
    return reply;
  }

  private pump(): void {
    if (this.inFlight || this.closedError) return;
    const next = this.queue.shift();
    if (!next) return;
    const timer = setTimeout(() => {
      this.fail(new NodegateError('NG_TIMEOUT', `Tor did not answer ${next.line.split(' ', 1)[0]} within ${this.commandTimeoutMs} ms; the control connection was closed.`));
    }, this.commandTimeoutMs);
    this.inFlight = { ...next, timer };
    this.socket.write(next.line + '\r\n');
  }

  private onData(chunk: Buffer): void {
    let replies: ControlReply[];
    try {
      replies = this.parser.push(chunk);
    } catch (err) {
      this.fail(err as NodegateError);
      return;
    }
    for (const reply of replies) {
      if (reply.status === 650) {
        let event: TorEvent;
        try {
          event = parseEvent(reply);
        } catch {
          continue; // a malformed event is dropped; command replies stay in sync
        }
        this.emit('event', event);
        continue;
      }
      const current = this.inFlight;
      if (!current) {
        this.fail(protocolError(`a reply (${reply.status}) arrived without a command`));
        return;
      }
      clearTimeout(current.timer);
      this.inFlight = undefined;
      current.resolve(reply);
    }
    this.pump();
  }

  private fail(err: NodegateError): void {
    if (this.closedError) return;
    this.closedError = err;
    if (this.inFlight) {
      clearTimeout(this.inFlight.timer);
      this.inFlight.reject(err);
      this.inFlight = undefined;
    }
    for (const p of this.queue.splice(0)) p.reject(err);
    this.socket.destroy();
    this.emit('close', err);
  }

  /** Closes the connection (QUIT is not needed: closing is enough for tor). */
  close(): void {
    this.fail(new NodegateError('NG_TOR_CONTROL_CLOSED', 'The control connection was closed by nodegate.'));
  }

  // ----- §3.21 PROTOCOLINFO, §3.5 AUTHENTICATE, §3.24 AUTHCHALLENGE -----

  async protocolInfo(): Promise<ProtocolInfo> {
    const reply = await this.command('PROTOCOLINFO 1');
    const info: ProtocolInfo = { protocolInfoVersion: 0, methods: [] };
    for (const l of reply.lines) {
      const sp = l.text.indexOf(' ');
      const word = sp === -1 ? l.text : l.text.slice(0, sp);
      const args = parseArguments(sp === -1 ? '' : l.text.slice(sp + 1));
      if (word === 'PROTOCOLINFO') info.protocolInfoVersion = Number(args.positional[0] ?? 0);
      else if (word === 'AUTH') {
        info.methods = (args.keywords.get('METHODS') ?? '').split(',').filter(Boolean);
        const cookie = args.keywords.get('COOKIEFILE');
        if (cookie !== undefined) info.cookieFile = cookie;
      } else if (word === 'VERSION') {
        const v = args.keywords.get('Tor');
        if (v !== undefined) info.torVersion = v;
      }
    }
    return info;
  }

  /**
   * Authenticates with the best method tor offers: NULL, then SAFECOOKIE (verifying tor's hash
   * before answering), then COOKIE, then HASHEDPASSWORD when a password is given.
   * NG_TOR_AUTH on any failure (wrong or unreadable cookie, hash mismatch, refused).
   */
  async authenticate(options: AuthenticateOptions = {}): Promise<void> {
    const info = await this.protocolInfo();
    const order = options.methods ?? ['NULL', 'SAFECOOKIE', 'COOKIE', 'HASHEDPASSWORD'];
    const method = order.find((m) => info.methods.includes(m) && (m !== 'HASHEDPASSWORD' || options.password !== undefined));
    if (!method) {
      throw new NodegateError('NG_TOR_AUTH', `Tor offers authentication methods [${info.methods.join(', ')}] and none of them can be used. Enable CookieAuthentication 1 in tor's configuration (or give the control password).`);
    }
    try {
      if (method === 'NULL') {
        await this.command('AUTHENTICATE');
        return;
      }
      if (method === 'HASHEDPASSWORD') {
        await this.command(`AUTHENTICATE ${quoteString(options.password ?? '')}`);
        return;
      }
      const cookie = await this.readCookie(options, info);
      if (method === 'COOKIE') {
        await this.command(`AUTHENTICATE ${Buffer.from(cookie).toString('hex')}`);
        return;
      }
      const clientNonce = randomBytes(NONCE_LENGTH);
      const challenge = await this.command(`AUTHCHALLENGE SAFECOOKIE ${clientNonce.toString('hex')}`);
      const text = challenge.lines[0]?.text ?? '';
      const args = parseArguments(text.replace(/^AUTHCHALLENGE\s*/, ''));
      const serverHashHex = args.keywords.get('SERVERHASH') ?? '';
      const serverNonceHex = args.keywords.get('SERVERNONCE') ?? '';
      if (!/^[0-9A-Fa-f]{64}$/.test(serverHashHex) || !/^[0-9A-Fa-f]{2,}$/.test(serverNonceHex) || serverNonceHex.length % 2 !== 0) {
        throw protocolError('AUTHCHALLENGE without a valid SERVERHASH/SERVERNONCE');
      }
      const serverNonce = Buffer.from(serverNonceHex, 'hex');
      const material = Buffer.concat([cookie, clientNonce, serverNonce]);
      const expected = createHmac('sha256', SAFECOOKIE_SERVER_TO_CONTROLLER).update(material).digest();
      if (!timingSafeEqual(expected, Buffer.from(serverHashHex, 'hex'))) {
        throw new NodegateError('NG_TOR_AUTH', `The process at ${describeTarget(this.target)} does not know tor's cookie (SAFECOOKIE server hash mismatch): it may not be tor, or the cookie file belongs to another tor. Check the control address and cookie path.`);
      }
      const response = createHmac('sha256', SAFECOOKIE_CONTROLLER_TO_SERVER).update(material).digest('hex');
      await this.command(`AUTHENTICATE ${response}`);
    } catch (err) {
      if (err instanceof NodegateError && err.code === 'NG_TOR_COMMAND') {
        throw new NodegateError('NG_TOR_AUTH', `Tor refused authentication (${method}): ${err.details?.text as string}. Check that the cookie file belongs to this tor (and is current) or the password is right.`, { cause: err, details: err.details });
      }
      throw err;
    }
  }

  private async readCookie(options: AuthenticateOptions, info: ProtocolInfo): Promise<Uint8Array> {
    if (options.cookie) return checkCookie(options.cookie, 'the given cookie');
    const path = options.cookieFile ?? info.cookieFile;
    if (!path) throw new NodegateError('NG_TOR_AUTH', 'Tor did not name its cookie file. Set CookieAuthentication 1 in its configuration, or pass the cookie file path.');
    let cookie: Buffer;
    try {
      cookie = await readFile(path);
    } catch (err) {
      throw new NodegateError('NG_TOR_AUTH', `Cannot read tor's cookie file ${path}: ${messageOf(err)}. Run nodegate as a user that may read it (on Debian: add it to the debian-tor group).`, { cause: err });
    }
    return checkCookie(cookie, path);
  }

  // ----- §3.9 GETINFO, §3.3 SETCONF, §3.3 GETCONF, §3.4 SETEVENTS, §3.7 SIGNAL -----

  /** GETINFO: values by key (data replies included). */
  async getInfo(keys: string[]): Promise<Record<string, string>> {
    for (const k of keys) if (!/^[A-Za-z0-9_./:-]+$/.test(k)) throw new TypeError(`invalid GETINFO key ${JSON.stringify(k)}`);
    const reply = await this.command(`GETINFO ${keys.join(' ')}`);
    const out: Record<string, string> = {};
    for (const l of reply.lines) {
      const eq = l.text.indexOf('=');
      if (eq === -1) continue; // the final "OK"
      const key = l.text.slice(0, eq);
      out[key] = l.separator === '+' ? (l.data ?? '') : l.text.slice(eq + 1);
    }
    return out;
  }

  /** GETCONF: every value of each option (options may repeat, e.g. HiddenServicePort). */
  async getConf(keys: string[]): Promise<Record<string, string[]>> {
    for (const k of keys) if (!/^[A-Za-z0-9_]+$/.test(k)) throw new TypeError(`invalid GETCONF key ${JSON.stringify(k)}`);
    const reply = await this.command(`GETCONF ${keys.join(' ')}`);
    const out: Record<string, string[]> = {};
    for (const l of reply.lines) {
      const eq = l.text.indexOf('=');
      const key = eq === -1 ? l.text : l.text.slice(0, eq);
      const value = eq === -1 ? undefined : l.text.slice(eq + 1);
      (out[key] ??= []).push(...(value === undefined ? [] : [value.startsWith('"') ? readQuotedString(value, 0).value : value]));
    }
    return out;
  }

  /** SETCONF: `null` resets an option to its default; arrays set repeated options. */
  async setConf(values: Record<string, string | string[] | null>): Promise<void> {
    const parts: string[] = [];
    for (const [key, value] of Object.entries(values)) {
      if (!/^[A-Za-z0-9_]+$/.test(key)) throw new TypeError(`invalid SETCONF key ${JSON.stringify(key)}`);
      if (value === null) parts.push(key);
      else for (const v of Array.isArray(value) ? value : [value]) parts.push(`${key}=${quoteString(v)}`);
    }
    await this.command(`SETCONF ${parts.join(' ')}`);
  }

  /** SETEVENTS: replaces the set of events this connection receives. */
  async setEvents(names: string[]): Promise<void> {
    for (const n of names) if (!/^[A-Z_]+$/.test(n)) throw new TypeError(`invalid event name ${JSON.stringify(n)}`);
    await this.command(`SETEVENTS ${names.join(' ')}`.trimEnd());
  }

  /** SIGNAL, e.g. NEWNYM (fresh circuits; also clears a failed onion fetch's HSDir avoidance). */
  async signal(name: 'RELOAD' | 'SHUTDOWN' | 'DUMP' | 'DEBUG' | 'HALT' | 'NEWNYM' | 'CLEARDNSCACHE' | 'HEARTBEAT' | 'ACTIVE' | 'DORMANT'): Promise<void> {
    await this.command(`SIGNAL ${name}`);
  }

  /** Current bootstrap progress (GETINFO status/bootstrap-phase). */
  async bootstrapProgress(): Promise<number> {
    const info = await this.getInfo(['status/bootstrap-phase']);
    const m = /PROGRESS=(\d+)/.exec(info['status/bootstrap-phase'] ?? '');
    return m ? Number(m[1]) : 0;
  }

  // ----- §3.27 ADD_ONION, §3.28 DEL_ONION, §3.30 ONION_CLIENT_AUTH_ADD -----

  async addOnion(options: AddOnionOptions): Promise<AddOnionResult> {
    if (options.ports.length === 0) throw new TypeError('ADD_ONION needs at least one port');
    const key = options.key.type === 'NEW' ? 'NEW:ED25519-V3' : `ED25519-V3:${options.key.blob}`;
    if (options.key.type !== 'NEW' && !/^[A-Za-z0-9+/]+=*$/.test(options.key.blob)) throw new TypeError('the onion key blob must be base64');
    const parts = [`ADD_ONION ${key}`];
    const flags = [...(options.flags ?? [])];
    if (options.clientAuthV3?.length && !flags.includes('V3Auth')) flags.push('V3Auth');
    for (const f of flags) if (!/^[A-Za-z0-9]+$/.test(f)) throw new TypeError(`invalid ADD_ONION flag ${JSON.stringify(f)}`);
    if (flags.length) parts.push(`Flags=${flags.join(',')}`);
    if (options.maxStreams !== undefined) parts.push(`MaxStreams=${options.maxStreams}`);
    for (const p of options.ports) {
      if (!Number.isInteger(p.virtualPort) || p.virtualPort < 1 || p.virtualPort > 65535) throw new TypeError(`invalid onion virtual port ${p.virtualPort}`);
      if (p.target !== undefined && !/^(unix:\/\S+|[A-Za-z0-9.:[\]-]+:\d{1,5})$/.test(p.target)) throw new TypeError(`invalid onion port target ${JSON.stringify(p.target)}`);
      parts.push(`Port=${p.virtualPort}${p.target ? ',' + p.target : ''}`);
    }
    for (const c of options.clientAuthV3 ?? []) {
      if (!/^[A-Z2-7]{52}$/.test(c)) throw new TypeError('a ClientAuthV3 key must be 52 base32 characters');
      parts.push(`ClientAuthV3=${c}`);
    }
    const reply = await this.command(parts.join(' '));
    const result: Partial<AddOnionResult> = {};
    for (const l of reply.lines) {
      if (l.text.startsWith('ServiceID=')) result.serviceId = l.text.slice('ServiceID='.length);
      else if (l.text.startsWith('PrivateKey=')) result.privateKey = l.text.slice('PrivateKey='.length);
    }
    if (!result.serviceId || !/^[a-z2-7]{56}$/.test(result.serviceId)) throw protocolError('ADD_ONION reply without a v3 ServiceID');
    return result as AddOnionResult;
  }

  async delOnion(serviceId: string): Promise<void> {
    if (!/^[a-z2-7]{56}$/.test(serviceId)) throw new TypeError('DEL_ONION needs a v3 service id');
    await this.command(`DEL_ONION ${serviceId}`);
  }

  /** Adds a client-side key so this tor can reach an onion with client authorisation. */
  async onionClientAuthAdd(serviceId: string, x25519PrivateKeyBase64: string, options: { nickname?: string; permanent?: boolean } = {}): Promise<void> {
    if (!/^[a-z2-7]{56}$/.test(serviceId)) throw new TypeError('ONION_CLIENT_AUTH_ADD needs a v3 service id');
    if (!/^[A-Za-z0-9+/]{43}=$/.test(x25519PrivateKeyBase64)) throw new TypeError('the x25519 private key must be 32 bytes in base64');
    let line = `ONION_CLIENT_AUTH_ADD ${serviceId} x25519:${x25519PrivateKeyBase64}`;
    if (options.nickname) {
      if (!/^[A-Za-z0-9_-]{1,64}$/.test(options.nickname)) throw new TypeError('invalid client nickname');
      line += ` ClientName=${options.nickname}`;
    }
    if (options.permanent) line += ' Flags=Permanent';
    await this.command(line);
  }
}

function checkCookie(cookie: Uint8Array, where: string): Uint8Array {
  if (cookie.length !== COOKIE_LENGTH) {
    throw new NodegateError('NG_TOR_AUTH', `Tor's cookie (${where}) has ${cookie.length} bytes, not ${COOKIE_LENGTH}: it is not a tor control cookie. Check the cookie path.`);
  }
  return cookie;
}
