/**
 * Real back ends for the owner pages in tests: the gateway's LND REST simulator (real TLS, real
 * macaroons, locked wallet), the gateway's pinned LndUpstream and TokenService, adapted to the
 * owner pages' OwnerDeps. The adapter is what gateway/owner-deps.ts must provide in production
 * (its types differ today: see docs/owner-pages.md).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLndSim, type LndSim } from '../../../../sim/lnd.ts';
import { LndUpstream } from '../../../../gateway/proxy/lnd-upstream.ts';
import type { TokenService } from '../../../../gateway/auth/tokens.ts';
import type { NodeStatus, OwnerDeps, PairingHost } from '../../../../gateway/ui/types.ts';

export interface LndBackend {
  sim: LndSim;
  upstream: LndUpstream;
  close(): Promise<void>;
}

/** A fresh, locked LND simulator and a pinned upstream to it. */
export async function startLockedLnd(opts: { walletPassword: string; alias: string }): Promise<LndBackend> {
  const dir = await mkdtemp(join(tmpdir(), 'ng-ui-lnd-'));
  const sim = await startLndSim({ dir, walletPassword: opts.walletPassword, alias: opts.alias, network: 'mainnet' });
  const upstream = new LndUpstream({ restUrl: sim.url, lndDir: sim.dir, network: 'mainnet', connectTimeoutMs: 2_000, headersTimeoutMs: 10_000 });
  return {
    sim,
    upstream,
    async close() {
      await upstream.close();
      await sim.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** OwnerDeps over the current LND back end (swappable between tests) and a TokenService. */
export function ownerDepsOver(current: () => LndBackend, tokens: TokenService, pairing: () => PairingHost): OwnerDeps {
  return {
    async status(): Promise<NodeStatus> {
      const { upstream } = current();
      const state = await upstream.walletState();
      const base = {
        names: ['abcd1234.nodegate.test', '*.abcd1234.nodegate.test'],
        lanName: 'lan.abcd1234.nodegate.test',
        certificate: { issuer: 'nodegate (self-signed)', notAfter: '2036-11-22T00:00:00Z', selfSigned: true },
      };
      if (state !== 'unlocked') return { ...base, lnd: { state } };
      const info = (await upstream.getInfo()) ?? {};
      return {
        ...base,
        lnd: {
          state,
          ...(typeof info.alias === 'string' ? { alias: info.alias } : {}),
          ...(typeof info.block_height === 'number' ? { blockHeight: info.block_height } : {}),
          ...(typeof info.synced_to_chain === 'boolean' ? { synced: info.synced_to_chain } : {}),
        },
      };
    },
    unlockWallet: (password, signal) => current().upstream.unlockWallet(password, signal),
    async createToken(input) {
      const created = await tokens.create(input);
      return { id: created.id, token: created.token, expiresAt: created.expiresAt };
    },
    listTokens: () => Promise.resolve(tokens.list()),
    async revokeToken(id) {
      await tokens.revoke(id);
    },
    pairingHost: pairing,
  };
}
