// The RFC 2136 + TSIG solver and the direct propagation check against real Knot servers.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startKnotZone, type KnotZone } from './knot-zone.ts';
import { Rfc2136Solver } from '../../../certs/solvers/rfc2136.ts';
import { queryTxt } from '../../../certs/txt-query.ts';
import { waitForTxt } from '../../../certs/propagation.ts';

const ZONE = 'user.test';
let primary: KnotZone;
let lagging: KnotZone; // a second "authoritative" server that never receives the update

beforeAll(async () => {
  primary = await startKnotZone(ZONE);
  lagging = await startKnotZone(ZONE);
});
afterAll(async () => {
  await primary?.stop();
  await lagging?.stop();
});

function solver(secret = primary.tsig.secret) {
  return new Rfc2136Solver({ type: 'rfc2136', server: primary.address, zone: ZONE, tsig: { ...primary.tsig, secret } });
}

describe('Rfc2136Solver (Knot, TSIG hmac-sha256)', () => {
  it('adds two values under one name and removes exactly one', async () => {
    const s = solver();
    await s.present('node.user.test', 'value-apex');
    await s.present('*.node.user.test', 'value-wildcard');
    expect((await queryTxt(primary, '_acme-challenge.node.user.test')).sort()).toEqual(['value-apex', 'value-wildcard']);
    await s.cleanup('node.user.test', 'value-apex');
    expect(await queryTxt(primary, '_acme-challenge.node.user.test')).toEqual(['value-wildcard']);
    await s.cleanup('node.user.test', 'value-wildcard');
    await s.cleanup('node.user.test', 'value-wildcard'); // absent: not an error
    expect(await queryTxt(primary, '_acme-challenge.node.user.test')).toEqual([]);
  });

  it('is refused with NG_DNS_UPDATE_REFUSED under a wrong TSIG secret, and changes nothing', async () => {
    await expect(solver(Buffer.alloc(32, 7).toString('base64')).present('bad.user.test', 'x')).rejects.toMatchObject({ code: 'NG_DNS_UPDATE_REFUSED', details: { rcode: 'NOTAUTH' } });
    expect(await queryTxt(primary, '_acme-challenge.bad.user.test')).toEqual([]);
  });

  it('gives up through its signal (NG_ABORTED) when nothing answers', async () => {
    const s = new Rfc2136Solver({ type: 'rfc2136', server: '127.0.0.1:9', zone: ZONE, tsig: primary.tsig });
    const err = await s.present('x.user.test', 'v', { signal: AbortSignal.timeout(300) }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'NG_ABORTED' });
  });
});

describe('propagation check at every authoritative server', () => {
  it('passes once every server serves every value', async () => {
    await solver().present('ok.user.test', 'v1');
    try {
      await waitForTxt([{ name: '_acme-challenge.ok.user.test', value: 'v1' }], { servers: [primary], timeoutMs: 1000, intervalMs: 50 });
    } finally {
      await solver().cleanup('ok.user.test', 'v1');
    }
  });

  it('fails with NG_CERT_TXT_NOT_VISIBLE naming the lagging server after the bounded wait', async () => {
    await solver().present('lag.user.test', 'v2');
    try {
      const err = (await waitForTxt([{ name: '_acme-challenge.lag.user.test', value: 'v2' }], { servers: [primary, lagging], timeoutMs: 300, intervalMs: 50 }).catch((e: unknown) => e)) as { code: string; details: { missing: string[] } };
      expect(err.code).toBe('NG_CERT_TXT_NOT_VISIBLE');
      expect(err.details.missing).toEqual([`${lagging.address} does not serve _acme-challenge.lag.user.test TXT "v2" yet`]);
    } finally {
      await solver().cleanup('lag.user.test', 'v2');
    }
  });
});
