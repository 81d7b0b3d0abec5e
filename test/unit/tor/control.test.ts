import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createServer, type Server, type Socket } from 'node:net';
import { createHmac } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAX_LINE_BYTES, ReplyParser, TorControl, parseArguments, parseControlTarget, parseEvent, quoteString, readQuotedString, type ControlReply } from '../../../tor/control.ts';
import type { NodegateError} from '../../../core/errors.ts';
import { isNodegateError } from '../../../core/errors.ts';

const bytes = (s: string) => Buffer.from(s, 'latin1');

describe('ReplyParser (control-spec §2.3)', () => {
  it('parses a single-line reply', () => {
    expect(new ReplyParser().push(bytes('250 OK\r\n'))).toEqual([{ status: 250, lines: [{ status: 250, separator: ' ', text: 'OK' }] }]);
  });

  it('parses mid lines and the end line as one reply', () => {
    const fixture = '250-PROTOCOLINFO 1\r\n250-AUTH METHODS=COOKIE,SAFECOOKIE COOKIEFILE="/var/run/tor/control.authcookie"\r\n250-VERSION Tor="0.4.9.11"\r\n250 OK\r\n';
    const [reply] = new ReplyParser().push(bytes(fixture));
    expect(reply!.status).toBe(250);
    expect(reply!.lines.map((l) => l.separator + l.text)).toEqual([
      '-PROTOCOLINFO 1',
      '-AUTH METHODS=COOKIE,SAFECOOKIE COOKIEFILE="/var/run/tor/control.authcookie"',
      '-VERSION Tor="0.4.9.11"',
      ' OK',
    ]);
  });

  it('parses a data reply and removes dot-stuffing', () => {
    const fixture = '250+config-text=\r\nControlPort 9051\r\n..hidden line starting with a dot\r\n.\r\n250 OK\r\n';
    const [reply] = new ReplyParser().push(bytes(fixture));
    expect(reply!.lines[0]).toEqual({ status: 250, separator: '+', text: 'config-text=', data: 'ControlPort 9051\n.hidden line starting with a dot' });
    expect(reply!.lines[1]).toEqual({ status: 250, separator: ' ', text: 'OK' });
  });

  it('gives the same replies whatever the chunking (every split point)', () => {
    const fixture = '650 STATUS_CLIENT NOTICE BOOTSTRAP PROGRESS=100 TAG=done SUMMARY="Done"\r\n250+x=\r\na\r\n.\r\n250 OK\r\n552 Unrecognized key "y"\r\n';
    const whole = new ReplyParser().push(bytes(fixture));
    expect(whole).toHaveLength(3);
    for (let cut = 1; cut < fixture.length; cut++) {
      const p = new ReplyParser();
      const got: ControlReply[] = [...p.push(bytes(fixture.slice(0, cut))), ...p.push(bytes(fixture.slice(cut)))];
      expect(got).toEqual(whole);
    }
  });

  it('rejects malformed lines, a status change mid-reply and over-long lines with NG_TOR_PROTOCOL', () => {
    for (const bad of ['hello\r\n', '25 OK\r\n', '250*OK\r\n', '250-a\r\n251 b\r\n', '250-a\r\n650 EVENT\r\n']) {
      expect(() => new ReplyParser().push(bytes(bad)), bad).toThrow(expect.objectContaining({ code: 'NG_TOR_PROTOCOL' }));
    }
    const p = new ReplyParser();
    expect(() => p.push(Buffer.alloc(MAX_LINE_BYTES + 10, 0x41))).toThrow(expect.objectContaining({ code: 'NG_TOR_PROTOCOL' }));
  });
});

describe('tokens (§2.1.1)', () => {
  it('quotes and unquotes strings with escapes', () => {
    const value = 'a "quoted" back\\slash\r\n\tend';
    const quoted = quoteString(value);
    expect(quoted).toBe('"a \\"quoted\\" back\\\\slash\\r\\n\\tend"');
    expect(readQuotedString(quoted, 0)).toEqual({ value, end: quoted.length });
    expect(readQuotedString('"\\101\\1012"', 0).value).toBe('AA2');
    expect(() => readQuotedString('"open', 0)).toThrow(expect.objectContaining({ code: 'NG_TOR_PROTOCOL' }));
  });

  it('splits positional and keyword arguments', () => {
    const { positional, keywords } = parseArguments('NOTICE BOOTSTRAP PROGRESS=45 TAG=requesting_descriptors SUMMARY="Asking for \\"relay\\" descriptors"');
    expect(positional).toEqual(['NOTICE', 'BOOTSTRAP']);
    expect(Object.fromEntries(keywords)).toEqual({ PROGRESS: '45', TAG: 'requesting_descriptors', SUMMARY: 'Asking for "relay" descriptors' });
  });

  it('parses --tor-control targets', () => {
    expect(parseControlTarget('127.0.0.1:9051')).toEqual({ host: '127.0.0.1', port: 9051 });
    expect(parseControlTarget('[::1]:9051')).toEqual({ host: '::1', port: 9051 });
    expect(parseControlTarget('unix:/run/tor/control')).toEqual({ path: '/run/tor/control' });
    for (const bad of ['9051', 'unix:relative', 'host:0', 'host:99999']) expect(() => parseControlTarget(bad)).toThrow(expect.objectContaining({ code: 'NG_USAGE' }));
  });
});

describe('events (§4.1)', () => {
  const event = (line: string) => parseEvent(new ReplyParser().push(bytes(line + '\r\n'))[0]!);

  it('types STATUS_CLIENT BOOTSTRAP', () => {
    expect(event('650 STATUS_CLIENT NOTICE BOOTSTRAP PROGRESS=75 TAG=enough_dirinfo SUMMARY="Loaded enough directory info to build circuits"')).toEqual({
      type: 'BOOTSTRAP',
      severity: 'NOTICE',
      progress: 75,
      tag: 'enough_dirinfo',
      summary: 'Loaded enough directory info to build circuits',
    });
  });

  it('types HS_DESC', () => {
    expect(event('650 HS_DESC UPLOADED r4b7257jvpwrcdud26elkspkxpfprk2lixuzapg65xtsionipdunhaid UNKNOWN $0A1B2C3D4E5F60718293A4B5C6D7E8F901234567~relay1')).toEqual({
      type: 'HS_DESC',
      action: 'UPLOADED',
      address: 'r4b7257jvpwrcdud26elkspkxpfprk2lixuzapg65xtsionipdunhaid',
      authType: 'UNKNOWN',
      hsDir: '$0A1B2C3D4E5F60718293A4B5C6D7E8F901234567~relay1',
    });
    expect(event('650 HS_DESC FAILED abc NO_AUTH $AA REASON=NOT_FOUND')).toMatchObject({ action: 'FAILED', reason: 'NOT_FOUND' });
  });

  it('keeps other events as text', () => {
    expect(event('650 CIRC 1 BUILT')).toMatchObject({ type: 'CIRC', text: '1 BUILT' });
  });
});

// ----- a scripted control port on loopback: for faults real tor cannot be made to produce -----

interface Script {
  server: Server;
  port: number;
  lines: string[];
  sockets: Socket[];
}

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

async function scriptedTor(onLine: (line: string, socket: Socket) => void): Promise<Script> {
  const lines: string[] = [];
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    sockets.push(socket);
    let buf = '';
    socket.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      let i;
      while ((i = buf.indexOf('\r\n')) !== -1) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        lines.push(line);
        onLine(line, socket);
      }
    });
    socket.on('error', () => undefined);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { server, port, lines, sockets };
}

describe('TorControl', () => {
  it('serializes commands and maps failure replies to NG_TOR_COMMAND with the status and text', async () => {
    const s = await scriptedTor((line, sock) => {
      if (line.startsWith('GETINFO version')) sock.write('250-version=0.4.9.11\r\n250 OK\r\n');
      else sock.write('552 Unrecognized key "nope"\r\n');
    });
    const c = await TorControl.connect({ host: '127.0.0.1', port: s.port });
    const [ok, bad] = await Promise.allSettled([c.getInfo(['version']), c.getInfo(['nope'])]);
    expect(ok).toEqual({ status: 'fulfilled', value: { version: '0.4.9.11' } });
    expect(bad.status).toBe('rejected');
    const err = (bad as PromiseRejectedResult).reason as NodegateError;
    expect(err.code).toBe('NG_TOR_COMMAND');
    expect(err.details).toEqual({ status: 552, text: 'Unrecognized key "nope"', command: 'GETINFO' });
    expect(s.lines).toEqual(['GETINFO version', 'GETINFO nope']);
    c.close();
  });

  it('delivers events between replies without disturbing them', async () => {
    const s = await scriptedTor((_line, sock) => sock.write('650 STATUS_CLIENT NOTICE BOOTSTRAP PROGRESS=100 TAG=done SUMMARY="Done"\r\n250 OK\r\n'));
    const c = await TorControl.connect({ host: '127.0.0.1', port: s.port });
    const events: unknown[] = [];
    c.on('event', (e) => events.push(e));
    await c.setEvents(['STATUS_CLIENT']);
    expect(events).toEqual([{ type: 'BOOTSTRAP', severity: 'NOTICE', progress: 100, tag: 'done', summary: 'Done' }]);
    c.close();
  });

  it('rejects every pending command with NG_TOR_CONTROL_CLOSED when tor closes mid-reply', async () => {
    const s = await scriptedTor((_line, sock) => {
      sock.write('250-version=0.4.9.11\r\n250-config-fi');
      sock.end();
    });
    const c = await TorControl.connect({ host: '127.0.0.1', port: s.port });
    const closed = new Promise<NodegateError>((r) => c.once('close', r));
    const results = await Promise.allSettled([c.getInfo(['version']), c.getInfo(['config-file']), c.signal('NEWNYM')]);
    for (const r of results) expect(r.status === 'rejected' && (r.reason as NodegateError).code).toBe('NG_TOR_CONTROL_CLOSED');
    expect((await closed).code).toBe('NG_TOR_CONTROL_CLOSED');
    await expect(c.getInfo(['version'])).rejects.toMatchObject({ code: 'NG_TOR_CONTROL_CLOSED' });
  });

  it('times out a command that gets no reply (bounded) and closes the connection', async () => {
    const s = await scriptedTor(() => undefined);
    const c = await TorControl.connect({ host: '127.0.0.1', port: s.port }, { commandTimeoutMs: 200 });
    await expect(c.getInfo(['version'])).rejects.toMatchObject({ code: 'NG_TIMEOUT' });
    expect(c.closed).toBe(true);
  });

  it('fails to connect with NG_TOR_CONTROL_CONNECT', async () => {
    const s = await scriptedTor(() => undefined);
    const port = s.port;
    await new Promise((r) => s.server.close(r));
    servers.splice(servers.indexOf(s.server), 1);
    await expect(TorControl.connect({ host: '127.0.0.1', port })).rejects.toMatchObject({ code: 'NG_TOR_CONTROL_CONNECT' });
  });

  it('builds ADD_ONION with our key, ports, flags and ClientAuthV3, and reads the ServiceID', async () => {
    const id = 'r4b7257jvpwrcdud26elkspkxpfprk2lixuzapg65xtsionipdunhaid';
    const s = await scriptedTor((_line, sock) => sock.write(`250-ServiceID=${id}\r\n250 OK\r\n`));
    const c = await TorControl.connect({ host: '127.0.0.1', port: s.port });
    const client = 'K2AR6V5V6TIRHQWOFVFBFTSOJVML5XKGD3MIIQG4RMLKK47YNYZA';
    const res = await c.addOnion({ key: { type: 'ED25519-V3', blob: 'QUJD' }, ports: [{ virtualPort: 443, target: '127.0.0.1:8443' }, { virtualPort: 8080 }], clientAuthV3: [client] });
    expect(res).toEqual({ serviceId: id });
    expect(s.lines).toEqual([`ADD_ONION ED25519-V3:QUJD Flags=V3Auth Port=443,127.0.0.1:8443 Port=8080 ClientAuthV3=${client}`]);
    await expect(c.addOnion({ key: { type: 'NEW' }, ports: [{ virtualPort: 1, target: '1.2.3.4:5\r\nSIGNAL HALT' }] })).rejects.toBeInstanceOf(TypeError);
    c.close();
  });
});

describe('authentication (§3.5, §3.21, §3.24)', () => {
  const cookie = Buffer.alloc(32, 7);
  const serverNonce = Buffer.alloc(32, 9);
  const hmac = (key: string, ...parts: Buffer[]) => createHmac('sha256', key).update(Buffer.concat(parts)).digest('hex').toUpperCase();

  /** A control port that knows `serverCookie` and offers SAFECOOKIE. */
  async function safecookieTor(serverCookie: Buffer, cookiePath: string) {
    let clientNonce = Buffer.alloc(0);
    return scriptedTor((line, sock) => {
      if (line === 'PROTOCOLINFO 1') sock.write(`250-PROTOCOLINFO 1\r\n250-AUTH METHODS=COOKIE,SAFECOOKIE COOKIEFILE=${quoteString(cookiePath)}\r\n250-VERSION Tor="0.4.9.11"\r\n250 OK\r\n`);
      else if (line.startsWith('AUTHCHALLENGE SAFECOOKIE ')) {
        clientNonce = Buffer.from(line.split(' ')[2]!, 'hex');
        const serverHash = hmac('Tor safe cookie authentication server-to-controller hash', serverCookie, clientNonce, serverNonce);
        sock.write(`250 AUTHCHALLENGE SERVERHASH=${serverHash} SERVERNONCE=${serverNonce.toString('hex').toUpperCase()}\r\n`);
      } else if (line.startsWith('AUTHENTICATE ')) {
        const expected = hmac('Tor safe cookie authentication controller-to-server hash', serverCookie, clientNonce, serverNonce);
        sock.write(line.slice(13).toUpperCase() === expected ? '250 OK\r\n' : '515 Authentication failed: Safe cookie response did not match expected value.\r\n');
      } else sock.write('510 Unrecognized command\r\n');
    });
  }

  const cookieDirs: string[] = [];
  afterAll(async () => {
    await Promise.all(cookieDirs.map((d) => rm(d, { recursive: true, force: true })));
  });

  async function cookieFile(content: Buffer): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'nodegate-cookie-'));
    cookieDirs.push(dir);
    const path = join(dir, 'control_auth_cookie');
    await writeFile(path, content);
    return path;
  }

  it('completes SAFECOOKIE with HMAC-SHA256 in both directions', async () => {
    const path = await cookieFile(cookie);
    const s = await safecookieTor(cookie, path);
    const c = await TorControl.connect({ host: '127.0.0.1', port: s.port });
    await c.authenticate();
    expect(s.lines.map((l) => l.split(' ')[0])).toEqual(['PROTOCOLINFO', 'AUTHCHALLENGE', 'AUTHENTICATE']);
    c.close();
  });

  it('refuses a control port whose SAFECOOKIE server hash does not match (and never sends AUTHENTICATE)', async () => {
    const path = await cookieFile(cookie);
    const s = await safecookieTor(Buffer.alloc(32, 1), path); // a server that does not know our cookie
    const c = await TorControl.connect({ host: '127.0.0.1', port: s.port });
    await expect(c.authenticate()).rejects.toMatchObject({ code: 'NG_TOR_AUTH' });
    expect(s.lines.some((l) => l.startsWith('AUTHENTICATE'))).toBe(false);
    c.close();
  });

  it('reports an unreadable or wrong-sized cookie as NG_TOR_AUTH', async () => {
    const s = await safecookieTor(cookie, '/nonexistent/nodegate/control_auth_cookie');
    const c = await TorControl.connect({ host: '127.0.0.1', port: s.port });
    await expect(c.authenticate()).rejects.toMatchObject({ code: 'NG_TOR_AUTH' });
    await expect(c.authenticate({ cookieFile: await cookieFile(Buffer.alloc(5)) })).rejects.toMatchObject({ code: 'NG_TOR_AUTH' });
    c.close();
  });

  it('turns a 515 refusal into NG_TOR_AUTH', async () => {
    const s = await scriptedTor((line, sock) => {
      if (line === 'PROTOCOLINFO 1') sock.write('250-PROTOCOLINFO 1\r\n250-AUTH METHODS=HASHEDPASSWORD\r\n250 OK\r\n');
      else sock.write('515 Authentication failed: Password did not match HashedControlPassword value from configuration\r\n');
    });
    const c = await TorControl.connect({ host: '127.0.0.1', port: s.port });
    const err: unknown = await c.authenticate({ password: 'wrong' }).catch((e: unknown) => e);
    expect(isNodegateError(err, 'NG_TOR_AUTH') && err.details?.status).toBe(515);
    expect(s.lines[1]).toBe('AUTHENTICATE "wrong"');
    c.close();
  });
});
