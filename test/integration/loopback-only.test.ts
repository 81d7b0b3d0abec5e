/**
 * The test run cannot send anything off this machine: `npm test` runs vitest through
 * scripts/loopback-only, in a network namespace that holds only loopback. This file fails when the
 * suite is started any other way (a bare `npx vitest run`), or when the wrapper stops isolating.
 */
import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { describe, expect, it } from 'vitest';
import { defaultGateway } from '../../ddns/client/portmapper.ts';

interface IpRoute {
  dst: string;
  dev?: string;
  gateway?: string;
}

function routes(family: '-4' | '-6'): IpRoute[] {
  return JSON.parse(execFileSync('ip', ['-j', family, 'route', 'show', 'table', 'all'], { encoding: 'utf8' })) as IpRoute[];
}

/** What a datagram to `host` gets: the error code, or 'sent'. */
function sendTo(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const sock = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    sock.send(Buffer.from('x'), port, host, (err) => {
      sock.close();
      resolve(err ? ((err as NodeJS.ErrnoException).code ?? 'error') : 'sent');
    });
  });
}

function connectTo(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ host, port, timeout: 2_000 });
    s.once('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.once('timeout', () => {
      s.destroy();
      resolve('timeout');
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
  });
}

describe('the test run is loopback-only', () => {
  it('runs inside scripts/loopback-only (NODEGATE_LOOPBACK_ONLY=1)', () => {
    expect(process.env.NODEGATE_LOOPBACK_ONLY, 'start the suite with `npm test` (scripts/loopback-only), not a bare vitest').toBe('1');
  });

  it('has no interface but loopback, and it is up', () => {
    expect(Object.keys(networkInterfaces())).toEqual(['lo']);
    const addrs = networkInterfaces().lo?.map((a) => a.address).sort();
    expect(addrs).toEqual(['127.0.0.1', '::1']);
  });

  it('has no route but through loopback, and no default route', async () => {
    for (const r of [...routes('-4'), ...routes('-6')]) {
      expect(r.dev, `route ${JSON.stringify(r)}`).toBe('lo');
      expect(r.gateway).toBeUndefined();
      expect(r.dst).not.toBe('default');
    }
    expect(await defaultGateway()).toBeNull();
  });

  it('cannot send to the "internet" test ranges, a multicast group or a public address', async () => {
    expect(await sendTo('198.51.100.1', 9)).toBe('ENETUNREACH');
    expect(await sendTo('239.255.255.250', 1900)).toBe('ENETUNREACH'); // UPnP SSDP
    expect(await sendTo('2001:db8::1', 9)).toBe('ENETUNREACH');
    expect(await connectTo('203.0.113.1', 443)).toBe('ENETUNREACH');
  });

  it('still reaches loopback', async () => {
    expect(await sendTo('127.0.0.1', 9)).toBe('sent');
    expect(await sendTo('::1', 9)).toBe('sent');
  });
});
