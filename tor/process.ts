/**
 * Where nodegate's tor comes from: either the system's tor binary (Debian package `tor`), run by us
 * with a torrc we write under DATA/tor ({@link TorProcess}), or a tor the OS already runs, reached
 * by its control port or socket ({@link TorAttachment}). Both hand out an authenticated
 * {@link TorControl} and announce a fresh one (`control` event) after tor restarts or the control
 * connection drops, so the onion service can re-publish itself.
 *
 * Control-spec §3.23 TAKEOWNERSHIP / torrc `__OwningControllerProcess`: a tor we start exits when
 * nodegate dies, so no orphan keeps an onion online.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { access, chmod, constants, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { NodegateError, isNodegateError, messageOf } from '../core/errors.ts';
import { writeFileAtomic } from '../core/atomic-file.ts';
import { TorControl, describeTarget, parseControlTarget, type ControlTarget, type TorEvent } from './control.ts';

/** How long tor may take to open its control port after spawn (it is ~0.3 s; a slow SD card: more). */
export const TOR_START_TIMEOUT_MS = 30_000;
/** Grace between SIGTERM and SIGKILL when stopping tor. */
export const TOR_STOP_GRACE_MS = 5_000;
/** Restart back-off: first delay, doubled each time, capped. */
export const RESTART_BASE_DELAY_MS = 500;
export const RESTART_MAX_DELAY_MS = 30_000;
/** Restarts allowed within {@link RESTART_WINDOW_MS} before giving up (a tor that crashes in a loop). */
export const MAX_RESTARTS = 5;
export const RESTART_WINDOW_MS = 10 * 60_000;
/** Reconnect back-off for a dropped control connection. */
export const RECONNECT_BASE_DELAY_MS = 250;
export const RECONNECT_MAX_DELAY_MS = 15_000;
/** Log lines of tor kept for error messages. */
const LOG_LINES_KEPT = 40;
/** Where Debian puts tor: /usr/sbin is not on an ordinary user's PATH. */
export const DEFAULT_TOR_DIRS = ['/usr/sbin', '/usr/bin'];
export const TOR_INSTALL_HINT = 'Install it with `sudo apt-get install tor` (then `sudo systemctl disable --now tor` if nodegate should run its own), or attach to a running tor with `nodegate init --tor-control HOST:PORT|unix:PATH`.';

export interface TorSourceEvents {
  /** A new authenticated control connection (first start, tor restarted, or reconnected). */
  control: [TorControl];
  /** Every event tor sends on the current control connection. */
  event: [TorEvent];
  /** Bootstrap progress in percent. */
  bootstrap: [number, string];
  /** Tor or the control connection went away; a restart/reconnect follows unless `stop()` ran. */
  lost: [NodegateError];
  /** Gave up restarting/reconnecting. */
  failed: [NodegateError];
}

/** What the onion service needs from a tor: the current control connection and its changes. */
export interface TorSource extends EventEmitter<TorSourceEvents> {
  /** The current authenticated control connection, if any. */
  readonly control: TorControl | undefined;
  start(options?: { signal?: AbortSignal }): Promise<TorControl>;
  stop(): Promise<void>;
  /** Resolves when bootstrap reaches 100 % (bounded by `timeoutMs`). NG_TOR_BOOTSTRAP otherwise. */
  waitForBootstrap(timeoutMs: number, options?: { signal?: AbortSignal }): Promise<void>;
  /** The SOCKS listener tor offers (for Tor-only outbound connections). */
  socksAddress(): Promise<{ host: string; port: number }>;
}

/** Events the source subscribes to on every new control connection. */
const EVENTS = ['STATUS_CLIENT', 'HS_DESC'];

abstract class ControlHolder extends EventEmitter<TorSourceEvents> implements TorSource {
  protected current: TorControl | undefined;
  protected stopping = false;
  private lastProgress = 0;

  get control(): TorControl | undefined {
    return this.current;
  }

  abstract start(options?: { signal?: AbortSignal }): Promise<TorControl>;
  abstract stop(): Promise<void>;

  /** Connects, authenticates, subscribes to events and publishes the connection. */
  protected async open(target: ControlTarget, cookieFile: string | undefined, signal?: AbortSignal): Promise<TorControl> {
    const control = await TorControl.connect(target, signal ? { signal } : {});
    try {
      await control.authenticate(cookieFile ? { cookieFile } : {});
      await this.onAuthenticated(control);
      control.on('event', (ev) => {
        if (ev.type === 'BOOTSTRAP' && 'progress' in ev) {
          this.lastProgress = ev.progress;
          this.emit('bootstrap', ev.progress, ev.summary);
        }
        this.emit('event', ev);
      });
      await control.setEvents(EVENTS);
      this.lastProgress = await control.bootstrapProgress();
    } catch (err) {
      control.close();
      throw err;
    }
    this.current = control;
    control.once('close', (err) => {
      if (this.current === control) this.current = undefined;
      if (!this.stopping) this.onLost(err);
    });
    this.emit('control', control);
    return control;
  }

  protected async onAuthenticated(_control: TorControl): Promise<void> {}
  protected abstract onLost(err: NodegateError): void;

  async waitForBootstrap(timeoutMs: number, options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.current && this.lastProgress >= 100) return;
    await new Promise<void>((resolve, reject) => {
      const cleanup = () => {
        clearTimeout(timer);
        this.off('bootstrap', onProgress);
        this.off('failed', onFailed);
        options.signal?.removeEventListener('abort', onAbort);
      };
      const onProgress = (p: number) => {
        if (p >= 100) {
          cleanup();
          resolve();
        }
      };
      const onFailed = (err: NodegateError) => {
        cleanup();
        reject(err);
      };
      const onAbort = () => {
        cleanup();
        reject(new NodegateError('NG_ABORTED', 'Waiting for tor to bootstrap was cancelled.'));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new NodegateError('NG_TOR_BOOTSTRAP', `Tor did not finish bootstrapping within ${timeoutMs} ms (at ${this.lastProgress} %). Check the machine's network and clock, and tor's log.`));
      }, timeoutMs);
      this.on('bootstrap', onProgress);
      this.on('failed', onFailed);
      options.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  async socksAddress(): Promise<{ host: string; port: number }> {
    const control = this.current;
    if (!control) throw new NodegateError('NG_TOR_CONTROL_CLOSED', 'Tor is not connected; its SOCKS port is unknown right now.');
    const info = await control.getInfo(['net/listeners/socks']);
    const first = /"?([^"\s]+)"?/.exec(info['net/listeners/socks'] ?? '')?.[1];
    if (!first || first.startsWith('unix:')) throw new NodegateError('NG_TOR_COMMAND', 'Tor has no TCP SOCKS listener. Set SocksPort in its configuration.');
    const t = parseControlTarget(first);
    if ('path' in t) throw new NodegateError('NG_TOR_COMMAND', 'Tor has no TCP SOCKS listener.');
    return t;
  }
}

// ---------------------------------------------------------------------------------------------
// Attach to a tor the OS runs
// ---------------------------------------------------------------------------------------------

export interface TorAttachmentOptions {
  /** `HOST:PORT` or `unix:PATH`, or a parsed target. */
  control: string | ControlTarget;
  /** Cookie path when it differs from what PROTOCOLINFO says. */
  cookieFile?: string;
  /** Test seam for back-off sleeps. */
  sleep?: (ms: number) => Promise<void>;
}

/**
 * A tor we do not own (e.g. Debian's `tor@default`, Umbrel's or RaspiBlitz's). We only connect to
 * it; when the connection drops (tor restarted) we reconnect with capped back-off until `stop()`.
 */
export class TorAttachment extends ControlHolder {
  private readonly target: ControlTarget;
  private reconnecting = false;

  constructor(private readonly options: TorAttachmentOptions) {
    super();
    this.target = typeof options.control === 'string' ? parseControlTarget(options.control) : options.control;
  }

  async start(options: { signal?: AbortSignal } = {}): Promise<TorControl> {
    this.stopping = false;
    return this.open(this.target, this.options.cookieFile, options.signal);
  }

  stop(): Promise<void> {
    this.stopping = true;
    this.current?.close();
    this.current = undefined;
    return Promise.resolve();
  }

  protected onLost(err: NodegateError): void {
    this.emit('lost', err);
    if (this.reconnecting) return;
    this.reconnecting = true;
    void reconnectLoop(this, () => this.open(this.target, this.options.cookieFile), this.options.sleep).finally(() => {
      this.reconnecting = false;
    });
  }

  /** @internal */
  get isStopping(): boolean {
    return this.stopping;
  }
}

async function reconnectLoop(holder: { isStopping: boolean }, open: () => Promise<TorControl>, sleep = defaultSleep): Promise<void> {
  let delay = RECONNECT_BASE_DELAY_MS;
  while (!holder.isStopping) {
    await sleep(delay);
    if (holder.isStopping) return;
    try {
      await open();
      return;
    } catch {
      delay = Math.min(delay * 2, RECONNECT_MAX_DELAY_MS); // tor still down: wait longer, keep trying
    }
  }
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref?.());

// ---------------------------------------------------------------------------------------------
// Run the system's tor
// ---------------------------------------------------------------------------------------------

export interface TorProcessOptions {
  /** DATA/tor: torrc, tor's DataDirectory (`data/`), control port file, log. */
  dir: string;
  /** Explicit tor binary; default: found on PATH, then in {@link DEFAULT_TOR_DIRS}. */
  torPath?: string;
  /** Directories searched after PATH; default {@link DEFAULT_TOR_DIRS}. */
  extraDirs?: string[];
  /** Environment for PATH lookup and the child; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** SocksPort value: a port, `auto`, or `0` for none; default `auto` (127.0.0.1). */
  socksPort?: number | 'auto';
  /** Use a ControlSocket in `dir` instead of a loopback ControlPort. Default false. */
  controlSocket?: boolean;
  /** Extra torrc lines (e.g. a private network's DirAuthority, TestingTorNetwork 1). */
  extraTorrc?: string[];
  /** Restart tor when it dies (bounded). Default true. */
  restart?: boolean;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

/** Finds the tor binary or throws NG_TOR_NOT_INSTALLED with the apt command. */
export async function findTor(options: Pick<TorProcessOptions, 'torPath' | 'extraDirs' | 'env'> = {}): Promise<string> {
  const candidates = options.torPath
    ? [options.torPath]
    : [...(options.env ?? process.env).PATH?.split(delimiter).filter(Boolean) ?? [], ...(options.extraDirs ?? DEFAULT_TOR_DIRS)].map((d) => join(d, 'tor'));
  for (const c of candidates) {
    try {
      await access(c, constants.X_OK);
      return c;
    } catch {
      // not here; try the next directory
    }
  }
  throw new NodegateError('NG_TOR_NOT_INSTALLED', `Tor is not installed (no executable ${options.torPath ?? '`tor`'} found${options.torPath ? '' : ' on PATH or in ' + (options.extraDirs ?? DEFAULT_TOR_DIRS).join(', ')}). ${TOR_INSTALL_HINT}`);
}

/**
 * torrc options that say which Tor network tor joins (its directory authorities). tor's caches in
 * its DataDirectory (consensus, descriptors, guards in `state`) describe one network; another
 * network's authorities would leave tor trusting a stale consensus full of relays that are not
 * there (the demo's private network is new at every run: same keys, new ports).
 */
const NETWORK_OPTIONS = /^\s*(DirAuthority|AlternateDirAuthority|AlternateBridgeAuthority|TestingTorNetwork)\b/i;
/** Marker in tor's DataDirectory: a hash of the network options the caches there were made with. */
export const NETWORK_MARKER_FILE = 'nodegate-network';
/** What in tor's DataDirectory belongs to one network: dropped when the network changes. */
const NETWORK_CACHE = /^(cached-.*|state|diff-cache|unverified-.*)$/;

/** A fingerprint of the network options among `extraTorrc` ('' for the public Tor network). */
export function torNetworkFingerprint(extraTorrc: readonly string[] = []): string {
  const lines = extraTorrc.filter((l) => NETWORK_OPTIONS.test(l)).map((l) => l.trim().replace(/\s+/g, ' '));
  if (lines.length === 0) return '';
  return createHash('sha256').update(lines.sort().join('\n')).digest('hex');
}

/**
 * Drops tor's per-network caches from `dataDir` when the network options changed since they were
 * made (or, with no marker from an older version, when a private network is configured), and
 * records the current network. Keys (`keys/`) and everything nodegate keeps (the onion key lives
 * outside the DataDirectory) stay. Returns the names removed.
 */
export async function dropStaleNetworkCaches(dataDir: string, extraTorrc: readonly string[] = []): Promise<string[]> {
  const fingerprint = torNetworkFingerprint(extraTorrc);
  const markerPath = join(dataDir, NETWORK_MARKER_FILE);
  const recorded = await readFile(markerPath, 'utf8').then(
    (t) => t.trim(),
    () => undefined,
  );
  const removed: string[] = [];
  if (recorded !== fingerprint && (recorded !== undefined || fingerprint !== '')) {
    for (const name of await readdir(dataDir).catch(() => [] as string[])) {
      if (!NETWORK_CACHE.test(name)) continue;
      await rm(join(dataDir, name), { recursive: true, force: true });
      removed.push(name);
    }
  }
  if (recorded !== fingerprint) await writeFileAtomic(markerPath, fingerprint + '\n', { mode: 0o600 });
  return removed.sort();
}

/** The torrc nodegate writes: only a control listener, a loopback SOCKS port, nothing public. */
export function buildTorrc(dir: string, options: Pick<TorProcessOptions, 'socksPort' | 'controlSocket' | 'extraTorrc'> & { ownerPid: number }): string {
  const socks = options.socksPort ?? 'auto';
  const lines = [
    '# Written by nodegate; regenerated on every start. Put changes in the "tor" config section (extraTorrc).',
    `DataDirectory ${join(dir, 'data')}`,
    ...(options.controlSocket
      ? [`ControlSocket ${join(dir, 'control.sock')}`, 'ControlPort 0']
      : ['ControlPort 127.0.0.1:auto', `ControlPortWriteToFile ${join(dir, 'control-port')}`]),
    'CookieAuthentication 1',
    `CookieAuthFile ${join(dir, 'data', 'control_auth_cookie')}`,
    socks === 0 ? 'SocksPort 0' : `SocksPort 127.0.0.1:${socks} ExtendedErrors`,
    'ORPort 0',
    'DirPort 0',
    'RunAsDaemon 0',
    'Log notice stdout',
    `__OwningControllerProcess ${options.ownerPid}`,
    ...(options.extraTorrc ?? []),
  ];
  return lines.join('\n') + '\n';
}

/**
 * Runs the system's tor with our torrc, restarts it with back-off when it dies (at most
 * {@link MAX_RESTARTS} times in {@link RESTART_WINDOW_MS}), and keeps an authenticated control
 * connection.
 *
 * @example
 * const tor = new TorProcess({ dir: join(data, 'tor') });
 * tor.on('bootstrap', (p) => log.info({ p }, 'tor bootstrap'));
 * await tor.start();
 * await tor.waitForBootstrap(120_000);
 */
export class TorProcess extends ControlHolder {
  private child: ChildProcess | undefined;
  private logLines: string[] = [];
  private restarts: number[] = [];
  private restarting = false;
  private torPath: string | undefined;

  constructor(private readonly options: TorProcessOptions) {
    super();
  }

  /** The PID of the running tor, if any. */
  get pid(): number | undefined {
    return this.child?.exitCode === null ? this.child.pid : undefined;
  }

  /** The last lines tor logged. */
  get log(): string[] {
    return [...this.logLines];
  }

  /** @internal */
  get isStopping(): boolean {
    return this.stopping;
  }

  async start(options: { signal?: AbortSignal } = {}): Promise<TorControl> {
    this.stopping = false;
    this.torPath ??= await findTor(this.options);
    return this.launch(options.signal);
  }

  private async launch(signal?: AbortSignal): Promise<TorControl> {
    const dir = this.options.dir;
    await mkdir(join(dir, 'data'), { recursive: true, mode: 0o700 });
    await chmod(dir, 0o700); // tor refuses a ControlSocket in a directory others can list
    await dropStaleNetworkCaches(join(dir, 'data'), this.options.extraTorrc);
    const portFile = join(dir, 'control-port');
    const socketPath = join(dir, 'control.sock');
    await rm(portFile, { force: true });
    await rm(socketPath, { force: true });
    const torrcPath = join(dir, 'torrc');
    await writeFileAtomic(torrcPath, buildTorrc(dir, { ...this.options, ownerPid: process.pid }), { mode: 0o600 });
    const defaults = join(dir, 'torrc-defaults');
    await writeFileAtomic(defaults, '', { mode: 0o600 });
    this.logLines = [];
    const child = spawn(this.torPath!, ['-f', torrcPath, '--defaults-torrc', defaults], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: this.options.env ?? process.env,
      // A process group of its own: Ctrl-C in a terminal signals nodegate only, which then
      // withdraws the onion and stops tor in order (a tor left behind exits with its owning
      // control connection, TAKEOWNERSHIP, whenever nodegate dies).
      detached: true,
    });
    this.child = child;
    const onOutput = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line.trim()) continue;
        this.logLines.push(line.trimEnd());
        if (this.logLines.length > LOG_LINES_KEPT) this.logLines.shift();
      }
    };
    child.stdout?.on('data', onOutput);
    child.stderr?.on('data', onOutput);
    let spawnError: Error | undefined;
    child.on('error', (err) => {
      spawnError = err;
    });
    const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
    child.once('exit', () => {
      if (this.child === child && !this.stopping) this.onExit(child);
    });

    const started = Date.now();
    let target: ControlTarget | undefined;
    while (!target) {
      if (spawnError || child.exitCode !== null || child.signalCode !== null) {
        await Promise.race([exited, sleepMs(200)]);
        if (spawnError && (spawnError as NodeJS.ErrnoException).code === 'ENOENT') {
          throw new NodegateError('NG_TOR_NOT_INSTALLED', `Tor is not installed at ${this.torPath}. ${TOR_INSTALL_HINT}`, { cause: spawnError });
        }
        throw this.startError(`exited (${child.exitCode ?? child.signalCode ?? spawnError?.message}) before opening its control port`);
      }
      if (signal?.aborted) {
        await this.killChild(child);
        throw new NodegateError('NG_ABORTED', 'Starting tor was cancelled.');
      }
      if (Date.now() - started > TOR_START_TIMEOUT_MS) {
        await this.killChild(child);
        throw this.startError(`did not open its control port within ${TOR_START_TIMEOUT_MS} ms`);
      }
      if (this.options.controlSocket) {
        if (await exists(socketPath)) target = { path: socketPath };
      } else {
        const text = await readFile(portFile, 'utf8').catch(() => '');
        const m = /^PORT=(\S+):(\d+)\s*$/m.exec(text);
        if (m) target = { host: m[1]!, port: Number(m[2]) };
      }
      if (!target) await sleepMs(50);
    }
    try {
      return await this.open(target, join(this.options.dir, 'data', 'control_auth_cookie'), signal);
    } catch (err) {
      if (isNodegateError(err, 'NG_TOR_AUTH')) {
        await this.killChild(child);
        throw err;
      }
      await this.killChild(child);
      throw this.startError(`opened its control port but the connection failed (${messageOf(err)})`, err);
    }
  }

  protected override async onAuthenticated(control: TorControl): Promise<void> {
    await control.command('TAKEOWNERSHIP'); // §3.23: tor exits when this connection closes
    await control.setConf({ __OwningControllerProcess: null });
  }

  private startError(what: string, cause?: unknown): NodegateError {
    const log = this.logLines.slice(-12).join('\n  ');
    return new NodegateError('NG_TOR_START', `Tor (${this.torPath}) ${what}. Its last log lines:\n  ${log || '(none)'}\nFix the problem tor names (a port in use, a bad extraTorrc line, permissions on ${this.options.dir}).`, {
      details: { log: this.logLines.slice(-12) },
      ...(cause ? { cause } : {}),
    });
  }

  protected onLost(err: NodegateError): void {
    this.emit('lost', err);
    // The process exit handler restarts tor; if tor still runs, only the connection broke (owned
    // tors exit when their owning connection closes, so this is rare): restart it the same way.
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      void this.killChild(child);
    }
  }

  private onExit(child: ChildProcess): void {
    if (this.restarting || this.stopping) return;
    const err = this.startError(`stopped unexpectedly (${child.exitCode ?? child.signalCode})`);
    if (this.options.restart === false) {
      this.emit('failed', err);
      return;
    }
    const now = (this.options.now ?? Date.now)();
    this.restarts = this.restarts.filter((t) => now - t < RESTART_WINDOW_MS);
    if (this.restarts.length >= MAX_RESTARTS) {
      this.emit('failed', new NodegateError('NG_TOR_START', `Tor died ${MAX_RESTARTS + 1} times within ${RESTART_WINDOW_MS / 60_000} minutes; nodegate stopped restarting it. ${err.message}`));
      return;
    }
    const delay = Math.min(RESTART_BASE_DELAY_MS * 2 ** this.restarts.length, RESTART_MAX_DELAY_MS);
    this.restarts.push(now);
    this.restarting = true;
    void (async () => {
      try {
        await (this.options.sleep ?? defaultSleep)(delay);
        if (!this.stopping) await this.launch();
      } catch (e) {
        this.restarting = false;
        if (!this.stopping && this.child) this.onExit(this.child);
        else if (!this.stopping) this.emit('failed', e as NodegateError);
        return;
      }
      this.restarting = false;
    })();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const child = this.child;
    this.current?.close();
    this.current = undefined;
    if (child) await this.killChild(child);
  }

  private async killChild(child: ChildProcess): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), TOR_STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
  }
}

function sleepMs(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** Builds the tor source a config asks for. */
export function torSourceFor(dir: string, control: 'managed' | { attach: string }, options: Omit<TorProcessOptions, 'dir'> = {}): TorSource {
  if (control === 'managed') return new TorProcess({ dir, ...options });
  return new TorAttachment({ control: control.attach });
}

export { describeTarget };
