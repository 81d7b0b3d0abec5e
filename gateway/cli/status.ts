/**
 * `nodegate status --data DIR [--json]`: names, certificate, LND wallet state, tokens, the owner
 * password, the onion service and the addresses the running daemon last saw and published. Reads
 * the node's files and asks LND its state; it never starts tor, makes an onion key or probes the
 * router (`nodegate doctor` checks reachability now).
 */
import { parseCommandArgs, resolveDataDir, writeJson, type Command, type CommandIO } from '../../core/cli.ts';
import { loadGatewayConfig } from '../config.ts';
import { LndUpstream } from '../proxy/lnd-upstream.ts';
import { TokenService } from '../auth/tokens.ts';
import { certStatus } from '../../certs/cli.ts';
import { OwnerAuth } from '../auth/owner.ts';
import { loadTorService } from '../../tor/service.ts';
import { readOnionAddress } from '../../tor/onion.ts';
import { listClients } from '../../tor/clients.ts';
import { readState } from '../../ddns/client/reachability.ts';
import { messageOf } from '../../core/errors.ts';

const USAGE = `usage: nodegate status --data DIR [--json]`;

export interface GatewayStatusReport {
  names: string[];
  listeners: { listen: string; route: string }[];
  certificate: Awaited<ReturnType<typeof certStatus>>;
  lnd: { restUrl: string; network: string; state: string; alias?: string; blockHeight?: number; synced?: boolean; problem?: string };
  tokens: { active: number; revoked: number; expired: number };
  /** False until the owner sets a password (`nodegate init --password-file`, or the setup page). */
  owner: { password: boolean; problem?: string };
  /** `onion` once the service was ever published (its key exists); `problem` when a file is damaged. */
  tor: { enabled: boolean; torOnly: boolean; onion?: string; clients: number; problem?: string };
  /** What the running daemon last saved (DATA/reach/state.json); null before it ever ran. */
  addresses: {
    updatedAt: string;
    ipv4: string | null;
    ipv6: string | null;
    lan: string | null;
    published: { ipv4: string | null; ipv6: string | null; lan: string | null } | null;
    mapping: { status: string; method: string | null; externalPort: number | null };
    verdict: string | null;
    registryError: string | null;
  } | null;
}

export async function gatewayStatus(dataDir: string, now: () => number = Date.now): Promise<GatewayStatusReport> {
  const config = await loadGatewayConfig(dataDir);
  let lnd: GatewayStatusReport['lnd'] = { restUrl: config.lnd.restUrl, network: config.lnd.network, state: 'unreachable' };
  try {
    const upstream = new LndUpstream({ restUrl: config.lnd.restUrl, lndDir: config.lnd.lndDir, network: config.lnd.network, connectTimeoutMs: 3000, headersTimeoutMs: 5000 });
    try {
      const { state, problem } = await upstream.walletStateDetail();
      const info = state === 'unlocked' ? await upstream.getInfo() : undefined;
      lnd = {
        ...lnd,
        state,
        ...(problem ? { problem } : {}),
        ...(typeof info?.alias === 'string' ? { alias: info.alias } : {}),
        ...(typeof info?.block_height === 'number' ? { blockHeight: info.block_height } : {}),
        ...(typeof info?.synced_to_chain === 'boolean' ? { synced: info.synced_to_chain } : {}),
      };
    } finally {
      await upstream.close();
    }
  } catch (err) {
    lnd = { ...lnd, problem: (err as Error).message };
  }
  const list = (await TokenService.open(dataDir)).list();
  const t = now();
  const tor = await loadTorService(dataDir);
  const { enabled, torOnly } = tor.status();
  const torReport: GatewayStatusReport['tor'] = { enabled, torOnly, clients: 0 };
  try {
    const onion = await readOnionAddress(tor.torDir);
    if (onion) torReport.onion = onion;
    torReport.clients = (await listClients(tor.torDir)).length;
  } catch (err) {
    torReport.problem = messageOf(err); // a damaged key or client list: say so, report the rest
  }
  const reach = await readState(dataDir);
  return {
    names: config.serverNames,
    listeners: config.listeners,
    certificate: await certStatus(dataDir),
    lnd,
    tokens: {
      active: list.filter((x) => !x.revokedAt && Date.parse(x.expiresAt) > t).length,
      revoked: list.filter((x) => x.revokedAt).length,
      expired: list.filter((x) => !x.revokedAt && Date.parse(x.expiresAt) <= t).length,
    },
    owner: await OwnerAuth.open({ dataDir }).then(
      (auth) => ({ password: auth.hasPassword() }),
      (err: unknown) => ({ password: false, problem: messageOf(err) }), // a damaged owner.json: say so, report the rest
    ),
    tor: torReport,
    addresses: reach && {
      updatedAt: reach.updatedAt,
      ...reach.addresses,
      published: reach.published,
      // a file from an older version may lack a part: report what is there
      mapping: { status: reach.mapping?.status ?? 'off', method: reach.mapping?.method ?? null, externalPort: reach.mapping?.mapping?.externalPort ?? null },
      verdict: reach.lastVerdict,
      registryError: reach.registryError,
    },
  };
}

async function run(args: string[], io: CommandIO): Promise<number> {
  const { values } = parseCommandArgs(args, { data: { type: 'string' }, json: { type: 'boolean' } }, USAGE);
  const dataDir = resolveDataDir(values.data, io.env, USAGE);
  const report = await gatewayStatus(dataDir);
  if (values.json) {
    writeJson(io, report);
    return 0;
  }
  const c = report.certificate;
  io.stdout.write(`names:        ${report.names.join(', ') || '(none: run nodegate init)'}\n`);
  io.stdout.write(`listeners:    ${report.listeners.map((l) => `${l.listen} (${l.route})`).join(', ')}\n`);
  io.stdout.write(`certificate:  ${c.present ? `${c.issuer}, valid until ${c.notAfter}` : 'none yet (self-signed fallback; run nodegate certs renew)'}\n`);
  io.stdout.write(`LND:          ${report.lnd.state}${report.lnd.alias ? ` (${report.lnd.alias}, block ${report.lnd.blockHeight ?? '?'})` : ''}${report.lnd.problem ? ` — ${report.lnd.problem}` : ''}\n`);
  io.stdout.write(`tokens:       ${report.tokens.active} active, ${report.tokens.revoked} revoked, ${report.tokens.expired} expired\n`);
  io.stdout.write(
    `owner:        ${report.owner.problem ?? (report.owner.password ? 'password set' : `no password yet: open https://${report.names[0] ?? '<this node>'}/_nodegate/setup from home with the code in ${dataDir}/gateway/setup-code`)}\n`,
  );
  const tr = report.tor;
  const torLine = tr.enabled ? `on${tr.torOnly ? ' (Tor only)' : ''}, ${tr.onion ?? 'no onion address yet (published when nodegate start runs)'}${tr.clients > 0 ? `, ${tr.clients} authorised client(s)` : ''}` : 'off';
  io.stdout.write(`tor:          ${torLine}${tr.problem ? ` — ${tr.problem}` : ''}\n`);
  const a = report.addresses;
  if (!a) io.stdout.write('addresses:    not known yet (nodegate start saves them; nodegate doctor checks now)\n');
  else {
    const seen = [a.ipv4 && `IPv4 ${a.ipv4}`, a.ipv6 && `IPv6 ${a.ipv6}`, a.lan && `LAN ${a.lan}`].filter(Boolean).join(', ') || 'none';
    const published = a.published ? [a.published.ipv4, a.published.ipv6, a.published.lan].filter(Boolean).join(', ') || 'nothing' : 'not yet';
    io.stdout.write(`addresses:    ${seen} (as of ${a.updatedAt}); published: ${published}${a.registryError ? ` — registry: ${a.registryError}` : ''}\n`);
    io.stdout.write(`port mapping: ${a.mapping.status}${a.mapping.method ? ` by ${a.mapping.method}` : ''}${a.mapping.externalPort ? `, public port ${a.mapping.externalPort}` : ''}${a.verdict ? `; last verdict ${a.verdict} (nodegate doctor explains)` : ''}\n`);
  }
  return 0;
}

export const command: Command = { name: 'status', summary: 'names, certificate, onion, addresses, LND state', usage: USAGE, run };
