/**
 * Runs the real registry (ddns/registry/main.ts: API + embedded DNS) and the STUN echo
 * (ddns/registry/stun.ts) inside the ISP namespace of a world:
 *   ip netns exec <isp> node bin/run-ts.js test/world/registry-runner.ts HOST DATA_DIR
 * API on HOST:8053, DNS on HOST:5353, STUN on HOST:3478. Prints `ready` once all listen; stops on
 * SIGTERM. The documentation ranges are allowed for public records (they are this world's internet).
 */
import { startRegistry } from '../../ddns/registry/main.ts';
import { startStunServer } from '../../ddns/registry/stun.ts';

export const WORLD_ZONE = 'home.test';
export const REGISTRY_API_PORT = 8053;
export const REGISTRY_DNS_PORT = 5353;
export const REGISTRY_STUN_PORT = 3478;

const [host = '198.51.100.1', dataDir = '/tmp/ngr-registry'] = process.argv.slice(2);
const registry = await startRegistry({
  zone: WORLD_ZONE,
  dataDir,
  api: { host, port: REGISTRY_API_PORT },
  dns: { host, port: REGISTRY_DNS_PORT },
  allowAddresses: ['198.51.100.0/24', '203.0.113.0/24'],
  rateLimits: {},
});
const stun = await startStunServer({ host, port: REGISTRY_STUN_PORT });
process.stdout.write(`ready ${registry.apiUrl}\n`);
const stop = async () => {
  await stun.close();
  await registry.close();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
