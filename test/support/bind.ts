/**
 * BIND 9 (named, Debian package `bind9`) as a child process for tests: a temp directory with its
 * config, zone file and journal, one loopback port (UDP and TCP), a TSIG key and `allow-update`
 * with that key. `minimal-responses yes` so answers carry no optional authority/additional data
 * (like Knot and the embedded server). Stopped by its PID.
 */
import { startProcess } from '../../sim/process.ts';
import { startAuthoritative, type AuthoritativeOptions, type AuthoritativeServer } from './dns-server.ts';

/** How long named may take to start and load its zone, ms. */
const BIND_START_TIMEOUT_MS = 20_000;

export type BindOptions = AuthoritativeOptions;

export type BindServer = AuthoritativeServer;

export function startBind(options: BindOptions): Promise<BindServer> {
  return startAuthoritative(options, {
    name: 'named',
    dirPrefix: 'nodegate-bind-',
    configFile: 'named.conf',
    config: ({ dir, host, port, zone, tsig }) => `options {
  directory "${dir}";
  pid-file "${dir}/named.pid";
  listen-on port ${port} { ${host}; };
  listen-on-v6 { none; };
  recursion no;
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
`,
    launch: (configPath) => startProcess('named', ['-g', '-c', configPath, '-n', '1']),
    loaded: /running|loaded serial/,
    startTimeoutMs: BIND_START_TIMEOUT_MS,
  });
}
