/**
 * A simulated home with the registry running: a world (netns.ts) plus the real registry + STUN echo
 * in the ISP namespace, a registered node, a listener standing in for the gateway, and helpers to run
 * the doctor and query the registry's DNS. Everything is stopped by PID and torn down in `destroy()`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createWorld, ISP_ADDRESS, type World, type WorldKind } from './netns.ts';
import type { RunningProcess } from '../../sim/process.ts';

export const REPO = resolve(import.meta.dirname, '../..');
export const NODE_PORT = 8443;
export const REGISTRY_URL = `http://${ISP_ADDRESS}:8053`;

export interface Home {
  world: World;
  dataDir: string;
  name: string;
  lanName: string;
  /** Runs `nodegate doctor --json` in the node namespace and returns the parsed object. */
  doctor(lang?: string): { verdict: string; verdicts: { code: string; severity: string; title: string }[]; facts: Record<string, unknown> };
  /** A records the registry's embedded DNS serves for `name` (asked from the ISP namespace with dig). */
  dnsA(name?: string): string[];
  startService(): Promise<RunningProcess>;
  destroy(): Promise<void>;
}

export async function createHome(kind: WorldKind, options: { listen?: boolean; igdV1?: boolean } = {}): Promise<Home> {
  const world = await createWorld({ kind, ...(options.igdV1 ? { igdV1: true } : {}) });
  const dataDir = await mkdtemp(join(tmpdir(), 'ngr-node-'));
  const regDir = await mkdtemp(join(tmpdir(), 'ngr-reg-'));
  const destroy = async () => {
    try {
      await world.destroy();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
      await rm(regDir, { recursive: true, force: true });
    }
  };
  try {
    const runTs = (ns: string, script: string, args: string[]) => world.spawn(ns, process.execPath, [join(REPO, 'bin/run-ts.js'), join(REPO, script), ...args]);
    const registry = runTs(world.ns.isp, 'test/world/registry-runner.ts', [ISP_ADDRESS, regDir]);
    await registry.waitFor(/ready/, 20_000);
    if (options.listen !== false) {
      const listener = runTs(world.ns.node, 'test/world/node-runner.ts', ['listen', String(NODE_PORT)]);
      await listener.waitFor(/listening/, 15_000);
    }
    const out = world.exec(world.ns.node, process.execPath, [join(REPO, 'bin/run-ts.js'), join(REPO, 'test/world/node-runner.ts'), 'register', dataDir, REGISTRY_URL, String(NODE_PORT)], 30_000);
    const reg = JSON.parse(out.trim().split('\n').pop()!) as { name: string; lanName: string };
    const home: Home = {
      world,
      dataDir,
      name: reg.name,
      lanName: reg.lanName,
      doctor(lang = 'en') {
        let text: string;
        try {
          text = world.exec(world.ns.node, process.execPath, [join(REPO, 'bin/nodegate.js'), 'doctor', '--data', dataDir, '--json', '--lang', lang], 60_000);
        } catch (err) {
          // exit 1 (a problem found) still prints the JSON object on stdout
          const e = (err as { cause?: { stdout?: string } }).cause;
          if (!e?.stdout) throw err;
          text = e.stdout;
        }
        return JSON.parse(text) as ReturnType<Home['doctor']>;
      },
      dnsA(name = reg.name) {
        const out = world.exec(world.ns.isp, 'dig', ['+short', '+time=1', '+tries=1', '-p', '5353', `@${ISP_ADDRESS}`, name, 'A']);
        return out.split('\n').map((l) => l.trim()).filter((l) => /^\d+\.\d+\.\d+\.\d+$/.test(l));
      },
      async startService() {
        const p = runTs(world.ns.node, 'test/world/node-runner.ts', ['service', dataDir]);
        await p.waitFor(/started/, 30_000);
        return p;
      },
      destroy,
    };
    return home;
  } catch (err) {
    await destroy().catch(() => undefined);
    throw err;
  }
}
