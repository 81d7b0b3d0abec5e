import { describe, it, expect } from 'vitest';
import WebSocket from 'ws';
import { startHarness, GW_NAME } from '../../support/gateway-harness.ts';

describe('graceful stop', () => {
  it('finishes the in-flight request, closes idle keep-alive and WebSocket connections, refuses new ones', async () => {
    const h = await startHarness({ limits: { shutdownGraceMs: 1500 } });
    try {
      const token = (await h.gateway.tokens.create({ scope: 'readonly', name: 'w' })).token;
      const idle = h.client();
      const warm = await idle.request({ method: 'GET', path: '/v1/getinfo', headers: { host: GW_NAME, authorization: `Bearer ${token}` } });
      await warm.body.text(); // `idle` now holds a keep-alive connection with nothing in flight

      const ws = new WebSocket(`wss://127.0.0.1:${h.port}/v1/invoices/subscribe?method=GET`, { ca: h.cert.certPem, ...({ servername: GW_NAME } as object), headers: { host: GW_NAME, authorization: `Bearer ${token}` } });
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
      const wsClosed = new Promise<void>((resolve) => ws.once('close', () => resolve()));

      h.lnd.setGetinfoDelayMs(500);
      const busy = h.client();
      const seen = h.lnd.total();
      const inFlight = busy.request({ method: 'GET', path: '/v1/getinfo', headers: { host: GW_NAME, authorization: `Bearer ${token}` } });
      await h.lnd.waitForTotal(seen + 1); // the request has reached LND
      const t0 = performance.now();
      const stopped = h.gateway.stop();
      const r = await inFlight;
      expect(r.statusCode).toBe(200);
      expect(((await r.body.json()) as { alias: string }).alias).toBe('nodegate-sim');
      await stopped;
      const ms = performance.now() - t0;
      await wsClosed;
      console.log(`graceful stop: ${ms.toFixed(0)} ms with one request in flight (500 ms upstream delay), one idle keep-alive, one WebSocket`);

      const after = await h
        .client()
        .request({ method: 'GET', path: '/v1/getinfo', headers: { host: GW_NAME, authorization: `Bearer ${token}` } })
        .then(
          () => 'answered',
          (err: { code?: string }) => err.code ?? 'failed',
        );
      expect(after).toBe('ECONNREFUSED');
    } finally {
      await h.close();
    }
  });
});
