/**
 * A private Tor network on loopback, in the spirit of the Tor project's chutney, made of Debian's
 * `tor`: one directory authority that is also a relay, three relays, and clients started on demand
 * (one hosts the onion, another fetches from it). It never touches the public Tor network:
 * `UseDefaultFallbackDirs 0` and our own `DirAuthority` line replace the built-in directories.
 *
 * Keys (tor-gencert for the authority, `tor --list-fingerprint` for relay identities) are cached
 * between runs in `.cache/tor-network/` (gitignored) so a run spends no time on key generation.
 * Voting is squeezed (`TestingV3AuthInitialVotingInterval 10`, a computed
 * `TestingV3AuthVotingStartOffset`) so the first consensus comes seconds after launch; clients start
 * only after that consensus lists every relay with the flags onion circuits need (Stable, HSDir).
 * Every process is stopped by its PID.
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort, startProcess, tempDir, type RunningProcess } from './process.ts';
import { TorControl } from '../tor/control.ts';

const run = promisify(execFile);
const TOR = '/usr/sbin/tor';
const CACHE_DIR = resolve(fileURLToPath(new URL('../.cache/tor-network', import.meta.url)));
/** First vote this long after launch: relays need ~2 s to upload their descriptors. */
const FIRST_VOTE_AFTER_S = 4;
const INITIAL_VOTING_INTERVAL_S = 10;
const VOTING_INTERVAL_S = 20;
/** Bounded waits. */
const CONSENSUS_TIMEOUT_MS = 120_000; // ~11–23 s on a quiet machine; minutes only under heavy CPU contention
/** A relay still missing from the consensus this long after launch gets a SIGHUP (descriptor re-upload). */
const NUDGE_AFTER_MS = 25_000;
const CLIENT_BOOTSTRAP_TIMEOUT_MS = 90_000;
const POLL_MS = 250;

export interface TorNode {
  nickname: string;
  dir: string;
  process: RunningProcess;
  controlPort: number;
  socksPort?: number;
}

export interface TorClient extends TorNode {
  socksPort: number;
  /** An authenticated control connection to this client. */
  control: TorControl;
  stop(): Promise<void>;
}

export interface TorNetwork {
  readonly dir: string;
  readonly authority: TorNode;
  readonly relays: TorNode[];
  /** Torrc lines any tor joining the network needs (DirAuthority, TestingTorNetwork, GeoIP...). */
  readonly torrcLines: string[];
  /** Milliseconds from launch to a consensus listing every relay. */
  readonly consensusMs: number;
  /** Starts a client tor (SOCKS + control on loopback) and waits until it has bootstrapped. */
  startClient(nickname: string, extraTorrc?: string[]): Promise<TorClient>;
  /** Stops every process of the network (clients included) by PID and removes its directory. */
  stop(): Promise<void>;
}

interface CachedKeys {
  /** v3 identity (authority certificate fingerprint). */
  v3ident: string;
  /** RSA identity fingerprint of the authority's relay. */
  authorityFingerprint: string;
}

async function ensureKeys(nicknames: string[]): Promise<CachedKeys> {
  await mkdir(CACHE_DIR, { recursive: true });
  const certPath = join(CACHE_DIR, 'auth', 'keys', 'authority_certificate');
  let fresh = false;
  if (existsSync(certPath)) {
    const cert = await readFile(certPath, 'utf8');
    const expires = /dir-key-expires (.+)/.exec(cert)?.[1];
    fresh = expires !== undefined && Date.parse(expires.replace(' ', 'T') + 'Z') > Date.now() + 7 * 86_400_000;
  }
  if (!fresh) {
    const keys = join(CACHE_DIR, 'auth', 'keys');
    await rm(join(CACHE_DIR, 'auth'), { recursive: true, force: true });
    await mkdir(keys, { recursive: true, mode: 0o700 });
    await new Promise<void>((resolveGen, reject) => {
      const child = execFile(
        'tor-gencert',
        ['--create-identity-key', '-m', '12', '-i', join(keys, 'authority_identity_key'), '-s', join(keys, 'authority_signing_key'), '-c', certPath, '--passphrase-fd', '0'],
        { timeout: 30_000 },
        (err) => (err ? reject(new Error(`tor-gencert failed: ${err.message}`)) : resolveGen()),
      );
      child.stdin?.end('\n');
    });
  }
  for (const nick of nicknames) {
    const dir = join(CACHE_DIR, nick);
    if (existsSync(join(dir, 'fingerprint'))) continue;
    await run(TOR, ['--quiet', '--ignore-missing-torrc', '-f', '/dev/null', '--DataDirectory', dir, '--list-fingerprint', '--ORPort', '1', '--DirAuthority', 'x 127.0.0.1:1 ffffffffffffffffffffffffffffffffffffffff'], { timeout: 30_000 });
    await rm(join(dir, 'lock'), { force: true });
  }
  const cert = await readFile(certPath, 'utf8');
  const v3ident = /^fingerprint ([0-9A-F]{40})$/m.exec(cert)?.[1];
  const fp = /\s([0-9A-F]{40})\s*$/.exec(await readFile(join(CACHE_DIR, 'auth', 'fingerprint'), 'utf8'))?.[1];
  if (!v3ident || !fp) throw new Error(`tor-network: cached keys in ${CACHE_DIR} are unreadable; delete that directory`);
  return { v3ident, authorityFingerprint: fp };
}

/**
 * Launches the network and resolves once its consensus lists the authority and every relay with
 * the Stable and HSDir flags.
 */
export async function startTorNetwork(options: { relays?: number } = {}): Promise<TorNetwork> {
  const relayCount = options.relays ?? 3;
  const relayNicks = Array.from({ length: relayCount }, (_, i) => `relay${i + 1}`);
  const keys = await ensureKeys(['auth', ...relayNicks]);
  const tmp = await tempDir('nodegate-tornet-');
  const processes: RunningProcess[] = [];
  const controls: TorControl[] = [];
  const stopAll = async () => {
    for (const c of controls) c.close();
    await Promise.all(processes.map((p) => p.stop(2000)));
    await tmp.remove();
  };
  try {
    const geoip = join(tmp.path, 'geoip-empty');
    await writeFile(geoip, '');
    const authOr = await freePort();
    const authDir = await freePort();
    const torrcLines = [
      'TestingTorNetwork 1',
      'UseDefaultFallbackDirs 0',
      `DirAuthority auth orport=${authOr} no-v2 v3ident=${keys.v3ident} 127.0.0.1:${authDir} ${keys.authorityFingerprint}`,
      `GeoIPFile ${geoip}`,
      `GeoIPv6File ${geoip}`,
      'ClientUseIPv6 0',
      'SafeLogging 0',
    ];
    const launchS = Math.floor(Date.now() / 1000);
    const firstBoundary = launchS + FIRST_VOTE_AFTER_S + 4; // votes go out VoteDelay+DistDelay before it
    const startOffset = firstBoundary % INITIAL_VOTING_INTERVAL_S;
    const common = (nick: string, dir: string, control: number) => [
      ...torrcLines,
      `DataDirectory ${dir}`,
      `Nickname ${nick}`,
      'RunAsDaemon 0',
      'Log notice stdout',
      `ControlPort 127.0.0.1:${control}`,
      'CookieAuthentication 1',
      'ShutdownWaitLength 0',
    ];
    const relayLines = (orPort: number) => [
      'Address 127.0.0.1',
      `ORPort 127.0.0.1:${orPort}`,
      'AssumeReachable 1',
      'ExitRelay 0',
      'ExitPolicy reject *:*',
      'SocksPort 0',
      'AddressDisableIPv6 1',
      `ContactInfo nodegate-test`,
    ];
    const startNode = async (nick: string, extra: string[], orPort: number): Promise<TorNode> => {
      const dir = join(tmp.path, nick);
      await cp(join(CACHE_DIR, nick), dir, { recursive: true });
      const controlPort = await freePort();
      const torrc = join(tmp.path, `${nick}.torrc`);
      await writeFile(torrc, [...common(nick, dir, controlPort), ...relayLines(orPort), ...extra].join('\n') + '\n');
      const proc = startProcess(TOR, ['-f', torrc, '--defaults-torrc', '/dev/null']);
      processes.push(proc);
      return { nickname: nick, dir, process: proc, controlPort };
    };
    const voting = [
      'AuthoritativeDirectory 1',
      'V3AuthoritativeDirectory 1',
      `DirPort 127.0.0.1:${authDir}`,
      `V3AuthVotingInterval ${VOTING_INTERVAL_S}`,
      'V3AuthVoteDelay 2',
      'V3AuthDistDelay 2',
      `TestingV3AuthInitialVotingInterval ${INITIAL_VOTING_INTERVAL_S}`,
      'TestingV3AuthInitialVoteDelay 2',
      'TestingV3AuthInitialDistDelay 2',
      `TestingV3AuthVotingStartOffset ${startOffset}`,
      'AuthDirVoteStableGuaranteeMinUptime 0',
      'TestingDirAuthVoteHSDir *',
      'TestingDirAuthVoteGuard *',
      'AuthDirMaxServersPerAddr 0',
    ];
    const started = Date.now();
    const authority = await startNode('auth', voting, authOr);
    // Relays upload their descriptors at once: let the authority's directory port be open first.
    await authority.process.waitFor(/Opened Directory listener/, 20_000);
    const relays: TorNode[] = [];
    for (const nick of relayNicks) relays.push(await startNode(nick, [], await freePort()));

    // Wait for a consensus listing every relay with Stable + HSDir (checked on the authority).
    await authority.process.waitFor(/Opened Control listener/, 20_000);
    const authControl = await TorControl.connect({ host: '127.0.0.1', port: authority.controlPort });
    controls.push(authControl);
    await authControl.authenticate();
    const deadline = Date.now() + CONSENSUS_TIMEOUT_MS;
    const want = relayCount + 1;
    let nextNudge = Date.now() + NUDGE_AFTER_MS;
    for (;;) {
      let ready = 0;
      const usable = new Set<string>();
      try {
        const ns = (await authControl.getInfo(['ns/all']))['ns/all'] ?? '';
        let nick = '';
        for (const line of ns.split('\n')) {
          if (line.startsWith('r ')) nick = line.split(' ')[1] ?? '';
          else if (line.startsWith('s ') && line.includes('Stable') && line.includes('HSDir') && line.includes('Running')) usable.add(nick);
        }
        ready = usable.size;
      } catch {
        ready = 0; // no consensus yet: tor answers 551
      }
      if (ready >= want) break;
      if (Date.now() > nextNudge) {
        // A relay whose first descriptor upload or reachability test missed the early votes can
        // sit out for minutes (seen on a loaded CI machine: 3 of 4 after 120 s). SIGHUP makes a
        // relay rebuild and upload its descriptor now.
        for (const relay of relays) if (!usable.has(relay.nickname)) relay.process.child.kill('SIGHUP');
        nextNudge = Date.now() + NUDGE_AFTER_MS;
      }
      if (Date.now() > deadline) throw new Error(`tor-network: consensus did not list ${want} usable relays within ${CONSENSUS_TIMEOUT_MS} ms (have ${ready}).\n${authority.process.output().slice(-3000)}`);
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    // Relays must hold that consensus too (and have built circuits) before clients come: a client
    // that extends through a relay without a consensus stalls at 95 % for a long time.
    for (const relay of [authority, ...relays]) {
      const c = relay === authority ? authControl : await TorControl.connect({ host: '127.0.0.1', port: relay.controlPort });
      if (c !== authControl) {
        controls.push(c);
        await c.authenticate();
      }
      while ((await c.bootstrapProgress()) < 100) {
        if (Date.now() > deadline) throw new Error(`tor-network: relay ${relay.nickname} did not bootstrap within ${CONSENSUS_TIMEOUT_MS} ms.\n${relay.process.output().slice(-3000)}`);
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
      if (c !== authControl) c.close();
    }
    const consensusMs = Date.now() - started;

    const clients: TorClient[] = [];
    const network: TorNetwork = {
      dir: tmp.path,
      authority,
      relays,
      torrcLines,
      consensusMs,
      async startClient(nickname, extraTorrc = []) {
        if (!/^[A-Za-z0-9]{1,19}$/.test(nickname)) throw new TypeError(`tor nicknames are 1-19 letters or digits, got ${JSON.stringify(nickname)}`);
        const dir = join(tmp.path, nickname);
        await mkdir(dir, { recursive: true, mode: 0o700 });
        const controlPort = await freePort();
        const socksPort = await freePort();
        const torrc = join(tmp.path, `${nickname}.torrc`);
        await writeFile(torrc, [...common(nickname, dir, controlPort), `SocksPort 127.0.0.1:${socksPort} ExtendedErrors`, ...extraTorrc].join('\n') + '\n');
        const proc = startProcess(TOR, ['-f', torrc, '--defaults-torrc', '/dev/null']);
        processes.push(proc);
        await proc.waitFor(/Opened Control listener/, 20_000);
        const control = await TorControl.connect({ host: '127.0.0.1', port: controlPort });
        controls.push(control);
        await control.authenticate();
        const until = Date.now() + CLIENT_BOOTSTRAP_TIMEOUT_MS;
        while ((await control.bootstrapProgress()) < 100) {
          if (Date.now() > until) throw new Error(`tor-network: client ${nickname} did not bootstrap:\n${proc.output().slice(-3000)}`);
          await new Promise((r) => setTimeout(r, POLL_MS));
        }
        const client: TorClient = {
          nickname,
          dir,
          process: proc,
          controlPort,
          socksPort,
          control,
          async stop() {
            control.close();
            await proc.stop(2000);
          },
        };
        clients.push(client);
        return client;
      },
      stop: stopAll,
    };
    return network;
  } catch (err) {
    await stopAll().catch(() => undefined); // the launch error is the one worth reporting
    throw err;
  }
}

/** True when the cache directory exists (for diagnostics). */
export async function torNetworkCacheExists(): Promise<boolean> {
  return stat(CACHE_DIR).then(() => true, () => false);
}
