/**
 * BIND 9 (named, Debian package `bind9`) as a child process for tests: a temp directory with its
 * config, zone file and journal, one loopback port (UDP and TCP), a TSIG key and `allow-update`
 * with that key. `minimal-responses yes` so answers carry no optional authority/additional data
 * (like Knot and the embedded server). Stopped by its PID.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TsigKey } from '../../ddns/tsig.ts';
import { freePort, startProcess, tempDir, type RunningProcess } from './process.ts';
import { whenServing, type AuthoritativeServer } from './dns-server.ts';

/** How long named may take to start and load its zone, ms. */
const BIND_START_TIMEOUT_MS = 20_000;

export interface BindOptions {
  zone: string;
  nameservers?: Array<{ name: string; ipv4?: string; ipv6?: string }>;
  hostmaster?: string;
  /** Default: a fresh random hmac-sha256 key named `nodegate-test`. */
  tsig?: TsigKey;
  host?: string;
}

export type BindServer = AuthoritativeServer;

export async function startBind(options: BindOptions): Promise<BindServer> {
  const zone = options.zone.replace(/\.$/, '').toLowerCase();
  const host = options.host ?? '127.0.0.1';
  const nameservers = options.nameservers ?? [{ name: `ns1.${zone}`, ipv4: '127.0.0.1' }];
  const tsig: TsigKey = options.tsig ?? { name: 'nodegate-test', algorithm: 'hmac-sha256', secret: randomBytes(32).toString('base64') };
  const dir = await tempDir('nodegate-bind-');
  let proc: RunningProcess | undefined;
  try {
    const port = await freePort(host);
    const hostmaster = options.hostmaster ?? `hostmaster.${zone}`;
    const zoneLines = [
      `$ORIGIN ${zone}.`,
      `@ 3600 IN SOA ${nameservers[0]!.name}. ${hostmaster}. 1 3600 600 1209600 30`,
      ...nameservers.map((ns) => `@ 3600 IN NS ${ns.name}.`),
      ...nameservers.flatMap((ns) => {
        const inZone = ns.name === zone || ns.name.endsWith(`.${zone}`);
        if (!inZone) return [];
        return [...(ns.ipv4 ? [`${ns.name}. 3600 IN A ${ns.ipv4}`] : []), ...(ns.ipv6 ? [`${ns.name}. 3600 IN AAAA ${ns.ipv6}`] : [])];
      }),
      '',
    ];
    await writeFile(join(dir.path, `${zone}.zone`), zoneLines.join('\n'));
    const conf = `options {
  directory "${dir.path}";
  pid-file "${dir.path}/named.pid";
  listen-on port ${port} { ${host}; };
  listen-on-v6 { none; };
  recursion no;
  minimal-responses yes;
  notify no;
  dnssec-validation no;
  session-keyfile "${dir.path}/session.key";
  managed-keys-directory "${dir.path}";
};
key "${tsig.name}" { algorithm ${tsig.algorithm}; secret "${tsig.secret}"; };
controls { };
zone "${zone}" {
  type primary;
  file "${dir.path}/${zone}.zone";
  journal "${dir.path}/${zone}.jnl";
  allow-update { key "${tsig.name}"; };
};
`;
    const confPath = join(dir.path, 'named.conf');
    await writeFile(confPath, conf);
    proc = startProcess('named', ['-g', '-c', confPath, '-n', '1']);
    await proc.waitFor(/running|loaded serial/, BIND_START_TIMEOUT_MS);
    return await whenServing('named', { host, port, zone, tsig, process: proc, dir, timeoutMs: BIND_START_TIMEOUT_MS });
  } catch (err) {
    try {
      await proc?.stop();
    } finally {
      await dir.remove();
    }
    throw err;
  }
}
