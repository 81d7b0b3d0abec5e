/**
 * Throughput of the registry's STUN echo (ddns/registry/stun.ts): Binding answers per second one
 * Node process serves on loopback, to size the registry for a million nodes checking every 2 s
 * (500 000 requests/s). The responder runs in its own process; this process keeps a window of
 * requests in flight on several sockets for a fixed time and counts the answers.
 *
 *   node bin/run-ts.js bench/reach/stun.ts [--seconds 5]
 */
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { startStunServer } from '../../ddns/registry/stun.ts';
import { startProcess } from '../../sim/process.ts';

/** Requests kept in flight per socket (enough to keep the responder busy, few enough not to drop). */
const WINDOW = 64;
const SOCKETS = 4;

async function serve(): Promise<void> {
  const s = await startStunServer({ host: '127.0.0.1', port: 0 });
  process.stdout.write(`port ${s.port}\n`);
  process.on('SIGTERM', () => void s.close().then(() => process.exit(0)));
}

export async function main(argv = process.argv.slice(2)): Promise<string> {
  const { values } = parseArgs({ args: argv, options: { seconds: { type: 'string' }, serve: { type: 'boolean' } } });
  if (values.serve) {
    await serve();
    return '';
  }
  const seconds = Number(values.seconds ?? 5);
  const server = startProcess(process.execPath, [resolve(import.meta.dirname, '../../bin/run-ts.js'), resolve(import.meta.dirname, 'stun.ts'), '--serve']);
  try {
    const port = Number((await server.waitFor(/port \d+/, 15_000)).split(' ')[1]);
    const req = Buffer.alloc(20);
    req.writeUInt16BE(1, 0);
    req.writeUInt32BE(0x2112a442, 4);
    randomBytes(12).copy(req, 8);
    let answers = 0;
    let sent = 0;
    const end = Date.now() + seconds * 1000;
    const sockets = await Promise.all(
      Array.from({ length: SOCKETS }, () => new Promise<ReturnType<typeof createSocket>>((r) => {
        const s = createSocket('udp4');
        s.bind(0, '127.0.0.1', () => r(s));
      })),
    );
    await new Promise<void>((done) => {
      let open = SOCKETS;
      for (const s of sockets) {
        let inFlight = 0;
        const pump = () => {
          while (inFlight < WINDOW && Date.now() < end) {
            inFlight++;
            sent++;
            s.send(req, port, '127.0.0.1');
          }
        };
        s.on('message', () => {
          answers++;
          inFlight--;
          pump();
        });
        // refill after losses so a dropped packet never stalls the window
        const refill = setInterval(() => {
          inFlight = Math.min(inFlight, WINDOW / 2);
          pump();
        }, 50);
        setTimeout(() => {
          clearInterval(refill);
          s.close();
          if (--open === 0) done();
        }, seconds * 1000 + 200);
        pump();
      }
    });
    const perSecond = answers / seconds;
    return [
      '| STUN echo, one Node process, loopback | value |',
      '|---|---|',
      `| requests sent | ${sent} |`,
      `| answers per second | ${Math.round(perSecond)} |`,
      `| processes for 1 M nodes every 2 s (500 000/s) | ${Math.ceil(500_000 / perSecond)} |`,
    ].join('\n');
  } finally {
    await server.stop(3_000);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const out = await main();
  if (out) process.stdout.write(out + '\n');
}
