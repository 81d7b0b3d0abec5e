/**
 * Onion client authorisation (ClientAuthV3): the list of authorised clients, stored in
 * DATA/tor/clients.json (0600, written atomically). Only public keys are kept; a client's private
 * key is shown once when it is added (like an API token) and never stored by the node.
 */
import { join } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { NodegateError } from '../core/errors.ts';
import { readFileIfExists, writeJsonAtomic } from '../core/atomic-file.ts';
import { strictObject } from '../core/config.ts';
import { generateClientAuthKeyPair, clientAuthLine } from './keys.ts';

export const CLIENTS_FILE = 'clients.json';
/** tor accepts client names for humans; we keep them short and file-name safe. */
const NAME_PATTERN = '^[A-Za-z0-9_-]{1,32}$';

const ClientSchema = strictObject({
  name: Type.String({ pattern: NAME_PATTERN }),
  /** x25519 public key, base32 (52 chars). */
  publicKey: Type.String({ pattern: '^[A-Z2-7]{52}$' }),
  createdAt: Type.String(),
});
const ClientsFileSchema = strictObject({ version: Type.Literal(1), clients: Type.Array(ClientSchema) });

export type OnionClient = Static<typeof ClientSchema>;

export interface AddedClient {
  client: OnionClient;
  /** base32 private key (shown once). */
  privateKey: string;
  /** base64 private key (for ONION_CLIENT_AUTH_ADD). */
  privateKeyBase64: string;
  /** `<onion>:descriptor:x25519:<key>` when the address is known. */
  authLine?: string;
}

/** Reads the authorised clients of DATA/tor (`torDir`). A missing file is an empty list. */
export async function listClients(torDir: string): Promise<OnionClient[]> {
  const path = join(torDir, CLIENTS_FILE);
  const raw = await readFileIfExists(path);
  if (raw === undefined) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new NodegateError('NG_FILE_CORRUPT', `${path} is not valid JSON. Restore it from a backup, or delete it and add the clients again.`, { cause: err });
  }
  if (!Value.Check(ClientsFileSchema, parsed)) {
    throw new NodegateError('NG_FILE_CORRUPT', `${path} is not a valid client list. Restore it from a backup, or delete it and add the clients again.`);
  }
  return parsed.clients;
}

async function saveClients(torDir: string, clients: OnionClient[]): Promise<void> {
  await writeJsonAtomic(join(torDir, CLIENTS_FILE), { version: 1, clients }, { mode: 0o600 });
}

/** Adds a client with a fresh x25519 pair. NG_USAGE for a bad or duplicate name. */
export async function addClient(torDir: string, name: string, options: { address?: string; now?: () => number } = {}): Promise<AddedClient> {
  if (!new RegExp(NAME_PATTERN).test(name)) {
    throw new NodegateError('NG_USAGE', `Client name "${name}" is not allowed: use 1–32 letters, digits, "-" or "_".`);
  }
  const clients = await listClients(torDir);
  if (clients.some((c) => c.name === name)) {
    throw new NodegateError('NG_USAGE', `A client named "${name}" exists already. Remove it first (nodegate tor client remove ${name}) or pick another name.`);
  }
  const pair = generateClientAuthKeyPair();
  const client: OnionClient = { name, publicKey: pair.publicKey, createdAt: new Date((options.now ?? Date.now)()).toISOString() };
  await saveClients(torDir, [...clients, client]);
  return {
    client,
    privateKey: pair.privateKey,
    privateKeyBase64: pair.privateKeyBase64,
    ...(options.address ? { authLine: clientAuthLine(options.address, pair.privateKey) } : {}),
  };
}

/** Removes a client; NG_USAGE when no client has that name. */
export async function removeClient(torDir: string, name: string): Promise<void> {
  const clients = await listClients(torDir);
  const kept = clients.filter((c) => c.name !== name);
  if (kept.length === clients.length) {
    throw new NodegateError('NG_USAGE', `No client named "${name}". See the list with \`nodegate tor client list\`.`);
  }
  await saveClients(torDir, kept);
}
