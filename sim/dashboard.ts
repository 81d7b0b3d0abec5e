/**
 * A small node dashboard for tests and the demo: an HTML page whose content appears only with
 * JavaScript (like ThunderHub or RTL), a JSON endpoint, and a WebSocket echo at /ws.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Node dashboard</title></head>
<body><main id="app">Loading…</main>
<script>
document.getElementById('app').textContent = 'Dashboard ready';
const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws');
ws.onopen = () => ws.send('ping');
ws.onmessage = (e) => { document.getElementById('app').dataset.echo = e.data; };
</script></body></html>
`;

export interface DashboardApp {
  readonly url: string;
  readonly port: number;
  /** Requests seen, by path. */
  counts(): Record<string, number>;
  /** Headers of the requests seen, in order (at most 1000). */
  requestHeaders(): Record<string, string | string[] | undefined>[];
  stop(): Promise<void>;
}

/** `<html><body>Café Zürich</body></html>` in ISO-8859-1 (é and ü are one byte each). */
export const LATIN1_PAGE = Buffer.from('<html><body>Caf\u00e9 Z\u00fcrich</body></html>', 'latin1');
const HUGE_PAGE_CHUNK = Buffer.from(`<p>${'x'.repeat(64 * 1024 - 8)}</p>\n`);
const HUGE_PAGE_CHUNKS = 48; // 3 MiB
/** Bytes of `/huge`. */
export const HUGE_PAGE_BYTES = HUGE_PAGE_CHUNK.length * HUGE_PAGE_CHUNKS + '</body></html>'.length;

export async function startDashboardApp(options: { port?: number; dir?: string } = {}): Promise<DashboardApp> {
  const counts: Record<string, number> = {};
  const headers: Record<string, string | string[] | undefined>[] = [];
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    counts[path] = (counts[path] ?? 0) + 1;
    if (headers.length < 1000) headers.push({ ...req.headers });
    if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(DASHBOARD_HTML) });
      res.end(DASHBOARD_HTML);
    } else if (path === '/latin1') {
      // a page in ISO-8859-1: its bytes must survive the notice's insertion
      res.writeHead(200, { 'content-type': 'text/html; charset=iso-8859-1', 'content-length': LATIN1_PAGE.length });
      res.end(LATIN1_PAGE);
    } else if (path === '/huge') {
      // an HTML page with no length, larger than the gateway will hold to insert its notice
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      for (let i = 0; i < HUGE_PAGE_CHUNKS; i++) res.write(HUGE_PAGE_CHUNK);
      res.end('</body></html>');
    } else if (path === '/api/info') {
      const body = JSON.stringify({ ok: true, host: req.headers.host, forwardedHost: req.headers['x-forwarded-host'] ?? null });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain', 'content-length': 9 });
      res.end('not found');
    }
  });
  const wss = new WebSocketServer({ server, path: '/ws' });
  const sockets = new Set<WebSocket>();
  wss.on('connection', (ws) => {
    counts['WS /ws'] = (counts['WS /ws'] ?? 0) + 1;
    sockets.add(ws);
    ws.on('message', (data, isBinary) => ws.send(isBinary ? data : `echo:${Buffer.isBuffer(data) ? data.toString('utf8') : ''}`));
    ws.on('close', () => sockets.delete(ws));
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    counts: () => ({ ...counts }),
    requestHeaders: () => [...headers],
    async stop() {
      for (const ws of sockets) ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
