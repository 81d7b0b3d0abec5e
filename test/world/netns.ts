/**
 * Simulated homes for the reachability tests: Linux network namespaces joined by veth pairs, NAT by
 * nftables masquerade, a real miniupnpd (the patched build from scripts/setup.d/miniupnpd.sh, which
 * accepts the documentation ranges as WAN addresses) on the home router.
 *
 *   internet (ISP, 198.51.100.1/24; the registry and its STUN echo run here)
 *     └─ [modem: 198.51.100.x WAN, 192.168.0.1 LAN]            (double NAT only)
 *     └─ [carrier NAT: 198.51.100.x WAN, 100.64.0.1/10 inside]  (CGNAT only)
 *          └─ router: WAN address, LAN 192.168.1.1/24, masquerade + miniupnpd
 *               └─ node: 192.168.1.10/24
 *
 * Every namespace name starts with `ngr-` (this part's prefix) and a random tag, so parallel runs
 * never meet. `destroy()` stops every process started here by PID and deletes every namespace; call
 * it in afterAll/finally. Traffic never leaves these namespaces.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startProcess, type RunningProcess } from '../support/process.ts';

/** The patched miniupnpd built by scripts/setup.d/miniupnpd.sh. */
export const MINIUPNPD_BIN = resolve(import.meta.dirname, '../../.cache/miniupnpd/miniupnpd');
/** The same build also accepting 100.64.0.0/10 on its WAN: an older-style router that reports its WAN address as is. */
export const MINIUPNPD_REPORTS_WAN_BIN = resolve(import.meta.dirname, '../../.cache/miniupnpd/miniupnpd-reports-wan');
/** Address of the ISP/internet namespace: the registry listens here. */
export const ISP_ADDRESS = '198.51.100.1';
export const NODE_ADDRESS = '192.168.1.10';
export const ROUTER_LAN_ADDRESS = '192.168.1.1';
/** How long miniupnpd gets to open its sockets (it prints nothing when ready). */
const MINIUPNPD_READY_MS = 5_000;

export type WorldKind =
  /** One NAT router with UPnP IGD, NAT-PMP and PCP. */
  | 'upnp'
  /** One NAT router with UPnP, NAT-PMP and PCP all off (plain masquerade, no miniupnpd). */
  | 'no-upnp'
  /** One NAT router answering NAT-PMP/PCP only. */
  | 'pmp-only'
  /** ISP modem router (NAT, no UPnP) + the user's router (miniupnpd) behind it. */
  | 'double-nat'
  /** Carrier NAT on 100.64.0.0/10 between the ISP and the user's router (miniupnpd, older-style: reports its WAN address). */
  | 'cgnat';

export interface WorldOptions {
  kind: WorldKind;
  /** Router WAN address (or the modem's / carrier NAT's). Default 198.51.100.2. */
  wanAddress?: string;
  /** The router describes itself as an IGDv1 device (WANIPConnection:1) instead of IGDv2. */
  igdV1?: boolean;
}

export interface World {
  readonly kind: WorldKind;
  readonly tag: string;
  /** Namespace names. */
  readonly ns: { isp: string; router: string; node: string; outer?: string };
  /** The address the internet sees: the outermost NAT's WAN address. */
  publicAddress(): string;
  /** Runs a command in a namespace; returns stdout. Throws with stderr on failure. */
  exec(ns: string, command: string, args: string[], timeoutMs?: number): string;
  /** Starts a long-running process in a namespace (stopped by PID in destroy()). */
  spawn(ns: string, command: string, args: string[], env?: NodeJS.ProcessEnv): RunningProcess;
  /** (Re)starts the router's miniupnpd. */
  startMiniupnpd(): Promise<void>;
  stopMiniupnpd(): Promise<void>;
  /** Deletes every mapping from the router's firewall behind miniupnpd's back (a "router that forgets"). */
  flushMappings(): void;
  /** The router reboots: miniupnpd stops, its chains and lease file are wiped, it starts again (new HTTP port, new epoch). */
  rebootRouter(): Promise<void>;
  /** The ISP hands the outermost NAT a new WAN address (same /24). */
  changeWanAddress(address: string): void;
  /** What the router's miniupnpd printed so far (for failure messages). */
  miniupnpdOutput(): string;
  /** `upnpc -l`-style view from the router's side: the nft ruleset of miniupnpd's chains. */
  routerRuleset(): string;
  destroy(): Promise<void>;
}

/** Runs a command and returns stdout; throws with its stderr (and stdout) on failure. */
export function runCommand(command: string, args: string[], timeoutMs = 10_000, env?: NodeJS.ProcessEnv): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'], ...(env ? { env } : {}) });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${command} ${args.join(' ')} failed: ${e.stderr || e.message}${e.stdout ? `\nstdout: ${e.stdout.slice(-2000)}` : ''}`, { cause: err });
  }
}
const run = runCommand;

/** miniupnpd's nft structure (as Debian's nft_init.sh lays it out) plus our masquerade. */
export function routerRules(wanIf: string, lanIf: string): string {
  return `
table inet filter {
  chain forward {
    type filter hook forward priority 0; policy drop;
    ct state established,related accept
    iifname "${lanIf}" accept
    jump miniupnpd
  }
  chain miniupnpd {
  }
  chain prerouting {
    type nat hook prerouting priority -100; policy accept;
    jump prerouting_miniupnpd
  }
  chain postrouting {
    type nat hook postrouting priority 100; policy accept;
    jump postrouting_miniupnpd
  }
  chain prerouting_miniupnpd {
  }
  chain postrouting_miniupnpd {
  }
}
table ip ngnat {
  chain post {
    type nat hook postrouting priority 110;
    oifname "${wanIf}" masquerade
  }
}
`;
}

function plainNatRules(wanIf: string): string {
  return `table ip ngnat {\n  chain post {\n    type nat hook postrouting priority 100;\n    oifname "${wanIf}" masquerade\n  }\n}\n`;
}

export async function createWorld(options: WorldOptions): Promise<World> {
  const kind = options.kind;
  const tag = randomBytes(3).toString('hex');
  const dir = await mkdtemp(join(tmpdir(), `ngr-${tag}-`));
  const ns = {
    isp: `ngr-${tag}-isp`,
    router: `ngr-${tag}-rtr`,
    node: `ngr-${tag}-node`,
    ...(kind === 'double-nat' || kind === 'cgnat' ? { outer: `ngr-${tag}-out` } : {}),
  };
  const created: string[] = [];
  const processes = new Set<RunningProcess>();
  let miniupnpd: RunningProcess | undefined;
  let outerWan = options.wanAddress ?? '198.51.100.2';
  const ip = (n: string, ...args: string[]) => run('ip', ['-n', n, ...args]);
  const inNs = (n: string, command: string, args: string[], timeoutMs?: number) =>
    run('ip', ['netns', 'exec', n, command, ...args], timeoutMs);
  const nft = (n: string, rules: string) => {
    const file = join(dir, `${n}.nft`);
    execFileSync('bash', ['-c', `cat > ${JSON.stringify(file)}`], { input: rules });
    inNs(n, 'nft', ['-f', file]);
  };
  const link = (a: string, aIf: string, b: string, bIf: string) => {
    run('ip', ['link', 'add', aIf, 'netns', a, 'type', 'veth', 'peer', 'name', bIf, 'netns', b]);
    ip(a, 'link', 'set', aIf, 'up');
    ip(b, 'link', 'set', bIf, 'up');
  };
  const v = (s: string) => `ngr${tag}${s}`; // veth names: 3 + 6 + 2 <= 15 chars
  const routerWanIf = v('rw');
  const routerLanIf = v('rl');

  const world: World = {
    kind,
    tag,
    ns,
    publicAddress: () => outerWan,
    exec: inNs,
    spawn(n, command, args, env) {
      const p = startProcess('ip', ['netns', 'exec', n, command, ...args], env ? { env: { ...process.env, ...env } } : {});
      processes.add(p);
      return p;
    },
    async startMiniupnpd() {
      if (miniupnpd) await world.stopMiniupnpd();
      const upnpOn = kind !== 'no-upnp' && kind !== 'pmp-only';
      const pmpOn = kind !== 'no-upnp';
      const conf = [
        `ext_ifname=${routerWanIf}`,
        `listening_ip=${routerLanIf}`,
        'http_port=0',
        `enable_upnp=${upnpOn ? 'yes' : 'no'}`,
        `enable_natpmp=${pmpOn ? 'yes' : 'no'}`,
        'secure_mode=yes',
        // the NAT-PMP/PCP epoch counts from the daemon's start, so a restart looks like a reboot
        'system_uptime=no',
        ...(options.igdV1 ? ['force_igd_desc_v1=yes'] : []),
        'notify_interval=30',
        'clean_ruleset_interval=600',
        `uuid=3d3cec3a-8cf0-11e0-98ee-001a6b${tag}`,
        `lease_file=${join(dir, 'upnp.leases')}`,
        'min_lifetime=60',
        'max_lifetime=86400',
        'allow 1024-65535 192.168.1.0/24 1024-65535',
        'deny 0-65535 0.0.0.0/0 0-65535',
      ].join('\n');
      const file = join(dir, 'miniupnpd.conf');
      await writeFile(file, conf + '\n');
      // older routers report their own WAN address even when it is not public: the CGNAT world
      // shows that variant, the double-NAT world shows 2.3.1's own (empty address, error 501)
      const bin = kind === 'cgnat' ? MINIUPNPD_REPORTS_WAN_BIN : MINIUPNPD_BIN;
      // its own pid file: the default /var/run/miniupnpd.pid is shared by every namespace
      const p = world.spawn(ns.router, bin, ['-d', '-f', file, '-P', join(dir, 'miniupnpd.pid')]);
      miniupnpd = p;
      await waitForSocket(() => inNs(ns.router, 'ss', ['-lnup']), pmpOn ? /:5351\b/ : upnpOn ? /:1900\b/ : null, p, MINIUPNPD_READY_MS);
    },
    async stopMiniupnpd() {
      const p = miniupnpd;
      miniupnpd = undefined;
      if (p) {
        await p.stop(3_000);
        processes.delete(p);
      }
    },
    flushMappings() {
      for (const chain of ['miniupnpd', 'prerouting_miniupnpd', 'postrouting_miniupnpd']) {
        inNs(ns.router, 'nft', ['flush', 'chain', 'inet', 'filter', chain]);
      }
    },
    async rebootRouter() {
      await world.stopMiniupnpd();
      world.flushMappings();
      await rm(join(dir, 'upnp.leases'), { force: true });
      await world.startMiniupnpd();
    },
    changeWanAddress(address) {
      const n = ns.outer ?? ns.router;
      const dev = ns.outer ? v('ow') : routerWanIf;
      const old = outerWan;
      ip(n, 'addr', 'add', `${address}/24`, 'dev', dev);
      ip(n, 'addr', 'del', `${old}/24`, 'dev', dev);
      ip(n, 'route', 'replace', 'default', 'via', ISP_ADDRESS);
      // masquerade drops its conntrack entries when the address goes; do the same for leftovers
      try {
        inNs(n, 'conntrack', ['-F']);
      } catch {
        // conntrack(8) may be absent: masquerade's own flush on address removal is enough
      }
      outerWan = address;
    },
    miniupnpdOutput: () => miniupnpd?.output() ?? '',
    routerRuleset() {
      return inNs(ns.router, 'nft', ['list', 'table', 'inet', 'filter']);
    },
    async destroy() {
      const errors: unknown[] = [];
      for (const p of processes) {
        try {
          await p.stop(2_000);
        } catch (err) {
          errors.push(err);
        }
      }
      for (const n of created.reverse()) {
        try {
          run('ip', ['netns', 'del', n]);
        } catch (err) {
          errors.push(err);
        }
      }
      await rm(dir, { recursive: true, force: true });
      if (errors.length) throw new AggregateError(errors, `world ${tag}: cleanup failed`);
    },
  };

  try {
    if (!existsSync(MINIUPNPD_BIN)) {
      throw new Error(`${MINIUPNPD_BIN} is missing: run scripts/setup.d/miniupnpd.sh (as root) once.`);
    }
    for (const n of Object.values(ns)) {
      run('ip', ['netns', 'add', n]);
      created.push(n);
      ip(n, 'link', 'set', 'lo', 'up');
    }
    const routerWanPeerNs = ns.outer ?? ns.isp;
    // outermost link: ISP <-> (outer NAT | router)
    if (ns.outer) {
      link(ns.isp, v('iw'), ns.outer, v('ow'));
      ip(ns.isp, 'addr', 'add', `${ISP_ADDRESS}/24`, 'dev', v('iw'));
      ip(ns.outer, 'addr', 'add', `${outerWan}/24`, 'dev', v('ow'));
      ip(ns.outer, 'route', 'add', 'default', 'via', ISP_ADDRESS);
      inNs(ns.outer, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1', 'net.ipv4.conf.all.promote_secondaries=1']);
      nft(ns.outer, plainNatRules(v('ow')));
      const inside = kind === 'cgnat' ? { outer: '100.64.0.1', router: '100.64.0.2', len: 10 } : { outer: '192.168.0.1', router: '192.168.0.2', len: 24 };
      link(ns.outer, v('ol'), ns.router, routerWanIf);
      ip(ns.outer, 'addr', 'add', `${inside.outer}/${inside.len}`, 'dev', v('ol'));
      ip(ns.router, 'addr', 'add', `${inside.router}/${inside.len}`, 'dev', routerWanIf);
      ip(ns.router, 'route', 'add', 'default', 'via', inside.outer);
    } else {
      link(routerWanPeerNs, v('iw'), ns.router, routerWanIf);
      ip(ns.isp, 'addr', 'add', `${ISP_ADDRESS}/24`, 'dev', v('iw'));
      ip(ns.router, 'addr', 'add', `${outerWan}/24`, 'dev', routerWanIf);
      ip(ns.router, 'route', 'add', 'default', 'via', ISP_ADDRESS);
    }
    link(ns.router, routerLanIf, ns.node, v('nl'));
    ip(ns.router, 'addr', 'add', `${ROUTER_LAN_ADDRESS}/24`, 'dev', routerLanIf);
    ip(ns.node, 'addr', 'add', `${NODE_ADDRESS}/24`, 'dev', v('nl'));
    ip(ns.node, 'route', 'add', 'default', 'via', ROUTER_LAN_ADDRESS);
    // multicast to 224.0.0.1 (NAT-PMP announcements) leaves through the LAN interface
    inNs(ns.router, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1', 'net.ipv4.conf.all.promote_secondaries=1']);
    nft(ns.router, routerRules(routerWanIf, routerLanIf));
    if (kind !== 'no-upnp') await world.startMiniupnpd();
    return world;
  } catch (err) {
    try {
      await world.destroy();
    } catch {
      // the setup failure is the error worth reporting; destroy() logged what it could
    }
    throw err;
  }
}

async function waitForSocket(list: () => string, pattern: RegExp | null, p: RunningProcess, timeoutMs: number): Promise<void> {
  if (!pattern) return;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (pattern.test(list())) return;
    const exited = await Promise.race([p.exited.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 100))]);
    if (exited) throw new Error(`miniupnpd exited early:\n${p.output().slice(-3000)}`);
    if (Date.now() > deadline) throw new Error(`miniupnpd did not open ${pattern} within ${timeoutMs} ms:\n${p.output().slice(-3000)}`);
  }
}
