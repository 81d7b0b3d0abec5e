/**
 * Runs the real registry (ddns/registry/main.ts: API, embedded DNS and the STUN echo) inside the
 * "internet" namespace of a world:
 *   ip netns exec <isp> node bin/run-ts.js test/world/registry-runner.ts HOST DATA_DIR [DNS_PORT]
 * API on HOST:8053, DNS on HOST:DNS_PORT (default 5353; the end-to-end world uses 53, where a
 * phone's stub resolver asks: /etc/resolv.conf takes no port), STUN on HOST:3478. The documentation
 * ranges are this world's internet, so they are allowed for public records. Prints `ready` once all
 * listen; SIGTERM stops it.
 */
import { startRegistry } from '../../ddns/registry/main.ts';

export const WORLD_ZONE = 'home.test';
export const REGISTRY_API_PORT = 8053;
export const REGISTRY_DNS_PORT = 5353;
export const REGISTRY_STUN_PORT = 3478;

const [host = '198.51.100.1', dataDir = '/tmp/ngr-registry', dnsPort = String(REGISTRY_DNS_PORT)] = process.argv.slice(2);
const registry = await startRegistry({
  zone: WORLD_ZONE,
  dataDir,
  api: { host, port: REGISTRY_API_PORT },
  dns: { host, port: Number(dnsPort) },
  stun: { host, port: REGISTRY_STUN_PORT },
  allowAddresses: ['198.51.100.0/24', '203.0.113.0/24'],
  rateLimits: {},
});
process.stdout.write(`ready ${registry.apiUrl}\n`);
const stop = async () => {
  await registry.close();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
