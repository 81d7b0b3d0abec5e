/**
 * The end-to-end world: network namespaces joined by veth pairs, traffic never leaves them.
 *
 *   internet (ISP: 198.51.100.1/24 towards homes, 203.0.113.1/24 towards phones; forwards between)
 *     │   the registry (API :8053, embedded DNS :53, STUN :3478) and pebble (ACME :14000) run here
 *     ├─ phone: 203.0.113.10/24, /etc/netns/<phone>/resolv.conf → nameserver 198.51.100.1
 *     └─ router: WAN 198.51.100.2/24, LAN 192.168.1.1/24, nftables masquerade + miniupnpd
 *          └─ node: 192.168.1.10/24 (nodegate, the LND simulator, the dashboard)
 *
 * Namespace names start with `ngw-` and a random tag. `destroy()` stops every process started here
 * by PID, deletes the namespaces and the /etc/netns/<phone> directory; call it in afterAll/finally.
 * The namespaces are kept by namespaces.ts; the router's rules and its miniupnpd (the same patched
 * build, scripts/setup.d/miniupnpd.sh) are those of test/world/netns.ts, the reachability part's worlds.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningProcess } from '../../sim/process.ts';
import { createNamespaces } from './namespaces.ts';
import { MINIUPNPD_BIN, renumberWan, routerRules, startMiniupnpd } from './netns.ts';

export const ISP_ADDRESS = '198.51.100.1';
export const ISP_PHONE_SIDE = '203.0.113.1';
export const PHONE_ADDRESS = '203.0.113.10';
export const ROUTER_LAN_ADDRESS = '192.168.1.1';
export const NODE_ADDRESS = '192.168.1.10';
export const FIRST_WAN_ADDRESS = '198.51.100.2';
/** Every `ip`/`nft`/`dig` call made here is bounded by this. */
const COMMAND_TIMEOUT_MS = 15_000;

export interface E2eWorld {
  readonly tag: string;
  readonly ns: { isp: string; router: string; node: string; phone: string };
  /** The router's current WAN address (what the internet sees). */
  wanAddress(): string;
  /** Runs a command in a namespace and returns stdout; throws with stderr (and stdout) on failure. */
  exec(ns: string, command: string, args: string[], timeoutMs?: number, env?: NodeJS.ProcessEnv): string;
  /** Starts a long-running process in a namespace (`ip netns exec` execs it: same PID). Stopped by PID in destroy(). */
  spawn(ns: string, command: string, args: string[], env?: NodeJS.ProcessEnv): RunningProcess;
  /** Forgets a process that already exited (so destroy() does not wait on it). */
  forget(p: RunningProcess): void;
  /** The ISP gives the router a new WAN address in the same /24 (old one gone, conntrack flushed). */
  changeWanAddress(address: string): void;
  miniupnpdOutput(): string;
  destroy(): Promise<void>;
}

export async function createE2eWorld(): Promise<E2eWorld> {
  if (!existsSync(MINIUPNPD_BIN)) throw new Error(`${MINIUPNPD_BIN} is missing: run scripts/setup.d/miniupnpd.sh (as root) once.`);
  const tag = randomBytes(3).toString('hex');
  const dir = await mkdtemp(join(tmpdir(), `ngw-${tag}-`));
  const ns = { isp: `ngw-${tag}-isp`, router: `ngw-${tag}-rtr`, node: `ngw-${tag}-node`, phone: `ngw-${tag}-phone` };
  const etcNetns = `/etc/netns/${ns.phone}`;
  const namespaces = createNamespaces(COMMAND_TIMEOUT_MS);
  const { ip, link, exec: inNs } = namespaces;
  let miniupnpd: RunningProcess | undefined;
  let wan = FIRST_WAN_ADDRESS;
  const v = (s: string) => `ngw${tag}${s}`; // veth names: 3 + 6 + 2 <= 15 chars
  const routerWanIf = v('rw');
  const routerLanIf = v('rl');

  const world: E2eWorld = {
    tag,
    ns,
    wanAddress: () => wan,
    exec: inNs,
    spawn: namespaces.spawn,
    forget: namespaces.forget,
    changeWanAddress(address) {
      renumberWan(namespaces, ns.router, routerWanIf, wan, address, ISP_ADDRESS);
      wan = address;
    },
    miniupnpdOutput: () => miniupnpd?.output() ?? '',
    async destroy() {
      const errors = await namespaces.destroy({ killLeftovers: true });
      await rm(etcNetns, { recursive: true, force: true });
      await rm(dir, { recursive: true, force: true });
      if (errors.length) throw new AggregateError(errors, `e2e world ${tag}: cleanup failed`);
    },
  };

  try {
    for (const n of Object.values(ns)) namespaces.add(n);
    // the phone's resolver is the registry's DNS (ip netns exec bind-mounts this over /etc/resolv.conf)
    await mkdir(etcNetns, { recursive: true });
    await writeFile(join(etcNetns, 'resolv.conf'), `nameserver ${ISP_ADDRESS}\noptions timeout:1 attempts:2\n`);

    link(ns.isp, v('iw'), ns.router, routerWanIf);
    ip(ns.isp, 'addr', 'add', `${ISP_ADDRESS}/24`, 'dev', v('iw'));
    ip(ns.router, 'addr', 'add', `${wan}/24`, 'dev', routerWanIf);
    ip(ns.router, 'route', 'add', 'default', 'via', ISP_ADDRESS);

    link(ns.isp, v('ip'), ns.phone, v('pp'));
    ip(ns.isp, 'addr', 'add', `${ISP_PHONE_SIDE}/24`, 'dev', v('ip'));
    ip(ns.phone, 'addr', 'add', `${PHONE_ADDRESS}/24`, 'dev', v('pp'));
    ip(ns.phone, 'route', 'add', 'default', 'via', ISP_PHONE_SIDE);
    inNs(ns.isp, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);

    link(ns.router, routerLanIf, ns.node, v('nl'));
    ip(ns.router, 'addr', 'add', `${ROUTER_LAN_ADDRESS}/24`, 'dev', routerLanIf);
    ip(ns.node, 'addr', 'add', `${NODE_ADDRESS}/24`, 'dev', v('nl'));
    ip(ns.node, 'route', 'add', 'default', 'via', ROUTER_LAN_ADDRESS);
    inNs(ns.router, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1', 'net.ipv4.conf.all.promote_secondaries=1']);
    const rulesFile = join(dir, 'router.nft');
    await writeFile(rulesFile, routerRules(routerWanIf, routerLanIf));
    inNs(ns.router, 'nft', ['-f', rulesFile]);

    miniupnpd = await startMiniupnpd(namespaces, {
      bin: MINIUPNPD_BIN,
      router: ns.router,
      wanIf: routerWanIf,
      lanIf: routerLanIf,
      dir,
      tag,
      upnp: true,
      natpmp: true,
      systemUptime: true,
    });
    return world;
  } catch (err) {
    await world.destroy().catch(() => undefined);
    throw err;
  }
}
