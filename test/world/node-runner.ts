/**
 * The node's side of a world, run inside the node namespace:
 *   node bin/run-ts.js test/world/node-runner.ts register DATA REGISTRY_URL PORT
 *       registers the device, writes DATA/config.json ("registry" + "reachability" sections)
 *   node bin/run-ts.js test/world/node-runner.ts service DATA
 *       runs ReachabilityService; prints one JSON line `state {...}` per change; SIGTERM stops it
 *       cleanly (the mapping is removed) and prints `stopped`
 *   node bin/run-ts.js test/world/node-runner.ts listen PORT
 *       a TCP listener standing in for the gateway's HTTPS port; prints `listening`
 */
import { createServer } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { clientForRegisteredDevice, registerDevice } from '../../ddns/client/enroll.ts';
import { parseConfig } from '../../core/config.ts';
import { ReachabilityConfig } from '../../ddns/client/config.ts';
import { ReachabilityService } from '../../ddns/client/service.ts';

const [cmd, a1, a2, a3] = process.argv.slice(2);

if (cmd === 'register') {
  const dataDir = a1!;
  const url = a2!;
  const dev = await registerDevice({ dataDir, registryUrl: url });
  const reachability = {
    internalPort: Number(a3 ?? 8443),
    fastCheckIntervalS: 1,
    mappingCheckIntervalS: 2,
    whoamiIntervalS: 60,
    debounceMs: 100,
    leaseS: 600,
    probeIntervalS: 2,
    registryDns: `${new URL(url).hostname}:5353`,
  };
  await writeFile(join(dataDir, 'config.json'), JSON.stringify({ registry: { url }, reachability }, null, 2));
  process.stdout.write(JSON.stringify({ name: dev.registration.name, lanName: dev.registration.lanName, id: dev.registration.id }) + '\n');
} else if (cmd === 'service') {
  const dataDir = a1!;
  const { readFile } = await import('node:fs/promises');
  const raw = JSON.parse(await readFile(join(dataDir, 'config.json'), 'utf8')) as { reachability: unknown };
  const config = parseConfig(ReachabilityConfig, raw.reachability, 'config.json');
  const { registration, client } = await clientForRegisteredDevice(dataDir);
  let last = '';
  const service = new ReachabilityService({
    dataDir,
    config,
    registry: client,
    registration,
    log: {
      info: () => {
        const s = service.status();
        const line = JSON.stringify({ addresses: s.addresses, published: s.published, mapping: { status: s.mapping.status, method: s.mapping.method, reason: s.mapping.reason, recreated: s.mapping.recreated, externalPort: s.mapping.mapping?.externalPort ?? null, routerWan: s.mapping.routerWan } });
        if (line !== last) process.stdout.write(`state ${line}\n`);
        last = line;
      },
      warn: (o) => process.stderr.write(`warn ${JSON.stringify(o)}\n`),
    },
  });
  await service.start();
  process.stdout.write('started\n');
  const stop = async () => {
    await service.stop();
    process.stdout.write('stopped\n');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
} else if (cmd === 'listen') {
  const server = createServer((s) => s.end());
  server.listen(Number(a1), () => process.stdout.write('listening\n'));
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
} else {
  process.stderr.write('usage: node-runner.ts register|service|listen ...\n');
  process.exit(2);
}
