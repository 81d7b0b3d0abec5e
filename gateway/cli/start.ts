/**
 * `nodegate start --data DIR`: runs the whole node daemon (gateway/node.ts startNode: certificates,
 * the gateway, reachability, the onion service — each as DATA/config.json asks) until SIGTERM/SIGINT,
 * then stops gracefully (in-flight requests finish, limits.shutdownGraceMs at most) and exits 0.
 */
import { parseCommandArgs, resolveDataDir, untilAborted, type Command, type CommandIO } from '../../core/cli.ts';
import { createLogger, parseLogFormat } from '../../core/log.ts';
import { startNode } from '../node.ts';

const USAGE = `usage: nodegate start --data DIR [--log-format auto|json|pretty]

Runs the node: the HTTPS gateway (owner pages, dashboard, LND REST with tokens), its certificate
renewal, reachability (DDNS, port mapping) and the onion service, as \`nodegate init\` configured
them, until SIGTERM or Ctrl-C.

  --log-format F   auto (default: short lines on a terminal, JSON lines otherwise), json, pretty
                   (also NODEGATE_LOG_FORMAT; the level comes from NODEGATE_LOG_LEVEL, default info)`;

async function run(args: string[], io: CommandIO): Promise<number> {
  const { values } = parseCommandArgs(args, { data: { type: 'string' }, 'log-format': { type: 'string' } }, USAGE);
  const dataDir = resolveDataDir(values.data, io.env, USAGE);
  const format = parseLogFormat(values['log-format']);
  const logger = createLogger({ name: 'gateway', ...(format ? { format } : {}) });
  const node = await startNode({ dataDir, logger, signal: io.signal });
  const { https, httpRedirect } = node.gateway.addresses();
  for (const a of https) io.stdout.write(`nodegate: gateway listening on https://${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port} (${a.route})\n`);
  if (httpRedirect) io.stdout.write(`nodegate: redirecting http://${httpRedirect.host}:${httpRedirect.port} to HTTPS\n`);
  await untilAborted(io.signal);
  const started = Date.now();
  await node.stop();
  io.stdout.write(`nodegate: gateway stopped in ${Date.now() - started} ms\n`);
  return 0;
}

export const command: Command = { name: 'start', summary: 'run the gateway until SIGTERM/SIGINT', usage: USAGE, run };
