/**
 * BIND 9 (named, Debian package `bind9`) as a child process for tests: a temp directory with its
 * config, zone file and journal, one loopback port (UDP and TCP), a TSIG key and `allow-update`
 * with that key. `minimal-responses yes` so answers carry no optional authority/additional data
 * (like Knot and the embedded server). Stopped by its PID.
 *
 * With `forward`, it also resolves, for loopback clients only, the names of other zones by asking
 * the given server (as a user's resolver would reach the registry through the delegation): a CNAME
 * in the zone to a name there is followed in the answer. Nothing else is resolved — every query
 * goes to that one server and the root is a static stub at 127.0.0.1, so BIND sends no query off
 * this machine.
 */
import { startProcess } from '../../sim/process.ts';
import { startAuthoritative, type AuthoritativeOptions, type AuthoritativeServer } from './dns-server.ts';

/** How long named may take to start and load its zone, ms. */
const BIND_START_TIMEOUT_MS = 20_000;

export interface BindOptions extends AuthoritativeOptions {
  /** Extra zone-file lines, e.g. `_acme-challenge 300 IN CNAME <uuid>.<registry zone>.`. */
  zoneRecords?: string;
  /** Resolve other zones by forwarding to this server (loopback clients only). */
  forward?: { host: string; port: number };
}

export type BindServer = AuthoritativeServer;

export function startBind(options: BindOptions): Promise<BindServer> {
  return startAuthoritative(options, {
    name: 'named',
    dirPrefix: 'nodegate-bind-',
    configFile: 'named.conf',
    zoneRecords: options.zoneRecords,
    config: ({ dir, host, port, zone, tsig }) => `options {
  directory "${dir}";
  pid-file "${dir}/named.pid";
  listen-on port ${port} { ${host}; };
  listen-on-v6 { none; };
${
  options.forward
    ? `  recursion yes;
  allow-recursion { 127.0.0.0/8; };
  allow-query-cache { 127.0.0.0/8; };
  forward only;
  forwarders { ${options.forward.host} port ${options.forward.port}; };`
    : '  recursion no;'
}
  minimal-responses yes;
  notify no;
  dnssec-validation no;
  session-keyfile "${dir}/session.key";
  managed-keys-directory "${dir}";
};
key "${tsig.name}" { algorithm ${tsig.algorithm}; secret "${tsig.secret}"; };
controls { };
zone "${zone}" {
  type primary;
  file "${dir}/${zone}.zone";
  journal "${dir}/${zone}.jnl";
  allow-update { key "${tsig.name}"; };
};
${options.forward ? 'zone "." { type static-stub; server-addresses { 127.0.0.1; }; };\n' : ''}`,
    launch: (configPath) => startProcess('named', ['-g', '-c', configPath, '-n', '1']),
    loaded: /running|loaded serial/,
    startTimeoutMs: BIND_START_TIMEOUT_MS,
  });
}
