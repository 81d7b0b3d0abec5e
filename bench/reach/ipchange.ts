/**
 * Benchmark: time from the ISP changing the home's WAN address to the registry's DNS answering the
 * new address, for nodegate's ReachabilityService (default config: STUN echo every 2 s, router check,
 * NAT-PMP announcements) and for ddclient (Debian's 3.10, dyndns2 against the registry's
 * /nic/update, public address from the registry's whoami) in the same simulated home.
 *
 *   node bin/run-ts.js bench/reach/ipchange.ts [--changes 20] [--ddclient-changes 6] [--ddclient-daemon 60]
 *
 * ddclient polls: its latency is set by `daemon=` (Debian's service default 300 s; 60 s is the
 * smallest ddclient accepts). Each change happens at a random moment of the poll cycle so the
 * samples are not phase-locked. Prints a markdown table.
 */
import { writeFile, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { createHome, REGISTRY_URL, type Home } from '../../test/world/home.ts';
import { ISP_ADDRESS } from '../../test/world/netns.ts';

/** How often the bench asks the registry's DNS (dig in the ISP namespace), ms: the measurement's resolution. */
const DNS_POLL_MS = 100;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export async function main(argv = process.argv.slice(2)): Promise<string> {
  const { values } = parseArgs({ args: argv, options: { changes: { type: 'string' }, 'ddclient-changes': { type: 'string' }, 'ddclient-daemon': { type: 'string' } } });
  const changes = Number(values.changes ?? 20);
  const ddChanges = Number(values['ddclient-changes'] ?? 6);
  const ddDaemonS = Number(values['ddclient-daemon'] ?? 60);
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  let next = 30;
  const nextAddress = () => `198.51.100.${next++}`;
  const waitForDns = async (home: Home, address: string, boundMs: number): Promise<number> => {
    const t0 = Date.now();
    while (Date.now() - t0 < boundMs) {
      if (home.dnsA()[0] === address) return Date.now() - t0;
      await sleep(DNS_POLL_MS);
    }
    throw new Error(`DNS did not answer ${address} within ${boundMs} ms`);
  };
  const measure = async (home: Home, count: number, spreadMs: number, boundMs: number): Promise<number[]> => {
    const out: number[] = [];
    for (let i = 0; i < count; i++) {
      await sleep(Math.random() * spreadMs); // a random moment of the client's check cycle
      const address = nextAddress();
      const t0 = Date.now();
      home.world.changeWanAddress(address);
      await waitForDns(home, address, boundMs);
      out.push(Date.now() - t0);
      process.stderr.write(`.`);
    }
    return out.sort((a, b) => a - b);
  };
  /** nodegate with its default reachability config in a world of `kind`. */
  const nodegate = async (kind: 'upnp' | 'no-upnp'): Promise<number[]> => {
    const home = await createHome(kind);
    try {
      const configPath = join(home.dataDir, 'config.json');
      const config = JSON.parse(await readFile(configPath, 'utf8')) as { reachability: Record<string, unknown> };
      config.reachability = { internalPort: config.reachability.internalPort };
      await writeFile(configPath, JSON.stringify(config));
      const service = await home.startService();
      await waitForDns(home, home.world.publicAddress(), 20_000);
      const xs = await measure(home, changes, 2_000, 30_000);
      await service.stop(10_000);
      return xs;
    } finally {
      await home.destroy();
    }
  };
  const ngUpnp = await nodegate('upnp');
  const ngPlain = await nodegate('no-upnp');
  const home = await createHome('upnp', { listen: false });
  try {
    // ddclient, foreground daemon, dyndns2 to the registry, default settings otherwise
    const registration = JSON.parse(await readFile(join(home.dataDir, 'device/registration.json'), 'utf8')) as { name: string; updateSecret?: string };
    const conf = join(home.dataDir, 'ddclient.conf');
    await writeFile(
      conf,
      [
        `daemon=${ddDaemonS}`,
        'ssl=no',
        `usev4=webv4, webv4=${REGISTRY_URL}/v1/whoami`,
        'protocol=dyndns2',
        `server=${ISP_ADDRESS}:8053`,
        `login=${registration.name}`,
        `password='${registration.updateSecret ?? ''}'`,
        registration.name,
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    const dd = home.world.spawn(home.world.ns.node, 'ddclient', ['-foreground', '-file', conf, '-cache', join(home.dataDir, 'ddclient.cache'), '-verbose']);
    const firstAddress = nextAddress();
    home.world.changeWanAddress(firstAddress);
    await waitForDns(home, firstAddress, (ddDaemonS + 60) * 1000);
    const ddc = await measure(home, ddChanges, ddDaemonS * 1000, (2 * ddDaemonS + 60) * 1000);
    await dd.stop(5_000);

    const row = (label: string, xs: number[]) => `| ${label} | ${xs.length} | ${(percentile(xs, 50) / 1000).toFixed(2)} | ${(percentile(xs, 95) / 1000).toFixed(2)} | ${(xs[xs.length - 1]! / 1000).toFixed(2)} |`;
    const ratio = percentile(ddc, 50) / percentile(ngPlain, 50);
    const table = [
      '| client | changes | median s | p95 s | max s |',
      '|---|---|---|---|---|',
      row('nodegate, router with UPnP/NAT-PMP/PCP (defaults)', ngUpnp),
      row('nodegate, router with UPnP/NAT-PMP/PCP off (defaults: STUN echo every 2 s)', ngPlain),
      row(`ddclient 3.10 (dyndns2, daemon=${ddDaemonS})`, ddc),
      '',
      `ddclient / nodegate (router without UPnP) median ratio: ${ratio.toFixed(1)}x. DNS polled every ${DNS_POLL_MS} ms. ddclient's delay scales with its daemon= interval (Debian's service default: 300 s; 60 s is the least it accepts).`,
    ].join('\n');
    process.stderr.write('\n');
    return table;
  } finally {
    await home.destroy();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.stdout.write((await main()) + '\n');
}
