/**
 * `nodegate`: the one command line. Each subcommand lives beside the part of the system it drives
 * and is loaded only when used, so `nodegate --help` and short commands start fast.
 */
import { exitCodeFor, isNodegateError, messageOf } from '../core/errors.ts';
import type { Command, CommandIO } from '../core/cli.ts';

interface Entry {
  summary: string;
  load: () => Promise<{ command: Command }>;
}

const COMMANDS: Record<string, Entry> = {
  registry: { summary: 'run a registry: device names, embedded DNS, ACME TXT records', load: () => import('../ddns/registry/cli.ts') },
  init: { summary: 'register this node, write its config and keys', load: () => import('../gateway/cli/init.ts') },
  start: { summary: 'run the gateway until SIGTERM/SIGINT', load: () => import('../gateway/cli/start.ts') },
  certs: { summary: 'certs renew: obtain or renew the certificate now', load: () => import('../certs/cli.ts') },
  token: { summary: 'token create|list|revoke: scoped API tokens for wallets', load: () => import('../gateway/cli/token.ts') },
  pair: { summary: 'lndconnect URI + QR code for a wallet', load: () => import('../gateway/cli/pair.ts') },
  status: { summary: 'names, certificate, onion, addresses, LND state', load: () => import('../gateway/cli/status.ts') },
  doctor: { summary: 'why the node can or cannot be reached, in plain words', load: () => import('../ddns/client/cli.ts') },
  tor: { summary: 'tor client add|list|remove: onion client authorisation', load: () => import('../tor/cli.ts') },
  demo: { summary: 'the whole system on loopback (what `npm start` runs)', load: () => import('../gateway/cli/demo.ts') },
};

const HELP = `nodegate — HTTPS, dynamic DNS, port mapping and Tor for a Lightning node at home

usage: nodegate <command> [options]     (nodegate <command> --help for its options)

commands:
${Object.entries(COMMANDS)
  .map(([name, e]) => `  ${name.padEnd(10)} ${e.summary}`)
  .join('\n')}

--data DIR may also come from NODEGATE_DATA. Exit codes: 0 ok, 1 failure, 2 bad usage or config.
`;

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(HELP);
    return name === undefined ? 2 : 0;
  }
  if (name === '--version') {
    process.stdout.write('nodegate 0.1.0\n');
    return 0;
  }
  const entry = COMMANDS[name];
  if (!entry) {
    process.stderr.write(`nodegate: unknown command "${name}".\n\n${HELP}`);
    return 2;
  }
  const { command } = await entry.load();
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(command.usage.endsWith('\n') ? command.usage : command.usage + '\n');
    return 0;
  }
  const controller = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals > 1) process.exit(130); // a second Ctrl-C: stop waiting
    controller.abort(new Error(`received ${sig}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const io: CommandIO = { stdout: process.stdout, stderr: process.stderr, env: process.env, signal: controller.signal };
  return command.run(args, io);
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  if (isNodegateError(err)) {
    process.stderr.write(`nodegate: ${err.message} [${err.code}]\n`);
  } else {
    process.stderr.write(`nodegate: unexpected failure: ${messageOf(err)}\nPlease report this with the command you ran (NODEGATE_DEBUG=1 shows details).\n`);
  }
  if (process.env.NODEGATE_DEBUG) console.error(err);
  process.exitCode = exitCodeFor(err);
}
