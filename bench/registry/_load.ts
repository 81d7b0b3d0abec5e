/**
 * Load generator for bench/registry/updates.ts, run in its own process so that the client's CPU
 * is not the server's: signed address updates (a fresh EdDSA JWT each) at a fixed concurrency.
 * The tokens are signed before the clock starts (each still unique and valid for 30 s), so the
 * figure is the registry's rate, not the load generator's signing rate.
 * argv: KEYS_FILE API_URL ZONE COUNT CONCURRENCY. Prints one JSON line of results.
 */
import { readFile } from 'node:fs/promises';
import { identityFromPrivateJwk } from '../../ddns/client/identity.ts';
import { RegistryClient } from '../../ddns/client/registry-client.ts';

const [keysFile, apiUrl, zone, countArg, concurrencyArg] = process.argv.slice(2);
const count = Number(countArg);
const concurrency = Number(concurrencyArg);
const keys = JSON.parse(await readFile(keysFile!, 'utf8')) as unknown[];
const clients = keys.map((k) => new RegistryClient({ url: apiUrl!, identity: identityFromPrivateJwk(k), zone: zone! }));
const tokens: string[] = [];
for (let i = 0; i < count; i++) tokens.push(await clients[i % clients.length]!.token());
const latencies: number[] = [];
let next = 0;
let errors = 0;
const started = performance.now();
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    for (;;) {
      const i = next++;
      if (i >= count) return;
      const client = clients[i % clients.length]!;
      const t0 = performance.now();
      try {
        const res = await fetch(`${apiUrl}/v1/devices/${client.identity.id}/address`, {
          method: 'PUT',
          headers: { authorization: `Bearer ${tokens[i]}`, 'content-type': 'application/json' },
          body: JSON.stringify({ ipv4: `198.51.100.${i % 250}`, ipv6: `2001:db8::${(i % 65535).toString(16)}` }),
        });
        await res.arrayBuffer();
        if (res.status !== 200) errors++;
      } catch {
        errors++;
      }
      latencies.push(performance.now() - t0);
    }
  }),
);
const seconds = (performance.now() - started) / 1000;
latencies.sort((a, b) => a - b);
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0;
process.stdout.write(JSON.stringify({ count, seconds, perSecond: count / seconds, p50: pct(0.5), p99: pct(0.99), errors }) + '\n');
