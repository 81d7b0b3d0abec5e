/**
 * `nodegate pair --data DIR --scope S [--name N] [--ttl 30d] [--onion] [--json]`: creates a scoped
 * token and prints the lndconnect URI and a QR code for a wallet to scan. The URI carries the
 * certificate only when the served one is not publicly trusted (self-signed fallback), and always
 * over Tor (the certificate does not name the .onion host, so the wallet pins it).
 */
import { join } from 'node:path';
import { parseCommandArgs, parseHostPort, resolveDataDir, writeJson, type Command, type CommandIO } from '../../core/cli.ts';
import { NodegateError } from '../../core/errors.ts';
import { readFileIfExists } from '../../core/atomic-file.ts';
import { FileCertStore } from '../../certs/store.ts';
import { loadGatewayConfig } from '../config.ts';
import { TokenService, parseTtl, SCOPES, type Scope } from '../auth/tokens.ts';
import { isPubliclyTrusted, lndconnectUri, qrTerminal } from '../pairing.ts';

const USAGE = `usage: nodegate pair --data DIR --scope readonly|invoice|admin [--name NAME] [--ttl 30d] [--onion] [--json]

Creates an API token for a wallet and prints its lndconnect URI and a QR code to scan.
  --scope   what the wallet may do: readonly, invoice (also create invoices), admin (everything)
  --name    a name to recognise the wallet by in \`nodegate token list\` (default "wallet <date>")
  --ttl     lifetime, e.g. 30d, 12h, 52w (default 365d; at most 10 years)
  --onion   pair over Tor: the node's onion address instead of its public name
  --json    print { id, name, scope, expiresAt, uri } instead of the QR code
The token is shown once. Revoke it with: nodegate token revoke --data DIR ID`;

/** A classic terminal's width; a certificate in the URI makes the QR code wider than this. */
const NARROW_TERMINAL_COLUMNS = 80;

/** The onion address tor/ stores beside its key (DATA/tor/onion-key.json, field `address`). */
async function onionHost(dataDir: string): Promise<string> {
  const path = join(dataDir, 'tor', 'onion-key.json');
  const raw = await readFileIfExists(path);
  const address = raw ? (JSON.parse(raw.toString('utf8')) as { address?: unknown }).address : undefined;
  if (typeof address !== 'string' || !/^[a-z2-7]{56}$/.test(address)) {
    throw new NodegateError('NG_CONFIG_MISSING', `No onion address in ${path}. Turn Tor on (\`nodegate init --tor\`) and start the gateway once, then pair again.`);
  }
  return `${address}.onion`;
}

async function run(args: string[], io: CommandIO): Promise<number> {
  const { values } = parseCommandArgs(
    args,
    { data: { type: 'string' }, scope: { type: 'string' }, name: { type: 'string' }, ttl: { type: 'string' }, onion: { type: 'boolean' }, json: { type: 'boolean' } },
    USAGE,
  );
  const dataDir = resolveDataDir(values.data, io.env, USAGE);
  const scope = values.scope as Scope | undefined;
  if (scope === undefined || !SCOPES.includes(scope)) throw new NodegateError('NG_USAGE', `--scope must be readonly, invoice or admin.\n\n${USAGE}`);
  const ttlSeconds = values.ttl === undefined ? undefined : parseTtl(values.ttl);

  const config = await loadGatewayConfig(dataDir);
  const listener = config.listeners.find((l) => l.route === 'lnd') ?? config.listeners.find((l) => l.route === 'auto');
  if (!listener) {
    throw new NodegateError('NG_CONFIG_INVALID', `No gateway listener serves LND REST in ${join(dataDir, 'config.json')}. Add one with "route": "lnd" or "auto".`);
  }
  const { host: listenHost, port } = parseHostPort(listener.listen, 'gateway.listeners[].listen');

  let host: string;
  if (values.onion) host = await onionHost(dataDir);
  else {
    const name = config.serverNames.find((n) => !n.startsWith('*.') && !n.startsWith('lan.'));
    const unspecified = listenHost === '0.0.0.0' || listenHost === '::';
    if (name) host = name;
    else if (!unspecified) host = listenHost;
    else throw new NodegateError('NG_CONFIG_MISSING', 'This node has no public name yet, so a wallet would not find it. Register with `nodegate init --registry URL`, or pair over Tor with --onion.');
  }

  const { pair } = await new FileCertStore(join(dataDir, 'certs')).load();
  if (!pair) throw new NodegateError('NG_CERT_NONE', 'No certificate is stored yet. Start the gateway once (`nodegate start`) so that it makes one, then pair again.');
  const leafPem = pair.chainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/)?.[0];
  const includeCert = values.onion === true || !isPubliclyTrusted(pair.chainPem);

  const tokens = await TokenService.open(dataDir);
  const name = values.name ?? `wallet ${new Date().toISOString().slice(0, 10)}`;
  const created = await tokens.create({ scope, name, ...(ttlSeconds !== undefined ? { ttlSeconds } : {}) });
  const uri = lndconnectUri({ host, port, token: created.token, ...(includeCert && leafPem ? { certPem: leafPem } : {}) });

  if (values.json) {
    writeJson(io, { id: created.id, name: created.name, scope: created.scope, expiresAt: created.expiresAt, uri });
    return 0;
  }
  const qr = await qrTerminal(uri);
  // eslint-disable-next-line no-control-regex -- measuring without the colour escapes
  const columns = (qr.split('\n')[0] ?? '').replace(/\u001b\[[0-9;]*m/g, '').length;
  const hint = columns > NARROW_TERMINAL_COLUMNS ? `(The code is ${columns} columns wide: widen the terminal if it wraps, or copy the link below.)\n` : '';
  io.stdout.write(
    `Token ${created.id} "${created.name}" (${created.scope}), valid until ${created.expiresAt}.\n` +
      `Scan this with the wallet now; it is shown only once.\n${hint}\n${qr}\n${uri}\n\n` +
      `Revoke it with: nodegate token revoke --data ${dataDir} ${created.id}\n`,
  );
  return 0;
}

export const command: Command = { name: 'pair', summary: 'lndconnect URI + QR code for a wallet', usage: USAGE, run };
