/**
 * The registry of the end-to-end world, run inside its "internet" namespace:
 *   ip netns exec <isp> node bin/run-ts.js test/world/e2e-internet-runner.ts HOST DATA_DIR
 * The real registry (ddns/registry/main.ts) with its API on HOST:8053 and its embedded DNS on
 * HOST:53 (port 53: the phone's stub resolver asks there, as /etc/resolv.conf allows no port), plus
 * the STUN echo on HOST:3478. The documentation ranges are this world's internet, so they are allowed
 * for public records. Prints `ready` once all listen; SIGTERM stops it.
 */
import { startRegistry } from '../../ddns/registry/main.ts';
import { startStunServer } from '../../ddns/registry/stun.ts';

export const E2E_ZONE = 'home.test';
export const E2E_REGISTRY_API_PORT = 8053;
export const E2E_REGISTRY_DNS_PORT = 53;
export const E2E_STUN_PORT = 3478;

const [host = '198.51.100.1', dataDir = '/tmp/ngw-registry'] = process.argv.slice(2);
const registry = await startRegistry({
  zone: E2E_ZONE,
  dataDir,
  api: { host, port: E2E_REGISTRY_API_PORT },
  dns: { host, port: E2E_REGISTRY_DNS_PORT },
  allowAddresses: ['198.51.100.0/24', '203.0.113.0/24'],
  rateLimits: {},
});
const stun = await startStunServer({ host, port: E2E_STUN_PORT });
process.stdout.write(`ready ${registry.apiUrl}\n`);
const stop = async () => {
  await stun.close();
  await registry.close();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
