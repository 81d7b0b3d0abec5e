/**
 * `nodegate doctor --data DIR [--json] [--lang xx]`: why this node can or cannot be reached, in
 * plain words in the user's language (en, es, pt-BR, de, fr; default from --lang, else LANG), with
 * what to do. `--json` prints one object: `{ verdict, verdicts: [{ code, severity, title, advice }],
 * facts }` with stable codes (messages.ts VERDICT_CODES). Exit 0 when no verdict is a problem, 1
 * otherwise, 2 for bad usage or config.
 */
import { join } from 'node:path';
import type { Command, CommandIO } from '../../core/cli.ts';
import { parseCommandArgs, parseHostPort, resolveDataDir, writeJson } from '../../core/cli.ts';
import { loadConfigSection } from '../../core/config.ts';
import { isNodegateError, NodegateError } from '../../core/errors.ts';
import { clientForRegisteredDevice } from './enroll.ts';
import { defaultReachabilityConfig, ReachabilityConfig } from './config.ts';
import { MappingKeeper, type MappingState } from './mapping.ts';
import { NatPmpMapper } from './natpmp.ts';
import { PcpMapper } from './pcp.ts';
import { defaultGateway, probePortMappers, type PortMapper } from './portmapper.ts';
import { localAddresses } from './public-ip.ts';
import { diagnose, gatherFacts, readState, writeState, type ReachabilityState } from './reachability.ts';
import { UpnpMapper } from './upnp.ts';
import { pickLanguage, LANGUAGES } from './messages.ts';

const usage = `usage: nodegate doctor --data DIR [--json] [--lang ${LANGUAGES.join('|')}]`;

async function loadConfig(dataDir: string): Promise<ReachabilityConfig> {
  try {
    return await loadConfigSection(ReachabilityConfig, join(dataDir, 'config.json'), 'reachability', 'Run `nodegate init`.', { defaultsWhenAbsent: true });
  } catch (err) {
    // The doctor also helps before `nodegate init`: with no config file at all, use the defaults.
    if (isNodegateError(err, 'NG_CONFIG_MISSING')) return defaultReachabilityConfig();
    throw err;
  }
}

/** The mapping as the running service holds it, if it saved it recently; else a fresh attempt (removed again). */
async function currentMapping(dataDir: string, config: ReachabilityConfig, saved: ReachabilityState | null): Promise<{ state: MappingState; release: () => Promise<void> }> {
  const freshMs = Math.max(2 * config.mappingCheckIntervalS * 1000, 120_000);
  if (saved && saved.mapping.status !== 'off' && Date.now() - Date.parse(saved.updatedAt) < freshMs) {
    return { state: saved.mapping, release: () => Promise.resolve() };
  }
  const gateway = await defaultGateway();
  const lan = localAddresses(gateway).lan;
  const mappers: PortMapper[] = [];
  if (gateway && lan && config.portMapping) {
    if (config.protocols.includes('upnp')) mappers.push(new UpnpMapper({ internalClient: lan }));
    if (config.protocols.includes('natpmp')) mappers.push(new NatPmpMapper({ gateway }));
    if (config.protocols.includes('pcp')) mappers.push(new PcpMapper({ gateway, clientAddress: lan }));
  }
  const externalPort = config.externalPort ?? config.internalPort;
  const keeper = new MappingKeeper({
    request: { protocol: 'tcp', internalPort: config.internalPort, externalPort, lifetimeS: 600, description: 'nodegate doctor' },
    probe: (signal) => probePortMappers(mappers, { signal }),
    checkIntervalMs: 3_600_000,
  });
  await keeper.start();
  const state = keeper.state;
  return { state, release: () => keeper.stop() };
}

async function run(args: string[], io: CommandIO): Promise<number> {
  const { values } = parseCommandArgs(args, { data: { type: 'string' }, json: { type: 'boolean' }, lang: { type: 'string' } }, usage);
  const dataDir = resolveDataDir(values.data, io.env, usage);
  if (values.lang !== undefined && !(LANGUAGES as readonly string[]).includes(values.lang)) {
    throw new NodegateError('NG_USAGE', `--lang ${values.lang} is not offered; choose one of ${LANGUAGES.join(', ')}.\n\n${usage}`);
  }
  const lang = pickLanguage(values.lang ?? io.env.LC_ALL ?? io.env.LC_MESSAGES ?? io.env.LANG);
  const config = await loadConfig(dataDir);
  const { registration, client } = await clientForRegisteredDevice(dataDir);
  const saved = await readState(dataDir);
  const mapping = await currentMapping(dataDir, config, saved);
  let diagnosis;
  try {
    const facts = await gatherFacts({
      registry: client,
      name: registration.name,
      lanName: registration.lanName,
      port: config.internalPort,
      externalPort: config.externalPort ?? config.internalPort,
      mapping: mapping.state,
      gateway: await defaultGateway(),
      registryDns: config.registryDns ? parseHostPort(config.registryDns, 'reachability.registryDns') : null,
      previous: saved?.lastFacts ?? null,
      signal: io.signal,
    });
    diagnosis = diagnose(facts, lang);
  } finally {
    await mapping.release();
  }
  const next: ReachabilityState = saved
    ? { ...saved, lastFacts: diagnosis.facts, lastVerdict: diagnosis.verdict }
    : { version: 1, updatedAt: new Date().toISOString(), addresses: { ipv4: diagnosis.facts.internetView, ipv6: null, lan: diagnosis.facts.lan }, published: null, mapping: mapping.state, lastFacts: diagnosis.facts, lastVerdict: diagnosis.verdict, registryError: diagnosis.facts.registryError };
  await writeState(dataDir, next);
  if (values.json) {
    writeJson(io, { verdict: diagnosis.verdict, verdicts: diagnosis.verdicts, facts: diagnosis.facts });
  } else {
    const mark = { ok: '✓', info: 'i', warning: '!', problem: '✗' } as const;
    for (const v of diagnosis.verdicts) io.stdout.write(`${mark[v.severity]} ${v.title}\n    ${v.advice}\n`);
  }
  return diagnosis.verdicts.some((v) => v.severity === 'problem') ? 1 : 0;
}

export const command: Command = { name: 'doctor', summary: 'why the node can or cannot be reached, in plain words', usage, run };
