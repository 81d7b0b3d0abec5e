/**
 * `nodegate status --data DIR [--json]`: names, certificate, LND wallet state, tokens. First
 * version: the gateway's view; other parts (reachability, tor) add their sections later.
 */
import { parseCommandArgs, resolveDataDir, writeJson, type Command, type CommandIO } from '../../core/cli.ts';
import { loadGatewayConfig } from '../config.ts';
import { LndUpstream } from '../proxy/lnd-upstream.ts';
import { TokenService } from '../auth/tokens.ts';
import { certStatus } from '../../certs/cli.ts';

const USAGE = `usage: nodegate status --data DIR [--json]`;

export interface GatewayStatusReport {
  names: string[];
  listeners: { listen: string; route: string }[];
  certificate: Awaited<ReturnType<typeof certStatus>>;
  lnd: { restUrl: string; network: string; state: string; alias?: string; blockHeight?: number; synced?: boolean; problem?: string };
  tokens: { active: number; revoked: number; expired: number };
}

export async function gatewayStatus(dataDir: string, now: () => number = Date.now): Promise<GatewayStatusReport> {
  const config = await loadGatewayConfig(dataDir);
  let lnd: GatewayStatusReport['lnd'] = { restUrl: config.lnd.restUrl, network: config.lnd.network, state: 'unreachable' };
  try {
    const upstream = new LndUpstream({ restUrl: config.lnd.restUrl, lndDir: config.lnd.lndDir, network: config.lnd.network, connectTimeoutMs: 3000, headersTimeoutMs: 5000 });
    try {
      const state = await upstream.walletState();
      const info = state === 'unlocked' ? await upstream.getInfo() : undefined;
      lnd = {
        ...lnd,
        state,
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
  return 0;
}

export const command: Command = { name: 'status', summary: 'names, certificate, onion, addresses, LND state', usage: USAGE, run };
