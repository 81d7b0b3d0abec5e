/**
 * The node's own services in the end-to-end world, run inside the node namespace:
 *   ip netns exec <node> node bin/run-ts.js test/world/e2e-lnd-runner.ts LND_DIR WALLET_PASSWORD ALIAS
 * The LND REST simulator (sim/lnd.ts; locked, like LND after a power cut) on
 * 127.0.0.1:8080 and the dashboard (sim/dashboard.ts) on 127.0.0.1:3000. Prints one
 * line `ready {"lndUrl":…,"lndDir":…,"dashboardUrl":…}`; SIGTERM stops both.
 */
import { startLndSim } from '../../sim/lnd.ts';
import { startDashboardApp } from '../../sim/dashboard.ts';

export const E2E_LND_PORT = 8080;
export const E2E_DASHBOARD_PORT = 3000;

const [dir = '/tmp/ngw-lnd', walletPassword = 'correct horse battery staple', alias = 'nodegate-e2e'] = process.argv.slice(2);
const lnd = await startLndSim({ dir, port: E2E_LND_PORT, network: 'regtest', walletPassword, alias });
const dashboard = await startDashboardApp({ port: E2E_DASHBOARD_PORT });
process.stdout.write(`ready ${JSON.stringify({ lndUrl: lnd.url, lndDir: lnd.dir, dashboardUrl: dashboard.url })}\n`);
const stop = async () => {
  await dashboard.stop();
  await lnd.stop();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
