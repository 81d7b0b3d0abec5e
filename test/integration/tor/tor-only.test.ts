/**
 * Tor-only mode makes no clearnet connection. The node (gateway + our tor + onion service), the
 * private Tor network and a wallet-side tor run inside a network namespace whose only way out
 * besides loopback is a veth with a default route, so any attempt to reach a non-loopback address
 * emits a packet; an nftables counter on the output hook counts (and drops) every such packet.
 * A positive control first proves the counter sees a deliberate attempt to 198.51.100.7.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startProcess } from '../../../sim/process.ts';

const run = promisify(execFile);
const NS = `ngt-${randomBytes(3).toString('hex')}`;
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const NODE_RUN_TIMEOUT_MS = 290_000;

const NFT_RULES = `table inet ngt {
  counter leak {}
  chain out {
    type filter hook output priority 0; policy accept;
    oif "lo" accept
    counter name leak drop
  }
}
`;

async function ns(...args: string[]): Promise<string> {
  return (await run('ip', ['netns', 'exec', NS, ...args], { timeout: 20_000 })).stdout;
}

async function leaked(): Promise<number> {
  const json = JSON.parse(await ns('nft', '-j', 'list', 'counter', 'inet', 'ngt', 'leak')) as { nftables: Array<{ counter?: { packets: number } }> };
  return json.nftables.find((e) => e.counter)!.counter!.packets;
}

beforeAll(async () => {
  await run('ip', ['netns', 'add', NS]);
  await ns('sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1'); // no IPv6 neighbour discovery noise
  await ns('sysctl', '-qw', 'net.ipv6.conf.default.disable_ipv6=1');
  await run('ip', ['-n', NS, 'link', 'set', 'lo', 'up']);
  await run('ip', ['-n', NS, 'link', 'add', 'ngt0', 'type', 'veth', 'peer', 'name', 'ngt1']);
  await run('ip', ['-n', NS, 'addr', 'add', '192.168.77.2/24', 'dev', 'ngt0']);
  await run('ip', ['-n', NS, 'link', 'set', 'ngt0', 'up']);
  await run('ip', ['-n', NS, 'link', 'set', 'ngt1', 'up']);
  await run('ip', ['-n', NS, 'route', 'add', 'default', 'via', '192.168.77.1']);
  await new Promise<void>((resolve, reject) => {
    const child = execFile('ip', ['netns', 'exec', NS, 'nft', '-f', '-'], { timeout: 20_000 }, (err) => (err ? reject(new Error(`nft -f failed: ${err.message}`)) : resolve()));
    child.stdin?.end(NFT_RULES);
  });
});

afterAll(async () => {
  await run('ip', ['netns', 'del', NS]).catch(() => undefined); // nothing else to clean: processes are stopped by PID in the test
});

describe('Tor-only mode', () => {
  it('the leak counter sees a deliberate clearnet connection attempt (positive control)', async () => {
    const before = await leaked();
    await ns('node', '-e', "const s=require('net').connect(443,'198.51.100.7');s.on('error',()=>{});setTimeout(()=>process.exit(0),1500)");
    expect(await leaked()).toBeGreaterThan(before);
    await ns('nft', 'reset', 'counter', 'inet', 'ngt', 'leak');
    expect(await leaked()).toBe(0);
  });

  it('the node serves LND over the onion and makes its own outbound call through tor, with zero clearnet packets', async () => {
    const node = startProcess('ip', ['netns', 'exec', NS, process.execPath, 'bin/run-ts.js', 'test/support/tor-only-node.ts'], { cwd: ROOT });
    try {
      const line = await node.waitFor(/RESULT .*\n/, NODE_RUN_TIMEOUT_MS);
      const result = JSON.parse(line.slice('RESULT '.length)) as Record<string, unknown>;
      expect(result).toEqual({
        ok: true,
        address: expect.stringMatching(/^[a-z2-7]{56}\.onion$/) as string,
        policy: { clearnetListeners: false, ddns: false, portMapping: false, publicIpLookup: false, acme: false, outbound: 'tor' },
        getinfoStatus: 200,
        outboundStatus: 200,
      });
      await node.exited;
    } finally {
      await node.stop();
    }
    expect(await leaked()).toBe(0);
  }, 300_000);
});
