/**
 * A real registry (embedded DNS, SQLite store) on loopback ports chosen by the OS, for tests.
 */
import { startRegistry, type RunningRegistry, type StartRegistryOptions } from '../../ddns/registry/main.ts';
import { generateIdentity, type DeviceIdentity } from '../../ddns/client/identity.ts';
import { RegistryClient } from '../../ddns/client/registry-client.ts';
import type { RegisterResponse } from '../../ddns/protocol.ts';
import { tempDir } from '../../sim/process.ts';

export const TEST_ZONE = 'dyn.test.example';

export interface TestRegistry extends RunningRegistry {
  dataDir: string;
  /** Registers a fresh identity. */
  device(enrollmentToken?: string): Promise<{ identity: DeviceIdentity; client: RegistryClient; device: RegisterResponse }>;
  stop(): Promise<void>;
}

export async function startTestRegistry(options: Partial<StartRegistryOptions> = {}): Promise<TestRegistry> {
  const dir = await tempDir('ng-registry-');
  let registry: RunningRegistry;
  try {
    registry = await startRegistry({
      zone: TEST_ZONE,
      dataDir: dir.path,
      api: { host: '127.0.0.1', port: 0 },
      dns: { host: '127.0.0.1', port: 0 },
      ...options,
    });
  } catch (err) {
    await dir.remove();
    throw err;
  }
  return {
    ...registry,
    dataDir: dir.path,
    async device(enrollmentToken?: string) {
      const identity = generateIdentity();
      const { client, device } = await RegistryClient.register({ url: registry.apiUrl, identity, ...(enrollmentToken ? { enrollmentToken } : {}) });
      return { identity, client, device };
    },
    async stop() {
      try {
        await registry.close();
      } finally {
        await dir.remove();
      }
    },
  };
}
