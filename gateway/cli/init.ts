/**
 * `nodegate init` (first version): registers this node with a registry and prints its name.
 * The lead extends it with the gateway config, certificates and tor; the registration step is
 * {@link initRegistration}, callable on its own.
 */
import { type Command, parseCommandArgs, resolveDataDir, writeJson } from '../../core/cli.ts';
import { NodegateError } from '../../core/errors.ts';
import { registerDevice, type RegisteredDevice } from '../../ddns/client/enroll.ts';

const USAGE = `usage: nodegate init --data DIR --registry URL [--enrollment-token T] [--json]

  --data DIR              the node's data directory (or NODEGATE_DATA)
  --registry URL          the registry API, e.g. https://registry.example.net
  --enrollment-token T    the token your vendor gave, when the registry asks for one
  --json                  print the registration as one JSON object
`;

export interface InitRegistrationOptions {
  dataDir: string;
  registryUrl: string;
  enrollmentToken?: string;
  signal?: AbortSignal;
}

/** Creates the device key if needed and registers with the registry (idempotent). */
export function initRegistration(options: InitRegistrationOptions): Promise<RegisteredDevice> {
  return registerDevice({
    dataDir: options.dataDir,
    registryUrl: options.registryUrl,
    ...(options.enrollmentToken !== undefined ? { enrollmentToken: options.enrollmentToken } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
}

export const command: Command = {
  name: 'init',
  summary: 'register this node, write its config and keys',
  usage: USAGE,
  async run(args, io) {
    const { values } = parseCommandArgs(args, { data: { type: 'string' }, registry: { type: 'string' }, 'enrollment-token': { type: 'string' }, json: { type: 'boolean' } }, USAGE);
    const dataDir = resolveDataDir(values.data, io.env, USAGE);
    if (!values.registry) throw new NodegateError('NG_USAGE', `Missing --registry URL.\n\n${USAGE}`);
    const { registration, registered } = await initRegistration({
      dataDir,
      registryUrl: values.registry,
      ...(values['enrollment-token'] !== undefined ? { enrollmentToken: values['enrollment-token'] } : {}),
      signal: io.signal,
    });
    if (values.json) {
      const { updateSecret: _secret, ...shown } = registration;
      writeJson(io, { ...shown, registered });
    } else {
      io.stdout.write(`${registration.name}\n`);
    }
    return 0;
  },
};
