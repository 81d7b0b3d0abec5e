/**
 * `nodegate start --data DIR`: runs the gateway until SIGTERM/SIGINT, then stops gracefully
 * (in-flight requests finish, limits.shutdownGraceMs at most) and exits 0.
 */
import { parseCommandArgs, resolveDataDir, untilAborted, type Command, type CommandIO } from '../../core/cli.ts';
import { createLogger } from '../../core/log.ts';
import { loadGatewayConfig } from '../config.ts';
import { startGateway } from '../main.ts';
import { StoredTlsSource } from '../tls-source.ts';
import { loadRegistration } from '../../ddns/client/enroll.ts';
import { openCertificateService } from '../../certs/cli.ts';
import type { TlsContextSource } from '../listener.ts';

const USAGE = `usage: nodegate start --data DIR

Runs the HTTPS gateway (owner pages, dashboard, LND REST with tokens) until SIGTERM or Ctrl-C.`;

async function run(args: string[], io: CommandIO): Promise<number> {
  const { values } = parseCommandArgs(args, { data: { type: 'string' } }, USAGE);
  const dataDir = resolveDataDir(values.data, io.env, USAGE);
  const config = await loadGatewayConfig(dataDir);
  const logger = createLogger({ name: 'gateway' });
  // A registered node runs the certificate service (renewal + hot swap); an unregistered one (tests,
  // a LAN-only setup) serves the stored certificate or a self-signed one.
  let tls: TlsContextSource;
  let certPem: (() => string | undefined) | undefined;
  let stopCerts: (() => Promise<void>) | undefined;
  if (await loadRegistration(dataDir)) {
    const service = await openCertificateService(dataDir, { logger });
    service.start();
    tls = service;
    stopCerts = () => service.stop();
  } else {
    const stored = await StoredTlsSource.open(dataDir, config.serverNames, logger);
    tls = stored;
    certPem = () => (stored.info().selfSigned ? stored.certPem() : undefined);
  }
  const gateway = await startGateway({ dataDir, config, tls, logger, ...(certPem ? { certPem } : {}) });
  const { https, httpRedirect } = gateway.addresses();
  for (const a of https) io.stdout.write(`nodegate: gateway listening on https://${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port} (${a.route})\n`);
  if (httpRedirect) io.stdout.write(`nodegate: redirecting http://${httpRedirect.host}:${httpRedirect.port} to HTTPS\n`);
  await untilAborted(io.signal);
  const started = Date.now();
  await Promise.all([gateway.stop(), stopCerts?.()]);
  io.stdout.write(`nodegate: gateway stopped in ${Date.now() - started} ms\n`);
  return 0;
}

export const command: Command = { name: 'start', summary: 'run the gateway until SIGTERM/SIGINT', usage: USAGE, run };
