/**
 * `nodegate demo` (what `npm start` runs): the whole system on loopback, nothing else — a registry
 * with its embedded DNS, pebble as the CA, an LND REST simulator and a dashboard, the gateway
 * (registered, certificate issued through DNS-01, serving), and the onion service on a private Tor
 * network. Ctrl-C stops everything by PID. State lives in `.demo/` (or NODEGATE_DEMO_DIR), so a
 * second run keeps the same device name and onion address.
 */
import { mkdir, writeFile, readFile, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { type Command, type CommandIO, parseCommandArgs, untilAborted } from '../../core/cli.ts';
import { NodegateError, isNodegateError, messageOf } from '../../core/errors.ts';
import { createLogger } from '../../core/log.ts';
import { startRegistry, REGISTRY_DB_FILE } from '../../ddns/registry/main.ts';
import { REGISTRATION_FILE } from '../../ddns/client/enroll.ts';
import { startPebble } from '../../sim/pebble.ts';
import { startLndSim } from '../../sim/lnd.ts';
import { startDashboardApp } from '../../sim/dashboard.ts';
import { startTorNetwork, type TorNetwork, type TorClient } from '../../sim/tor-network.ts';
import { command as initCommand } from './init.ts';
import { startNode } from '../node.ts';
import { lndconnectUri, qrTerminal } from '../pairing.ts';

const USAGE = `usage: nodegate demo [--dir DIR] [--no-tor]

Runs the whole system on loopback: registry + DNS, pebble (test CA), LND simulator, dashboard,
the gateway with a DNS-01 certificate, and an onion service on a private Tor network.
  --dir DIR   where the demo keeps its state (default ./.demo, or NODEGATE_DEMO_DIR)
  --no-tor    skip the private Tor network and the onion service (faster start)
Ctrl-C stops everything.`;

/** Fixed loopback ports, so the printed lines stay true across runs. */
export const DEMO_PORTS = { registryApi: 18053, registryDns: 15353, registryStun: 13478, gateway: 18443, lnd: 18080, dashboard: 18000 } as const;
export const DEMO_ZONE = 'nodes.nodegate.test';
const LOOPBACK = '127.0.0.1';
/** tor's bootstrap plus the first descriptor upload on the private network; generous for a loaded CI machine. */
const ONION_PUBLISH_TIMEOUT_MS = 180_000;
const POLL_MS = 250;

/** Polls `done` until true, bounded by `timeoutMs`; NG_TIMEOUT with `what` otherwise. */
async function waitUntil(done: () => boolean, timeoutMs: number, signal: AbortSignal, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (signal.aborted) throw new NodegateError('NG_ABORTED', 'The demo was stopped.');
    if (Date.now() > deadline) throw new NodegateError('NG_TIMEOUT', `${what} within ${timeoutMs / 1000} s.`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** Collects output lines for init (which prints to its own io). */
function quietIO(io: CommandIO): CommandIO & { text(): string } {
  let text = '';
  const sink = { write: (chunk: string | Uint8Array) => ((text += chunk.toString()), true) } as unknown as NodeJS.WritableStream;
  return { ...io, stdout: sink, text: () => text };
}

/** What each fixed demo port is for (for the one-line message when one is taken). */
const PORT_USES: Array<{ port: number; what: string; udp?: boolean }> = [
  { port: DEMO_PORTS.registryApi, what: "the registry's API" },
  { port: DEMO_PORTS.registryDns, what: "the registry's DNS", udp: true },
  { port: DEMO_PORTS.registryStun, what: "the registry's STUN echo", udp: true },
  { port: DEMO_PORTS.gateway, what: 'the gateway' },
  { port: DEMO_PORTS.lnd, what: 'the LND simulator' },
  { port: DEMO_PORTS.dashboard, what: 'the dashboard' },
];

function portFree(port: number, udp: boolean): Promise<boolean> {
  return new Promise((done) => {
    if (udp) {
      const sock = createSocket('udp4');
      sock.once('error', () => done(false));
      sock.bind(port, LOOPBACK, () => sock.close(() => done(true)));
      return;
    }
    const server = createServer();
    server.once('error', () => done(false));
    server.listen(port, LOOPBACK, () => server.close(() => done(true)));
  });
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/**
 * Checks, before anything starts or waits, that this run can use the demo's ports and its state
 * directory; NG_DEMO_STATE with one line saying why and what to do otherwise.
 */
export async function checkDemoPreconditions(root: string): Promise<void> {
  for (const { port, what, udp } of PORT_USES) {
    if (!(await portFree(port, false)) || (udp && !(await portFree(port, true)))) {
      throw new NodegateError('NG_DEMO_STATE', `Port ${port} on ${LOOPBACK} (${what}) is in use: is another \`npm start\` (nodegate demo) still running? Stop it with Ctrl-C in its terminal, then run this again.`);
    }
  }
  const nodeRegistered = await exists(join(root, 'node', REGISTRATION_FILE));
  const registryKept = await exists(join(root, 'registry', REGISTRY_DB_FILE));
  if (nodeRegistered && !registryKept) {
    throw new NodegateError('NG_DEMO_STATE', `${join(root, 'node')} belongs to a registry whose data (${join(root, 'registry')}) is gone, so its name cannot be kept: delete ${root} (or only its node/ folder) and run again.`);
  }
}

/** A secret kept in `file` across runs (made on the first one). */
async function keptSecret(file: string): Promise<string> {
  try {
    const kept = (await readFile(file, 'utf8')).trim();
    if (kept) return kept;
  } catch {
    // first run: made below
  }
  const made = randomBytes(12).toString('base64url');
  await writeFile(file, made + '\n', { mode: 0o600 });
  return made;
}

async function run(args: string[], io: CommandIO): Promise<number> {
  const { values } = parseCommandArgs(args, { dir: { type: 'string' }, 'no-tor': { type: 'boolean' } }, USAGE);
  const root = resolve(values.dir ?? io.env.NODEGATE_DEMO_DIR ?? '.demo');
  const withTor = values['no-tor'] !== true;
  const steps = withTor ? 7 : 6;
  let step = 0;
  const progress = (what: string) => io.stdout.write(`[${++step}/${steps}] ${what}\n`);
  const cleanups: Array<() => Promise<unknown>> = [];
  const logger = createLogger({ name: 'demo', level: (io.env.NODEGATE_LOG_LEVEL as 'info' | undefined) ?? 'warn' });
  await mkdir(root, { recursive: true, mode: 0o700 });
  await checkDemoPreconditions(root);

  try {
    progress(`registry: API http://${LOOPBACK}:${DEMO_PORTS.registryApi}, DNS ${LOOPBACK}:${DEMO_PORTS.registryDns}, STUN ${LOOPBACK}:${DEMO_PORTS.registryStun} (zone ${DEMO_ZONE})`);
    const registry = await startRegistry({
      zone: DEMO_ZONE,
      dataDir: join(root, 'registry'),
      api: { host: LOOPBACK, port: DEMO_PORTS.registryApi },
      dns: { host: LOOPBACK, port: DEMO_PORTS.registryDns },
      stun: { host: LOOPBACK, port: DEMO_PORTS.registryStun },
      allowAddresses: ['127.0.0.0/8'],
      logger: logger.child({ part: 'registry' }),
    });
    cleanups.push(() => registry.close());

    progress('pebble (the test CA) asking the registry DNS for DNS-01');
    const pebble = await startPebble({ dnsServer: `${LOOPBACK}:${DEMO_PORTS.registryDns}` });
    cleanups.push(() => pebble.stop());
    const caFile = join(root, 'demo-ca.pem');
    await writeFile(caFile, pebble.rootPem + pebble.intermediatePem, { mode: 0o644 });

    progress(`LND simulator (locked, like after a power cut) on ${LOOPBACK}:${DEMO_PORTS.lnd} and a dashboard on ${LOOPBACK}:${DEMO_PORTS.dashboard}`);
    const walletPassword = await keptSecret(join(root, 'lnd-wallet-password'));
    const lnd = await startLndSim({ dir: join(root, 'lnd'), port: DEMO_PORTS.lnd, network: 'regtest', alias: 'nodegate-demo', walletPassword });
    cleanups.push(() => lnd.stop());
    const dashboard = await startDashboardApp({ port: DEMO_PORTS.dashboard });
    cleanups.push(() => dashboard.stop());

    let network: TorNetwork | undefined;
    let torClient: TorClient | undefined;
    if (withTor) {
      progress('private Tor network on loopback (5 tor processes; ~20-40 s)');
      network = await startTorNetwork();
      const net = network;
      cleanups.push(() => net.stop());
    }

    progress('registering the node, writing its config, certificate through DNS-01');
    const dataDir = join(root, 'node');
    const passwordFile = join(root, 'owner-password');
    const password = await keptSecret(passwordFile);
    const initIo = quietIO(io);
    const initArgs = [
      '--data', dataDir,
      '--registry', registry.apiUrl,
      '--acme-directory', pebble.directoryUrl,
      '--acme-ca', pebble.apiCaFile,
      '--authoritative', `${LOOPBACK}:${DEMO_PORTS.registryDns}`,
      '--https', `${LOOPBACK}:${DEMO_PORTS.gateway}`,
      '--lnd-rest', lnd.url,
      '--lnd-dir', lnd.dir,
      '--lnd-network', 'regtest',
      '--dashboard', dashboard.url,
      '--password-file', passwordFile,
      '--router', 'none',
      '--no-port-mapping',
      '--registry-dns', `${LOOPBACK}:${DEMO_PORTS.registryDns}`,
      '--stun', `${LOOPBACK}:${DEMO_PORTS.registryStun}`,
      '--no-cert',
      ...(network ? ['--tor', ...network.torrcLines.flatMap((l) => ['--tor-torrc', l])] : []),
    ];
    await initCommand.run(initArgs, initIo);

    progress('gateway, reachability and onion service starting');
    const node = await startNode({ dataDir, logger: logger.child({ part: 'node' }), signal: io.signal });
    cleanups.push(() => node.stop());
    // pebble's root is new at every run: obtain a certificate from this run's CA.
    const cert = await node.certificates!.renew({ force: true, signal: io.signal });
    const name = node.registration!.name;

    if (network) {
      progress('waiting for the onion descriptor to be published, then a Tor client to fetch with');
      await waitUntil(() => node.tor.status().onion?.published === true, ONION_PUBLISH_TIMEOUT_MS, io.signal, 'the onion service was not published');
      torClient = await network.startClient('democlient');
    }

    const created = await node.gateway.tokens.create({ scope: 'readonly', name: 'demo wallet' });
    const port = DEMO_PORTS.gateway;
    const uri = lndconnectUri({ host: name, port, token: created.token });
    const onion = node.tor.onionHost();
    const lines = [
      '',
      `nodegate demo is running (state in ${root}; Ctrl-C stops everything)`,
      '',
      `  device name     ${name}   (LAN name ${node.registration!.lanName})`,
      `  certificate     ${cert.issuer}, for ${cert.names.join(' and ')}`,
      `  resolve it      dig @${LOOPBACK} -p ${DEMO_PORTS.registryDns} ${name}`,
      `  trust the CA    ${caFile}   (pebble's root: new at every run, so import it again each time)`,
      `                  chromium: Settings > Privacy and security > Security > Manage certificates > Authorities > Import`,
      `                  Firefox:  Settings > Privacy & Security > Certificates > View Certificates > Authorities > Import`,
      `  owner page      https://${name}:${port}/_nodegate/   password: ${password}`,
      `  LND             locked, like after a power cut: unlock it on the owner page with the wallet password ${walletPassword}`,
      `  with curl       curl --cacert ${caFile} --resolve ${name}:${port}:${LOOPBACK} https://${name}:${port}/_nodegate/login`,
      `  in chromium     chromium --host-resolver-rules="MAP ${name} ${LOOPBACK}" https://${name}:${port}/_nodegate/  (import the CA first)`,
      `  LND as a wallet curl --cacert ${caFile} --resolve ${name}:${port}:${LOOPBACK} -H "Authorization: Bearer ${created.token}" https://${name}:${port}/v1/getinfo`,
      ...(onion && torClient
        ? [`  onion           ${onion}`, `  over Tor        curl -k --socks5-hostname ${LOOPBACK}:${torClient.socksPort} https://${onion}/_nodegate/login`]
        : []),
      `  wallet token    ${created.token.slice(0, 24)}… (readonly; \`nodegate token list --data ${dataDir}\`)`,
      `  lndconnect      ${uri}`,
      '',
      await qrTerminal(uri),
    ];
    io.stdout.write(lines.join('\n') + '\n');
    await untilAborted(io.signal);
    io.stdout.write('stopping…\n');
    if (torClient) await torClient.stop();
    return 0;
  } catch (err) {
    if (io.signal.aborted) return 130;
    if (isNodegateError(err)) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new NodegateError('NG_INTERNAL', `The demo could not start: ${messageOf(err)}${code === 'EADDRINUSE' ? ` (a demo port is in use: ${Object.values(DEMO_PORTS).join(', ')} — is another demo running?)` : ''}`, { cause: err });
  } finally {
    for (const cleanup of cleanups.reverse()) {
      await cleanup().catch((e: unknown) => io.stderr.write(`demo: a part did not stop cleanly: ${messageOf(e)}\n`));
    }
  }
}

export const command: Command = { name: 'demo', summary: 'the whole system on loopback (what `npm start` runs)', usage: USAGE, run };
