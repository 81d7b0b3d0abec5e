/**
 * Fuzzing the control-reply parser and the client with malformed, truncated and hostile replies:
 * a bounded number of seeded cases; every case ends in replies or a coded error, never a crash,
 * never an unbounded buffer, never a hang.
 */
import { describe, expect, it } from 'vitest';
import { PassThrough } from 'node:stream';
import { ReplyParser, TorControl, parseArguments, parseEvent } from '../../../tor/control.ts';
import { NodegateError } from '../../../core/errors.ts';
import { prng } from '../../support/fuzz.ts';

const CASES = 3000;
const CLIENT_CASES = 200;


const SEEDS = [
  '250 OK\r\n',
  '250-PROTOCOLINFO 1\r\n250-AUTH METHODS=COOKIE,SAFECOOKIE COOKIEFILE="/run/tor/control.authcookie"\r\n250-VERSION Tor="0.4.9.11"\r\n250 OK\r\n',
  '250+info/names=\r\nversion -- The current version\r\n..dot\r\n.\r\n250 OK\r\n',
  '650 STATUS_CLIENT NOTICE BOOTSTRAP PROGRESS=100 TAG=done SUMMARY="Done"\r\n',
  '650 HS_DESC UPLOADED abcdefghij UNKNOWN $AAAA~relay REASON="x y"\r\n',
  '250 AUTHCHALLENGE SERVERHASH=00 SERVERNONCE=11\r\n',
  '552 Unrecognized key "x\\"y"\r\n',
];

function mutate(rand: () => number, input: string): Buffer {
  const b = Buffer.from(input, 'latin1');
  const out: number[] = [...b];
  const ops = 1 + Math.floor(rand() * 6);
  for (let i = 0; i < ops; i++) {
    const at = Math.floor(rand() * (out.length + 1));
    switch (Math.floor(rand() * 7)) {
      case 0: // flip a byte
        if (out.length) out[at % out.length] = Math.floor(rand() * 256);
        break;
      case 1: // delete a run
        out.splice(at, Math.floor(rand() * 8));
        break;
      case 2: // insert hostile bytes
        out.splice(at, 0, ...[0x0d, 0x0a, 0x2e, 0x22, 0x5c, 0x00, 0xff, 0x2b, 0x2d].slice(0, 1 + Math.floor(rand() * 9)));
        break;
      case 3: // truncate
        out.length = at;
        break;
      case 4: // duplicate a slice
        out.splice(at, 0, ...out.slice(0, Math.floor(rand() * 40)));
        break;
      case 5: // a long line
        out.splice(at, 0, ...Buffer.alloc(Math.floor(rand() * 2000), 0x41));
        break;
      default: // a different status code
        out.splice(at, 0, ...Buffer.from(String(100 + Math.floor(rand() * 900))));
    }
  }
  return Buffer.from(out);
}

describe('control reply fuzzing', () => {
  it(`parser: ${CASES} mutated inputs end in replies or NG_TOR_PROTOCOL, fed whole or in random chunks`, () => {
    const rand = prng(0x5eed);
    let errors = 0;
    let replies = 0;
    for (let i = 0; i < CASES; i++) {
      const input = mutate(rand, SEEDS[i % SEEDS.length]! + SEEDS[(i * 7) % SEEDS.length]!);
      const parser = new ReplyParser();
      try {
        let off = 0;
        while (off < input.length) {
          const n = 1 + Math.floor(rand() * 16);
          for (const r of parser.push(input.subarray(off, off + n))) {
            replies++;
            expect(r.lines.length).toBeGreaterThan(0);
            if (r.status === 650) {
              try {
                parseEvent(r);
              } catch (err) {
                expect((err as NodegateError).code).toBe('NG_TOR_PROTOCOL');
              }
            }
            for (const l of r.lines) parseArgumentsSafely(l.text);
          }
          off += n;
        }
      } catch (err) {
        errors++;
        expect(err).toBeInstanceOf(NodegateError);
        expect((err as NodegateError).code).toBe('NG_TOR_PROTOCOL');
      }
    }
    expect(errors + replies).toBeGreaterThan(0);
  });

  it(`client: ${CLIENT_CASES} hostile replies settle every command with a reply or a coded error, within its timeout`, async () => {
    const rand = prng(0xbad);
    const codes = new Set<string>();
    for (let i = 0; i < CLIENT_CASES; i++) {
      const wire = new PassThrough();
      const written = new PassThrough();
      // a duplex: what the client writes goes to `written`, what "tor" sends comes from `wire`
      const duplex = Object.assign(wire, { write: written.write.bind(written) });
      const control = TorControl.fromStream(duplex, { path: 'fuzz' }, 20);
      control.on('close', () => undefined);
      const pending = Promise.allSettled([control.getInfo(['version']), control.protocolInfo()]);
      wire.push(mutate(rand, SEEDS[i % SEEDS.length]!));
      if (rand() < 0.7) wire.push(null);
      const results = await pending;
      for (const r of results) {
        if (r.status === 'rejected') {
          const err = r.reason as unknown;
          expect(err).toBeInstanceOf(NodegateError);
          codes.add((err as NodegateError).code);
        }
      }
      control.close();
    }
    for (const code of codes) expect(['NG_TOR_PROTOCOL', 'NG_TOR_COMMAND', 'NG_TOR_CONTROL_CLOSED', 'NG_TIMEOUT']).toContain(code);
  });
});

function parseArgumentsSafely(text: string): void {
  try {
    parseArguments(text);
  } catch (err) {
    expect((err as NodegateError).code).toBe('NG_TOR_PROTOCOL');
  }
}
