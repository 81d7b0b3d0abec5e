/**
 * Registering this node with a registry, once. The result lives at DATA/device/registration.json
 * (0600: it holds the dyndns2 update secret); running again for the same registry reuses it and
 * the device key without a network call.
 */
import { join } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { readFileIfExists, writeJsonAtomic } from '../../core/atomic-file.ts';
import { NodegateError } from '../../core/errors.ts';
import { loadOrCreateIdentity, type DeviceIdentity } from './identity.ts';
import { RegistryClient, type FetchLike } from './registry-client.ts';

export const REGISTRATION_FILE = join('device', 'registration.json');

export const Registration = Type.Object(
  {
    registryUrl: Type.String(),
    id: Type.String(),
    /** `<id>.<zone>` */
    name: Type.String(),
    zone: Type.String(),
    /** `lan.<id>.<zone>` */
    lanName: Type.String(),
    /** dyndns2 password (user = name); present when the registry returned one. */
    updateSecret: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
export type Registration = Static<typeof Registration>;

export interface RegisterDeviceOptions {
  dataDir: string;
  registryUrl: string;
  enrollmentToken?: string;
  fetch?: FetchLike;
  now?: () => number;
  signal?: AbortSignal;
}

export interface RegisteredDevice {
  identity: DeviceIdentity;
  registration: Registration;
  client: RegistryClient;
  /** True when this call registered with the registry; false when the stored registration was reused. */
  registered: boolean;
}

function sameRegistry(a: string, b: string): boolean {
  return a.replace(/\/+$/, '') === b.replace(/\/+$/, '');
}

/** Reads DATA/device/registration.json; undefined when absent; NG_FILE_CORRUPT when unreadable. */
export async function loadRegistration(dataDir: string): Promise<Registration | undefined> {
  const path = join(dataDir, REGISTRATION_FILE);
  const raw = await readFileIfExists(path);
  if (raw === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new NodegateError('NG_FILE_CORRUPT', `${path} is not valid JSON; delete it and run \`nodegate init\` again to re-register (the device keeps its name).`, { cause: err });
  }
  if (!Value.Check(Registration, parsed)) {
    throw new NodegateError('NG_FILE_CORRUPT', `${path} does not hold a registration; delete it and run \`nodegate init\` again to re-register (the device keeps its name).`);
  }
  return parsed;
}

/**
 * Registers the node with `registryUrl`, idempotently: the device key is created once; when
 * registration.json exists for the same registry and key it is reused, otherwise the device
 * registers (or re-registers: same name, fresh update secret) and the file is written atomically.
 */
export async function registerDevice(options: RegisterDeviceOptions): Promise<RegisteredDevice> {
  const identity = await loadOrCreateIdentity(options.dataDir);
  const clientExtras = { ...(options.fetch ? { fetch: options.fetch } : {}), ...(options.now ? { now: options.now } : {}) };
  const stored = await loadRegistration(options.dataDir);
  if (stored && stored.id === identity.id && sameRegistry(stored.registryUrl, options.registryUrl)) {
    const client = new RegistryClient({ url: stored.registryUrl, identity, zone: stored.zone, ...clientExtras });
    return { identity, registration: stored, client, registered: false };
  }
  const { client, device } = await RegistryClient.register({
    url: options.registryUrl,
    identity,
    ...(options.enrollmentToken !== undefined ? { enrollmentToken: options.enrollmentToken } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    ...clientExtras,
  });
  const registration: Registration = {
    registryUrl: client.url,
    id: device.id,
    name: device.name,
    zone: device.zone,
    lanName: device.lanName,
    ...(device.updateSecret !== undefined ? { updateSecret: device.updateSecret } : {}),
  };
  await writeJsonAtomic(join(options.dataDir, REGISTRATION_FILE), registration, { mode: 0o600 });
  return { identity, registration, client, registered: true };
}

/** A client for the stored registration (for `nodegate start`, certs, reachability). NG_CONFIG_MISSING if not registered. */
export async function clientForRegisteredDevice(dataDir: string, extras: { fetch?: FetchLike; now?: () => number } = {}): Promise<{ registration: Registration; client: RegistryClient }> {
  const registration = await loadRegistration(dataDir);
  if (!registration) throw new NodegateError('NG_CONFIG_MISSING', `This node is not registered (no ${join(dataDir, REGISTRATION_FILE)}); run \`nodegate init --data ${dataDir} --registry URL\`.`);
  const identity = await loadOrCreateIdentity(dataDir);
  if (identity.id !== registration.id) {
    throw new NodegateError('NG_FILE_CORRUPT', `The device key (${identity.id}) does not match the registration (${registration.id}); delete ${join(dataDir, REGISTRATION_FILE)} and run \`nodegate init\` again.`);
  }
  return { registration, client: new RegistryClient({ url: registration.registryUrl, identity, zone: registration.zone, ...extras }) };
}
