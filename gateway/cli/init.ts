/**
 * `nodegate init`: makes a node ready to `nodegate start` — registers it with a registry (device
 * key, name), writes DATA/config.json (one section per part), sets the owner password, obtains the
 * first certificate through DNS-01, and creates the onion key when Tor is on. Idempotent: running it
 * again keeps the key, the name and the onion address, and rewrites the config from the flags given.
 */
import { join, resolve } from 'node:path';
import { access, constants as fsConstants } from 'node:fs/promises';
import { type Command, type CommandIO, parseCommandArgs, parseHostPort, resolveDataDir, writeJson } from '../../core/cli.ts';
import { parseConfig } from '../../core/config.ts';
import { readFileIfExists, writeJsonAtomic } from '../../core/atomic-file.ts';
import { NodegateError, messageOf } from '../../core/errors.ts';
import { createLogger } from '../../core/log.ts';
import { registerDevice, type RegisteredDevice } from '../../ddns/client/enroll.ts';
import { ReachabilityConfig } from '../../ddns/client/config.ts';
import { AcmeConfig } from '../../certs/config.ts';
import { CertificateService } from '../../certs/manager.ts';
import { certificateNames, solverFor } from '../../certs/cli.ts';
import { TorConfigSchema } from '../../tor/config.ts';
import { loadOrCreateOnionKey } from '../../tor/onion.ts';
import { OwnerAuth } from '../auth/owner.ts';
import { configPath, writeDefaultGatewayConfig, type LndNetwork } from '../config.ts';
import { parseNotifyConfig, redactUrl, type NotifyConfig } from '../notify/config.ts';

const USAGE = `usage: nodegate init --data DIR --registry URL [options]
       nodegate init --data DIR --tor-only [options]

  --data DIR               the node's data directory (or NODEGATE_DATA)
  --registry URL           the registry API, e.g. https://registry.example.net
  --enrollment-token T     the token your vendor gave, when the registry asks for one
  --acme-directory URL     ACME directory (default Let's Encrypt)
  --acme-ca FILE           extra CA (PEM) trusted for the ACME API's TLS (test CAs)
  --acme-email ADDR        contact address given to the CA
  --authoritative HOST:PORT  authoritative DNS server(s) of the zone to check the TXT at
                           (repeatable; default: the zone's NS records)
  --https HOST:PORT        the HTTPS listener (default 0.0.0.0:8443)
  --http-redirect HOST:PORT  a plain-HTTP listener that redirects to HTTPS
  --lnd-rest URL           LND's REST API (default https://127.0.0.1:8080)
  --lnd-dir DIR            LND's directory: tls.cert and data/chain/bitcoin/<net>/*.macaroon
  --lnd-network NET        mainnet | testnet | signet | regtest (default mainnet)
  --dashboard URL          the node's web dashboard (e.g. http://127.0.0.1:3000)
  --password-file FILE     sets the owner password (first line of FILE)
  --tor                    publish an onion service too
  --tor-only               Tor only: no registry, no ACME, no port mapping, loopback listeners
  --tor-control T          use a running tor (HOST:PORT or unix:PATH, cookie auth)
  --tor-torrc LINE         an extra torrc line for the managed tor (repeatable)
  --no-port-mapping        don't ask the router for a port mapping
  --router auto|none|IPV4  the home router to talk to (default auto: the default route's gateway;
                           none: no UPnP / NAT-PMP / PCP traffic at all)
  --registry-dns HOST:PORT the registry's DNS server, for the doctor's stale-answer check
  --stun HOST:PORT         the registry's STUN echo (default: registry host, port 3478)
  --no-cert                don't obtain the certificate now (\`nodegate certs renew\` later)
  --no-acme                no ACME at all: serve a self-signed certificate (labs, loopback)
  --json                   print the result as one JSON object

notifications (also on the owner page, "Notifications"; without these flags the saved ones stay):
  --notify-webhook URL     POST notifications here (ntfy topic URL, Gotify URL with ?token=, any URL)
  --notify-format F        ntfy | gotify | json (default json)
  --notify-smtp HOST:PORT  send e-mail through this SMTP server (587: STARTTLS, required)
  --notify-smtp-security S starttls | tls (default starttls; tls for port 465)
  --notify-smtp-user USER  SMTP login
  --notify-smtp-password-file FILE  the SMTP password (first line of FILE; never on the command line)
  --notify-smtp-ca FILE    extra CA (PEM) for a self-hosted mail server's certificate
  --notify-email-from ADDR the sender address
  --notify-email-to ADDR   a recipient (repeatable, up to 5)
  --notify-language L      en | es | pt-BR | de | fr (default en)
`;

const OPTIONS = {
  data: { type: 'string' },
  registry: { type: 'string' },
  'enrollment-token': { type: 'string' },
  'acme-directory': { type: 'string' },
  'acme-ca': { type: 'string' },
  'acme-email': { type: 'string' },
  authoritative: { type: 'string', multiple: true },
  https: { type: 'string' },
  'http-redirect': { type: 'string' },
  'lnd-rest': { type: 'string' },
  'lnd-dir': { type: 'string' },
  'lnd-network': { type: 'string' },
  dashboard: { type: 'string' },
  'password-file': { type: 'string' },
  tor: { type: 'boolean' },
  'tor-only': { type: 'boolean' },
  'tor-control': { type: 'string' },
  'tor-torrc': { type: 'string', multiple: true },
  'no-port-mapping': { type: 'boolean' },
  router: { type: 'string' },
  'registry-dns': { type: 'string' },
  stun: { type: 'string' },
  'no-cert': { type: 'boolean' },
  'no-acme': { type: 'boolean' },
  json: { type: 'boolean' },
  'notify-webhook': { type: 'string' },
  'notify-format': { type: 'string' },
  'notify-smtp': { type: 'string' },
  'notify-smtp-security': { type: 'string' },
  'notify-smtp-user': { type: 'string' },
  'notify-smtp-password-file': { type: 'string' },
  'notify-smtp-ca': { type: 'string' },
  'notify-email-from': { type: 'string' },
  'notify-email-to': { type: 'string', multiple: true },
  'notify-language': { type: 'string' },
} as const;

type InitValues = ReturnType<typeof parseCommandArgs<typeof OPTIONS>>['values'];

/**
 * The "notify" section from the --notify-* flags, validated (undefined when none is given: the
 * saved section, perhaps from the settings page, stays). Files are checked for readability now.
 */
async function notifySection(v: InitValues, torOnly: boolean): Promise<NotifyConfig | undefined> {
  if (!Object.keys(v).some((k) => k.startsWith('notify-'))) return undefined;
  const smtp = v['notify-smtp'] ? parseHostPort(v['notify-smtp'], '--notify-smtp') : undefined;
  if (!v['notify-webhook'] && !smtp) throw new NodegateError('NG_USAGE', 'The --notify-* flags need --notify-webhook URL or --notify-smtp HOST:PORT (or both).');
  if (smtp && (!v['notify-email-from'] || !v['notify-email-to'])) throw new NodegateError('NG_USAGE', '--notify-smtp needs --notify-email-from ADDR and at least one --notify-email-to ADDR.');
  if (v['notify-smtp-user'] && !v['notify-smtp-password-file']) throw new NodegateError('NG_USAGE', '--notify-smtp-user needs --notify-smtp-password-file FILE (the password is never given on the command line).');
  for (const flag of ['notify-smtp-password-file', 'notify-smtp-ca'] as const) {
    const file = v[flag];
    if (file) await access(file, fsConstants.R_OK).catch(() => {
      throw new NodegateError('NG_USAGE', `--${flag} ${file}: the file cannot be read.`);
    });
  }
  const security = v['notify-smtp-security'] ?? (smtp?.port === 465 ? 'tls' : 'starttls');
  return parseNotifyConfig(
    {
      ...(v['notify-language'] ? { language: v['notify-language'] } : {}),
      ...(v['notify-webhook'] ? { webhook: { url: v['notify-webhook'], format: v['notify-format'] ?? 'json' } } : {}),
      ...(smtp
        ? {
            email: {
              host: smtp.host,
              port: smtp.port,
              security,
              ...(v['notify-smtp-user'] ? { user: v['notify-smtp-user'], passwordFile: resolve(v['notify-smtp-password-file']!) } : {}),
              ...(v['notify-smtp-ca'] ? { caFile: resolve(v['notify-smtp-ca']) } : {}),
              from: v['notify-email-from'],
              to: v['notify-email-to'],
            },
          }
        : {}),
    },
    '--notify-* flags',
    { torOnly },
  );
}

export interface InitRegistrationOptions {
  dataDir: string;
  registryUrl: string;
  enrollmentToken?: string;
  signal?: AbortSignal;
}

/** Creates the device key if needed and registers with the registry (idempotent). */
export function initRegistration(options: InitRegistrationOptions): Promise<RegisteredDevice> {
  return registerDevice({
    dataDir: options.dataDir,
    registryUrl: options.registryUrl,
    ...(options.enrollmentToken !== undefined ? { enrollmentToken: options.enrollmentToken } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
}

const NETWORKS: readonly LndNetwork[] = ['mainnet', 'testnet', 'signet', 'regtest'];

/** Loopback address tor forwards the onion's ports to, for a listener bound to `listen`. */
function loopbackTarget(listen: string): string {
  const { host, port } = parseHostPort(listen, '--https');
  if (host === '0.0.0.0' || host === '::' || host.startsWith('127.') || host === '::1' || host === 'localhost') return `127.0.0.1:${port}`;
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Writes the non-gateway sections of DATA/config.json, validated, keeping the gateway section. */
async function writeSections(dataDir: string, sections: Record<string, unknown>): Promise<void> {
  const path = configPath(dataDir);
  const raw = await readFileIfExists(path);
  const whole = raw ? (JSON.parse(raw.toString('utf8')) as Record<string, unknown>) : {};
  for (const [key, value] of Object.entries(sections)) {
    if (value === undefined) delete whole[key];
    else whole[key] = value;
  }
  await writeJsonAtomic(path, whole, { mode: 0o600 });
}

async function run(args: string[], io: CommandIO): Promise<number> {
  const { values: v } = parseCommandArgs(args, OPTIONS, USAGE);
  const dataDir = resolveDataDir(v.data, io.env, USAGE);
  const torOnly = v['tor-only'] === true;
  const torOn = torOnly || v.tor === true || v['tor-control'] !== undefined;
  if (!torOnly && !v.registry) throw new NodegateError('NG_USAGE', `Missing --registry URL (or use --tor-only).\n\n${USAGE}`);
  if (torOnly && v.registry) throw new NodegateError('NG_USAGE', '--tor-only makes no clearnet connection, so it takes no --registry. Drop one of them.');
  const network = (v['lnd-network'] ?? 'mainnet') as LndNetwork;
  if (!NETWORKS.includes(network)) throw new NodegateError('NG_USAGE', `--lnd-network must be one of ${NETWORKS.join(', ')}, got "${v['lnd-network']}".`);
  const https = v.https ?? (torOnly ? '127.0.0.1:8443' : '0.0.0.0:8443');
  parseHostPort(https, '--https');
  if (v['http-redirect']) parseHostPort(v['http-redirect'], '--http-redirect');
  for (const a of v.authoritative ?? []) parseHostPort(a, '--authoritative');
  const notify = await notifySection(v, torOnly);

  // 1. Registration (skipped in Tor-only mode: the registry would learn the home address).
  let device: RegisteredDevice | undefined;
  if (!torOnly) {
    device = await initRegistration({
      dataDir,
      registryUrl: v.registry!,
      ...(v['enrollment-token'] !== undefined ? { enrollmentToken: v['enrollment-token'] } : {}),
      signal: io.signal,
    });
  }
  const registration = device?.registration;

  // 2. Config: every section validated against its part's schema before anything is written.
  const acme = torOnly || v['no-acme'] === true
    ? undefined
    : parseConfig(
        AcmeConfig,
        {
          ...(v['acme-directory'] ? { directoryUrl: v['acme-directory'] } : {}),
          ...(v['acme-ca'] ? { caFile: v['acme-ca'] } : {}),
          ...(v['acme-email'] ? { email: v['acme-email'] } : {}),
          ...(v.authoritative ? { authoritativeServers: v.authoritative } : {}),
        },
        '--acme-* flags',
      );
  const httpsPort = parseHostPort(https, '--https').port;
  const reachability = parseConfig(
    ReachabilityConfig,
    {
      enabled: !torOnly,
      internalPort: httpsPort,
      portMapping: !torOnly && v['no-port-mapping'] !== true,
      ...(v.router ? { router: v.router } : torOnly ? { router: 'none' } : {}),
      ...(v['registry-dns'] ? { registryDns: v['registry-dns'] } : {}),
      ...(v.stun ? (() => { const s = parseHostPort(v.stun, '--stun'); return { stun: { host: s.host, port: s.port } }; })() : {}),
    },
    'reachability flags',
  );
  const target = loopbackTarget(https);
  const tor = parseConfig(
    TorConfigSchema,
    {
      enabled: torOn,
      torOnly,
      control: v['tor-control'] ? { attach: v['tor-control'] } : 'managed',
      extraTorrc: v['tor-torrc'] ?? [],
      ports: torOn ? [{ virtualPort: 443, target }, { virtualPort: 8080, target }] : [],
    },
    'tor flags',
  );
  await writeDefaultGatewayConfig(dataDir, {
    https,
    serverNames: registration ? [registration.name, registration.lanName] : [],
    ...(v['lnd-rest'] ? { lndRestUrl: v['lnd-rest'] } : {}),
    ...(v['lnd-dir'] ? { lndDir: v['lnd-dir'] } : {}),
    network,
    ...(v.dashboard ? { dashboardUrl: v.dashboard } : {}),
    ...(v['http-redirect'] ? { httpRedirect: v['http-redirect'] } : {}),
  });
  await writeSections(dataDir, { registry: registration ? { url: registration.registryUrl } : undefined, acme, reachability, tor, ...(notify ? { notify } : {}) });

  // 3. Owner password.
  if (v['password-file']) {
    const auth = await OwnerAuth.open({ dataDir });
    await auth.setPasswordFromFile(v['password-file']);
  }

  // 4. Onion key (the address is fixed from now on).
  let onion: string | undefined;
  if (torOn) onion = `${(await loadOrCreateOnionKey(join(dataDir, 'tor'))).key.address}.onion`;

  // 5. First certificate through DNS-01 (the gateway serves a self-signed one until then).
  let certificate: { issuer: string; notAfter: string; names: string[] } | undefined;
  let certError: NodegateError | undefined;
  if (registration && acme && v['no-cert'] !== true) {
    const service = await CertificateService.open({
      dataDir,
      names: certificateNames(registration.name),
      zone: registration.zone,
      acme,
      solver: await solverFor(dataDir, acme, registration.name),
      logger: createLogger({ name: 'certs', level: 'warn' }),
    });
    try {
      const info = await service.renew({ signal: io.signal });
      certificate = { issuer: info.issuer, notAfter: info.notAfter.toISOString(), names: info.names };
    } catch (err) {
      certError = err instanceof NodegateError ? err : new NodegateError('NG_CERT_ACME', messageOf(err), { cause: err });
    } finally {
      await service.stop();
    }
  }

  const result = {
    dataDir,
    name: registration?.name ?? null,
    lanName: registration?.lanName ?? null,
    registered: device?.registered ?? false,
    https: `https://${registration?.name ?? 'localhost'}:${httpsPort}/`,
    onion: onion ?? null,
    torOnly,
    certificate: certificate ?? null,
    ...(certError ? { certificateError: { code: certError.code, message: certError.message } } : {}),
    ...(notify ? { notify: { webhook: notify.webhook ? { url: redactUrl(notify.webhook.url), format: notify.webhook.format } : null, email: notify.email ? { server: `${notify.email.host}:${notify.email.port}`, to: notify.email.to } : null } } : {}),
  };
  if (v.json) writeJson(io, result);
  else {
    const lines = [
      registration ? `Registered ${registration.name} (LAN: ${registration.lanName})` : 'Tor-only node: no registry, no public name, nothing clearnet.',
      ...(onion ? [`Onion address: ${onion}`] : []),
      ...(certificate ? [`Certificate from ${certificate.issuer}, valid until ${certificate.notAfter}`] : []),
      ...(notify?.webhook ? [`Notifications: webhook ${redactUrl(notify.webhook.url)} (${notify.webhook.format})`] : []),
      ...(notify?.email ? [`Notifications: e-mail to ${notify.email.to.join(', ')} through ${notify.email.host}:${notify.email.port} (${notify.email.security})`] : []),
      ...(certError ? [`No certificate yet: ${certError.message} [${certError.code}] — the gateway serves a self-signed one until \`nodegate certs renew --data ${dataDir}\` succeeds.`] : []),
      `Config written to ${configPath(dataDir)}. Next: nodegate start --data ${dataDir}`,
    ];
    io.stdout.write(lines.join('\n') + '\n');
  }
  return certError ? 1 : 0;
}

export const command: Command = { name: 'init', summary: 'register this node, write its config and keys', usage: USAGE, run };
