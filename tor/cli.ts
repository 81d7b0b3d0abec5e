/**
 * `nodegate tor ...`: the onion address and client authorisation.
 *
 *   nodegate tor address --data DIR [--json]
 *   nodegate tor client add NAME --data DIR [--json]
 *   nodegate tor client list --data DIR [--json]
 *   nodegate tor client remove NAME --data DIR [--json]
 */
import { join } from 'node:path';
import { NodegateError } from '../core/errors.ts';
import { parseCommandArgs, resolveDataDir, writeJson, type Command, type CommandIO } from '../core/cli.ts';
import { addClient, listClients, removeClient } from './clients.ts';
import { loadOrCreateOnionKey } from './onion.ts';

const USAGE = `usage: nodegate tor address --data DIR [--json]
       nodegate tor client add NAME --data DIR [--json]
       nodegate tor client list --data DIR [--json]
       nodegate tor client remove NAME --data DIR [--json]

  address         the node's onion address (made once, kept forever in DATA/tor)
  client add      authorise a wallet or browser (ClientAuthV3); prints its private key ONCE
  client list     the authorised clients
  client remove   withdraw a client's access

The running node publishes the new client list when it restarts (nodegate start).`;

const OPTIONS = { data: { type: 'string' }, json: { type: 'boolean' } } as const;

export const command: Command = {
  name: 'tor',
  summary: 'tor address | client add|list|remove: onion address and client authorisation',
  usage: USAGE,
  async run(args: string[], io: CommandIO): Promise<number> {
    const { values, positionals } = parseCommandArgs(args, OPTIONS, USAGE, true);
    const dataDir = resolveDataDir(values.data, io.env, USAGE);
    const torDir = join(dataDir, 'tor');
    const [group, verb, name, ...extra] = positionals;
    if (extra.length > 0) throw new NodegateError('NG_USAGE', `Unexpected argument "${extra[0]}".\n\n${USAGE}`);

    if (group === 'address' && verb === undefined) {
      const { key } = await loadOrCreateOnionKey(torDir);
      const address = `${key.address}.onion`;
      if (values.json) writeJson(io, { address });
      else io.stdout.write(`${address}\n`);
      return 0;
    }
    if (group !== 'client') throw new NodegateError('NG_USAGE', `Unknown tor command "${positionals.join(' ')}".\n\n${USAGE}`);

    if (verb === 'list' && name === undefined) {
      const clients = await listClients(torDir);
      if (values.json) writeJson(io, { clients });
      else if (clients.length === 0) io.stdout.write('No authorised onion clients. Add one with `nodegate tor client add NAME`.\n');
      else for (const c of clients) io.stdout.write(`${c.name.padEnd(20)} added ${c.createdAt}\n`);
      return 0;
    }
    if (verb === 'add' && name !== undefined) {
      const { key } = await loadOrCreateOnionKey(torDir);
      const address = `${key.address}.onion`;
      const added = await addClient(torDir, name, { address });
      if (values.json) {
        writeJson(io, { name, address, publicKey: added.client.publicKey, privateKey: added.privateKey, authLine: added.authLine, privateKeyBase64: added.privateKeyBase64 });
      } else {
        io.stdout.write(
          [
            `Client "${name}" is authorised for ${address}.`,
            '',
            'Its private key is shown only now. Give it to the client:',
            `  Tor Browser (when it asks for the key):  ${added.privateKey}`,
            `  tor ClientOnionAuthDir/${name}.auth_private file:`,
            `    ${added.authLine}`,
            '',
            'Restart the node (nodegate start) to publish the new client list.',
            '',
          ].join('\n'),
        );
      }
      return 0;
    }
    if (verb === 'remove' && name !== undefined) {
      await removeClient(torDir, name);
      if (values.json) writeJson(io, { removed: name });
      else io.stdout.write(`Client "${name}" removed. Restart the node (nodegate start) to withdraw its access.\n`);
      return 0;
    }
    throw new NodegateError('NG_USAGE', `Unknown tor command "${positionals.join(' ')}".\n\n${USAGE}`);
  },
};
