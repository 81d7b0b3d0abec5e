/**
 * `nodegate certs renew --data DIR [--force]`: obtain or renew the certificate now, in one shot
 * (exit 0 once a valid certificate is stored), and {@link certStatus} for `nodegate status`.
 */
import { join } from 'node:path';
import type { Command } from '../core/cli.ts';
import { parseCommandArgs, resolveDataDir } from '../core/cli.ts';
import { loadConfigSection, parseConfig, writeConfigSection } from '../core/config.ts';
import { NodegateError } from '../core/errors.ts';
import { createLogger, type Logger } from '../core/log.ts';
import type { CertInfo } from './cert-info.ts';
import { clientForRegisteredDevice, loadRegistration } from '../ddns/client/enroll.ts';
import { AcmeConfig } from './config.ts';
import type { Dns01Solver } from './solver.ts';
import { RegistrySolver } from './solvers/registry.ts';
import { Rfc2136Solver } from './solvers/rfc2136.ts';
import { CertificateService, readCertState, type CertStatus } from './manager.ts';
import { FileCertStore } from './store.ts';
import { renewalTime } from './renew.ts';

const USAGE = `usage: nodegate certs renew --data DIR [--force]

  Obtains a certificate for <id>.<zone> and *.<id>.<zone> through DNS-01 now (or renews the stored
  one when it is due; --force renews anyway). Exits 0 once a valid certificate is stored.
  Reads the "acme" section of DATA/config.json and DATA/device/registration.json.`;

const CONFIG_HINT = 'Run `nodegate init` first (it writes DATA/config.json).';

/** The names this node's certificate covers: `<id>.<zone>` and `*.<id>.<zone>`. */
export function certificateNames(deviceName: string): string[] {
  return [deviceName, `*.${deviceName}`];
}

/** Reads the "acme" section, or its defaults when DATA/config.json has none. */
export async function loadAcmeConfig(dataDir: string): Promise<AcmeConfig> {
  return loadConfigSection(AcmeConfig, join(dataDir, 'config.json'), 'acme', CONFIG_HINT, { defaultsWhenAbsent: true });
}

/** The solver the config names, for the registered device. */
export async function solverFor(dataDir: string, config: AcmeConfig, deviceName: string): Promise<Dns01Solver> {
  if (config.solver.type === 'rfc2136') return new Rfc2136Solver(config.solver);
  const { client } = await clientForRegisteredDevice(dataDir);
  return new RegistrySolver(client, deviceName);
}

export interface NodeCertificateOptions {
  logger?: Logger;
  /** Clock, ms since the epoch (tests). */
  now?: () => number;
}

/**
 * The CertificateService of a registered node: names from DATA/device/registration.json, the "acme"
 * section of DATA/config.json (defaults when absent), the solver it names. For `nodegate start`
 * (then `start()`) and `nodegate init` / `certs renew` (then `renew()`).
 * @throws NG_CONFIG_MISSING when the node is not registered
 */
export async function openCertificateService(dataDir: string, options: NodeCertificateOptions = {}): Promise<CertificateService> {
  const config = await loadAcmeConfig(dataDir);
  const registration = await loadRegistration(dataDir);
  if (!registration) throw new NodegateError('NG_CONFIG_MISSING', `This node is not registered (no ${join(dataDir, 'device', 'registration.json')}). ${CONFIG_HINT}`);
  return CertificateService.open({
    dataDir,
    names: certificateNames(registration.name),
    zone: registration.zone,
    acme: config,
    solver: await solverFor(dataDir, config, registration.name),
    logger: options.logger ?? createLogger({ name: 'certs' }),
    ...(options.now ? { now: options.now } : {}),
  });
}

/**
 * Obtains (or, when due or `force`, renews) the node's certificate now and stores it. What
 * `nodegate certs renew` and `nodegate init` run. Resolves with the certificate stored.
 */
export async function renewCertificate(dataDir: string, options: NodeCertificateOptions & { force?: boolean; signal?: AbortSignal } = {}): Promise<CertInfo> {
  const service = await openCertificateService(dataDir, options);
  return service.renew({ ...(options.force ? { force: true } : {}), ...(options.signal ? { signal: options.signal } : {}) });
}

/**
 * Writes the "acme" section of DATA/config.json (validated, defaults filled), keeping the other
 * sections as they are. For `nodegate init --acme-directory URL --acme-ca FILE`.
 */
export async function saveAcmeSection(dataDir: string, section: Partial<AcmeConfig>): Promise<AcmeConfig> {
  const config = parseConfig(AcmeConfig, section, 'the "acme" section about to be written');
  await writeConfigSection(join(dataDir, 'config.json'), 'acme', section);
  return config;
}

async function renewCommand(args: string[], io: Parameters<Command['run']>[1]): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, { data: { type: 'string' }, force: { type: 'boolean' } }, USAGE, true);
  if (positionals[0] !== 'renew' || positionals.length !== 1) throw new NodegateError('NG_USAGE', `Unknown certs command "${positionals.join(' ')}".\n\n${USAGE}`);
  const dataDir = resolveDataDir(values.data, io.env, USAGE);
  const info = await renewCertificate(dataDir, { force: values.force === true, signal: io.signal });
  io.stdout.write(`Certificate for ${info.names.join(', ')} from ${info.issuer} stored in ${join(dataDir, 'certs')}; valid until ${info.notAfter.toISOString()}.\n`);
  return 0;
}

export const command: Command = {
  name: 'certs',
  summary: 'certs renew: obtain or renew the certificate now',
  usage: USAGE,
  run: renewCommand,
};

/** What `nodegate status` shows about the certificate; `present: false` when none is stored yet. */
export type CertStatusReport = (CertStatus & { present: true }) | { present: false; lastError?: CertStatus['lastError']; problems: string[] };

/**
 * The stored certificate of DATA, its next renewal by the config's rule, and the last renewal error
 * recorded by the daemon or `nodegate certs renew`. Reads only; never talks to the CA.
 */
export async function certStatus(dataDir: string): Promise<CertStatusReport> {
  const { pair, problems } = await new FileCertStore(join(dataDir, 'certs')).load();
  const state = await readCertState(dataDir);
  if (!pair) return { present: false, ...(state?.lastError ? { lastError: state.lastError } : {}), problems: problems.map((p) => p.message) };
  const config = await loadAcmeConfig(dataDir).catch(() => parseConfig(AcmeConfig, {}, 'defaults'));
  const next = state?.lastError && state.nextRenewal ? Date.parse(state.nextRenewal) : renewalTime(pair.info, config.renewFractionLeft);
  return {
    present: true,
    issuer: pair.info.issuer,
    names: pair.info.names,
    notAfter: pair.info.notAfter.toISOString(),
    nextRenewal: new Date(next).toISOString(),
    ...(state?.lastError ? { lastError: state.lastError } : {}),
    selfSigned: pair.info.selfSigned,
  };
}
