/**
 * `nodegate registry`: runs a registry (API + DNS backend) until SIGTERM/SIGINT. Prints one line
 * when ready: `registry ready: api=<URL> dns=<HOST:PORT> zone=<ZONE>`.
 */
import { type Command, parseCommandArgs, parseHostPort, resolveDataDir, untilAborted } from '../../core/cli.ts';
import { NodegateError } from '../../core/errors.ts';
import { isIPv4, isIPv6 } from 'node:net';
import { DEFAULT_API, DEFAULT_DNS, DEFAULT_STUN_PORT, startRegistry, type NameserverOption, type StartRegistryOptions } from './main.ts';

const USAGE = `usage: nodegate registry --zone Z --data DIR [--api HOST:PORT] [--dns HOST:PORT] [--ns NAME=IP]...
                         [--allow-address CIDR]... [--enrollment-token TOKEN]... [--probe-ca FILE]
                         [--backend embedded|rfc2136 --rfc2136 HOST:PORT --tsig NAME:ALG:SECRET]
                         [--trust-proxy ADDRESS]... [--stun HOST:PORT|off]
                         [--dns-rate-limit N] [--dns-exempt CIDR]...

  --zone Z                 zone devices are named under (<id>.Z)
  --data DIR               registry database directory (or NODEGATE_DATA)
  --api HOST:PORT          HTTP API listener (default ${DEFAULT_API.host}:${DEFAULT_API.port})
  --dns HOST:PORT          embedded DNS listener, UDP and TCP (default ${DEFAULT_DNS.host}:${DEFAULT_DNS.port})
  --ns NAME=IP             apex NS name with its glue address (repeatable; default ns.Z = the DNS host)
  --allow-address CIDR     accept this special-purpose range for public records (repeatable; labs, tests)
  --enrollment-token T     accept only devices presenting one of these tokens (repeatable)
  --probe-ca FILE          extra CA (PEM) the reachability probe trusts
  --backend rfc2136        publish to an authoritative server by RFC 2136 UPDATE with TSIG instead
  --rfc2136 HOST:PORT      that server
  --tsig NAME:ALG:SECRET   its TSIG key (ALG e.g. hmac-sha256, SECRET base64)
  --trust-proxy ADDRESS    take the client address from X-Forwarded-For when the peer is this proxy
  --stun HOST:PORT|off     the STUN echo nodes use to see their address change within seconds
  --dns-rate-limit N       UDP answers per second to one client network for one answer (default 20,
                           0 = no limit); past it answers are dropped or sent truncated so the
                           server cannot be used to reflect a flood at a spoofed address
  --dns-exempt CIDR        a network never rate-limited, e.g. your own resolvers (repeatable;
                           loopback always is)
                           (default: the API's host, port ${DEFAULT_STUN_PORT}; off to run none)
`;

function parseNameserver(value: string): NameserverOption {
  const m = /^([^=\s]+)=(.+)$/.exec(value);
  const name = m?.[1]?.replace(/\.$/, '');
  const ip = m?.[2];
  if (!name || !ip || !(isIPv4(ip) || isIPv6(ip))) {
    throw new NodegateError('NG_USAGE', `--ns expects NAME=IP (for example ns1.dyn.example.net=198.51.100.53), got "${value}".\n\n${USAGE}`);
  }
  return isIPv4(ip) ? { name, ipv4: ip } : { name, ipv6: ip };
}

function parseTsig(value: string): { name: string; algorithm: string; secret: string } {
  const m = /^([^:]+):([a-z0-9-]+):([A-Za-z0-9+/=]+)$/.exec(value);
  if (!m) throw new NodegateError('NG_USAGE', `--tsig expects NAME:ALG:SECRET (for example nodegate:hmac-sha256:c2VjcmV0...), got something else.\n\n${USAGE}`);
  return { name: m[1]!, algorithm: m[2]!, secret: m[3]! };
}

export const command: Command = {
  name: 'registry',
  summary: 'run a registry: device names, embedded DNS, ACME TXT records',
  usage: USAGE,
  async run(args, io) {
    const { values } = parseCommandArgs(
      args,
      {
        zone: { type: 'string' },
        data: { type: 'string' },
        api: { type: 'string' },
        dns: { type: 'string' },
        ns: { type: 'string', multiple: true },
        'allow-address': { type: 'string', multiple: true },
        'enrollment-token': { type: 'string', multiple: true },
        'probe-ca': { type: 'string' },
        backend: { type: 'string' },
        rfc2136: { type: 'string' },
        tsig: { type: 'string' },
        'trust-proxy': { type: 'string', multiple: true },
        stun: { type: 'string' },
        'dns-rate-limit': { type: 'string' },
        'dns-exempt': { type: 'string', multiple: true },
      },
      USAGE,
    );
    if (!values.zone) throw new NodegateError('NG_USAGE', `Missing --zone Z.\n\n${USAGE}`);
    const dataDir = resolveDataDir(values.data, io.env, USAGE);
    let backend: StartRegistryOptions['backend'] = 'embedded';
    if (values.backend === 'rfc2136') {
      if (!values.rfc2136 || !values.tsig) throw new NodegateError('NG_USAGE', `--backend rfc2136 needs --rfc2136 HOST:PORT and --tsig NAME:ALG:SECRET.\n\n${USAGE}`);
      backend = { rfc2136: { server: parseHostPort(values.rfc2136, '--rfc2136'), tsig: parseTsig(values.tsig) } };
    } else if (values.backend !== undefined && values.backend !== 'embedded') {
      throw new NodegateError('NG_USAGE', `--backend is embedded or rfc2136, got "${values.backend}".\n\n${USAGE}`);
    }
    const rate = values['dns-rate-limit'];
    if (rate !== undefined && !/^\d+$/.test(rate)) throw new NodegateError('NG_USAGE', `--dns-rate-limit expects a whole number of answers per second (0 for no limit), got "${rate}".\n\n${USAGE}`);
    const api = values.api ? parseHostPort(values.api, '--api') : DEFAULT_API;
    const stun = values.stun === 'off' ? undefined : values.stun ? parseHostPort(values.stun, '--stun') : { host: api.host, port: DEFAULT_STUN_PORT };
    const registry = await startRegistry({
      zone: values.zone,
      dataDir,
      api,
      ...(stun ? { stun } : {}),
      dns: values.dns ? parseHostPort(values.dns, '--dns') : DEFAULT_DNS,
      ...(values.ns ? { nameservers: values.ns.map(parseNameserver) } : {}),
      allowAddresses: values['allow-address'] ?? [],
      backend,
      enrollmentTokens: values['enrollment-token'] ?? [],
      ...(values['probe-ca'] ? { probeCa: values['probe-ca'] } : {}),
      ...(values['trust-proxy'] ? { trustProxy: values['trust-proxy'] } : {}),
      ...(rate !== undefined ? { dnsRateLimit: Number(rate) } : {}),
      ...(values['dns-exempt'] ? { dnsExempt: values['dns-exempt'] } : {}),
    });
    try {
      const dns = registry.dnsAddress;
      const stunText = registry.stunAddress ? ` stun=${registry.stunAddress.host}:${registry.stunAddress.port}` : '';
      io.stdout.write(`registry ready: api=${registry.apiUrl} dns=${dns.host.includes(':') ? `[${dns.host}]` : dns.host}:${dns.port} zone=${registry.zone}${stunText}\n`);
      await untilAborted(io.signal);
    } finally {
      await registry.close();
    }
    return 0;
  },
};
