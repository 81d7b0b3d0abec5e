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
import type { RunningProcess } from '../../sim/process.ts';
import { createNamespaces, type Namespaces } from './namespaces.ts';

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

/** Every `ip`/`nft` call made here is bounded by this, ms. */
const COMMAND_TIMEOUT_MS = 10_000;

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

export interface MiniupnpdOptions {
  /** {@link MINIUPNPD_BIN} or {@link MINIUPNPD_REPORTS_WAN_BIN}. */
  bin: string;
  /** The router's namespace. */
  router: string;
  wanIf: string;
  lanIf: string;
  /** Where its config, lease and pid files go. */
  dir: string;
  /** The world's tag, the end of the router's UUID. */
  tag: string;
  upnp: boolean;
  /** NAT-PMP and PCP. */
  natpmp: boolean;
  /**
   * `system_uptime`: the NAT-PMP/PCP epoch is the machine's uptime; without it the epoch counts from
   * the daemon's start, so a restart looks like a reboot.
   */
  systemUptime: boolean;
  /** The router describes itself as an IGDv1 device (WANIPConnection:1). */
  igdV1?: boolean;
}

/**
 * Starts the router's miniupnpd and waits until it has opened its NAT-PMP socket (its SSDP socket
 * with NAT-PMP off; it prints nothing when ready).
 */
export async function startMiniupnpd(namespaces: Namespaces, o: MiniupnpdOptions): Promise<RunningProcess> {
  const conf = [
    `ext_ifname=${o.wanIf}`,
    `listening_ip=${o.lanIf}`,
    'http_port=0',
    `enable_upnp=${o.upnp ? 'yes' : 'no'}`,
    `enable_natpmp=${o.natpmp ? 'yes' : 'no'}`,
    'secure_mode=yes',
    `system_uptime=${o.systemUptime ? 'yes' : 'no'}`,
    ...(o.igdV1 ? ['force_igd_desc_v1=yes'] : []),
    'notify_interval=30',
    'clean_ruleset_interval=600',
    `uuid=3d3cec3a-8cf0-11e0-98ee-001a6b${o.tag}`,
    `lease_file=${join(o.dir, 'upnp.leases')}`,
    'min_lifetime=60',
    'max_lifetime=86400',
    'allow 1024-65535 192.168.1.0/24 1024-65535',
    'deny 0-65535 0.0.0.0/0 0-65535',
  ].join('\n');
  const file = join(o.dir, 'miniupnpd.conf');
  await writeFile(file, conf + '\n');
  // its own pid file: the default /var/run/miniupnpd.pid is shared by every namespace
  const p = namespaces.spawn(o.router, o.bin, ['-d', '-f', file, '-P', join(o.dir, 'miniupnpd.pid')]);
  await waitForSocket(() => namespaces.exec(o.router, 'ss', ['-lnup']), o.natpmp ? /:5351\b/ : o.upnp ? /:1900\b/ : null, p, MINIUPNPD_READY_MS);
  return p;
}

/**
 * The ISP gives `dev` in namespace `n` a new address in the same /24: the old one goes, the default
 * route via `gateway` is renewed, conntrack is flushed.
 */
export function renumberWan(namespaces: Namespaces, n: string, dev: string, from: string, to: string, gateway: string): void {
  namespaces.ip(n, 'addr', 'add', `${to}/24`, 'dev', dev);
  namespaces.ip(n, 'addr', 'del', `${from}/24`, 'dev', dev);
  namespaces.ip(n, 'route', 'replace', 'default', 'via', gateway);
  // masquerade drops its conntrack entries when the address goes; do the same for leftovers
  try {
    namespaces.exec(n, 'conntrack', ['-F']);
  } catch {
    // conntrack(8) may be absent: masquerade's own flush on address removal is enough
  }
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
  const namespaces = createNamespaces(COMMAND_TIMEOUT_MS);
  const { ip, link, exec: inNs } = namespaces;
  let miniupnpd: RunningProcess | undefined;
  let outerWan = options.wanAddress ?? '198.51.100.2';
  const nft = (n: string, rules: string) => {
    const file = join(dir, `${n}.nft`);
    execFileSync('bash', ['-c', `cat > ${JSON.stringify(file)}`], { input: rules });
    inNs(n, 'nft', ['-f', file]);
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
    spawn: namespaces.spawn,
    async startMiniupnpd() {
      if (miniupnpd) await world.stopMiniupnpd();
      miniupnpd = await startMiniupnpd(namespaces, {
        // older routers report their own WAN address even when it is not public: the CGNAT world
        // shows that variant, the double-NAT world shows 2.3.1's own (empty address, error 501)
        bin: kind === 'cgnat' ? MINIUPNPD_REPORTS_WAN_BIN : MINIUPNPD_BIN,
        router: ns.router,
        wanIf: routerWanIf,
        lanIf: routerLanIf,
        dir,
        tag,
        upnp: kind !== 'no-upnp' && kind !== 'pmp-only',
        natpmp: kind !== 'no-upnp',
        systemUptime: false, // a restart of miniupnpd is a router reboot (rebootRouter)
        igdV1: options.igdV1,
      });
    },
    async stopMiniupnpd() {
      const p = miniupnpd;
      miniupnpd = undefined;
      if (p) {
        await p.stop(3_000);
        namespaces.forget(p);
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
      renumberWan(namespaces, n, dev, outerWan, address, ISP_ADDRESS);
      outerWan = address;
    },
    miniupnpdOutput: () => miniupnpd?.output() ?? '',
    routerRuleset() {
      return inNs(ns.router, 'nft', ['list', 'table', 'inet', 'filter']);
    },
    async destroy() {
      const errors = await namespaces.destroy();
      await rm(dir, { recursive: true, force: true });
      if (errors.length) throw new AggregateError(errors, `world ${tag}: cleanup failed`);
    },
  };

  try {
    if (!existsSync(MINIUPNPD_BIN)) {
      throw new Error(`${MINIUPNPD_BIN} is missing: run scripts/setup.d/miniupnpd.sh (as root) once.`);
    }
    for (const n of Object.values(ns)) namespaces.add(n);
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
