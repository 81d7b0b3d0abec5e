/**
 * The registry's acme-dns and dyndns2 endpoints driven by the clients people already run, each
 * sending exactly what it sends (a recording proxy in front of the registry keeps every request, so
 * the shapes docs/registry-api.md lists are asserted here):
 * - curl, as acme-dns's README ("Testing It Out") shows, and dig reading the TXT with TTL 1;
 * - certbot 2.1 (`--manual --manual-auth-hook` running that curl), issuing a certificate for a
 *   user's name and its wildcard from pebble, through a `_acme-challenge` CNAME in the user's zone
 *   served by BIND 9;
 * - goacmedns 0.1.1 (lego up to 4.19, Traefik 2: Go field names, an empty register body) and 0.2
 *   (lego 4.20 and later: `null`) — their requests byte for byte (Debian's lego is built without
 *   its acme-dns provider, and Go is not installed here to build one);
 * - acme.sh 3.1.3 with its dns_acmedns (the real script, vendored in test/fixtures/acme.sh),
 *   answering its "create this CNAME, press enter" prompt as a user does;
 * - ddclient 3.10 (two hostnames in one dyndns2 request) and inadyn 2.10 (custom dyndns2 provider).
 * Everything runs on loopback; BIND resolves only the user's zone and, by forwarding, the registry's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { startPebble, type Pebble } from '../../../sim/pebble.ts';
import { startProcess, tempDir } from '../../../sim/process.ts';
import { startBind, type BindServer } from '../../support/bind.ts';
import { startTestRegistry, type TestRegistry } from '../../support/registry.ts';
import type { AcmeDnsRegisterResponse as Account } from '../../../ddns/protocol.ts';

const ZONE = 'auth.registry.test';
const USER_ZONE = 'user.test';
const ACME_SH = join(import.meta.dirname, '../../fixtures/acme.sh');
/** A certbot, lego or acme.sh run against pebble takes a few seconds; bound it anyway. */
const CLIENT_TIMEOUT_MS = 90_000;

interface Recorded {
  method: string;
  url: string;
  /** Header names as sent, in order, with their values. */
  headers: Array<[string, string]>;
  body: string;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding']);

function withoutHopByHop(raw: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (!HOP_BY_HOP.has(raw[i]!.toLowerCase())) out.push(raw[i]!, raw[i + 1]!);
  return out;
}

/** An HTTP proxy that records every request before passing it to the registry unchanged. */
async function startRecorder(target: string): Promise<{ url: string; requests: Recorded[]; close(): Promise<void> }> {
  const requests: Recorded[] = [];
  const { hostname, port } = new URL(target);
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const headers: Array<[string, string]> = [];
      for (let i = 0; i < req.rawHeaders.length; i += 2) headers.push([req.rawHeaders[i]!, req.rawHeaders[i + 1]!]);
      requests.push({ method: req.method!, url: req.url!, headers, body: body.toString('utf8') });
      const upstream = httpRequest({ host: hostname, port, method: req.method, path: req.url, headers: withoutHopByHop(req.rawHeaders) }, (up) => {
        // The connection to the client is the recorder's own (an HTTP/1.0 client such as inadyn
        // waits for it to close): hop-by-hop headers are not passed on.
        res.writeHead(up.statusCode!, withoutHopByHop(up.rawHeaders));
        up.pipe(res);
      });
      upstream.on('error', () => res.destroy());
      upstream.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const header = (r: Recorded, name: string): string | undefined => r.headers.find(([k]) => k.toLowerCase() === name)?.[1];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end (bounded), never throwing on a non-zero exit. */
function run(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; input?: string; cwd?: string } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(command, args, { env: options.env ?? process.env, cwd: options.cwd, timeout: CLIENT_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
    child.stdin?.end(options.input ?? '');
  });
}

let dir: { path: string; remove(): Promise<void> };
let reg: TestRegistry;
let recorder: Awaited<ReturnType<typeof startRecorder>>;
let bind: BindServer;
let pebble: Pebble;
/** The acme-dns API as the clients are given it (through the recorder). */
let api: string;

beforeAll(async () => {
  dir = await tempDir('ng-clients-');
  // Several registrations from 127.0.0.1 in a few seconds: more than the default bucket of 20.
  reg = await startTestRegistry({ zone: ZONE, allowAddresses: ['198.51.100.0/24'], rateLimits: { register: { burst: 100, perSecond: 10 } } });
  recorder = await startRecorder(reg.apiUrl);
  api = recorder.url;
  bind = await startBind({ zone: USER_ZONE, forward: reg.dnsAddress });
  pebble = await startPebble({ dnsServer: `${bind.host}:${bind.port}` });
}, 60_000);
afterAll(async () => {
  await pebble?.stop();
  await bind?.stop();
  await recorder?.close();
  await reg?.stop();
  await dir?.remove();
});


const txtValue = (c: string) => c.repeat(43);

async function curl(args: string[]): Promise<string> {
  const r = await run('curl', ['-sS', ...args]);
  if (r.code !== 0) throw new Error(`curl ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

/** `dig` at the registry's DNS: the answer lines as [name, ttl, type, data]. */
async function dig(name: string, type: string, server: { host: string; port: number } = reg.dnsAddress): Promise<Array<[string, number, string, string]>> {
  const r = await run('dig', [`@${server.host}`, '-p', String(server.port), type, name, '+noall', '+answer', '+time=2', '+tries=1']);
  return r.stdout
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const [owner, ttl, , rrtype, ...data] = l.split(/\s+/);
      return [owner!, Number(ttl), rrtype!, data.join(' ')];
    });
}

/** Adds a record to the user's zone on BIND with nsupdate (the user pointing a name at acme-dns). */
async function nsupdate(record: string): Promise<void> {
  const script = `server ${bind.host} ${bind.port}\nzone ${USER_ZONE}\nupdate add ${record}\nsend\n`;
  const r = await run('nsupdate', ['-y', `${bind.tsig.algorithm}:${bind.tsig.name}:${bind.tsig.secret}`], { input: script });
  if (r.code !== 0) throw new Error(`nsupdate failed: ${r.stderr}`);
}

/** The certificate a client stored: its DNS names, and whether this run's pebble issued it. */
async function issued(pemFile: string): Promise<{ names: string[]; fromPebble: boolean }> {
  const chain = await readFile(pemFile, 'utf8');
  const leaf = new X509Certificate(chain.slice(0, chain.indexOf('-----END CERTIFICATE-----') + 25));
  const names = (leaf.subjectAltName ?? '').split(', ').map((n) => n.replace(/^DNS:/, '')).sort();
  return { names, fromPebble: leaf.checkIssued(new X509Certificate(pebble.intermediatePem)) };
}

describe("curl, as acme-dns's README shows", () => {
  let account: Account;

  it('`curl -X POST .../register` registers an account', async () => {
    account = JSON.parse(await curl(['-X', 'POST', `${api}/register`])) as Account;
    expect(account).toMatchObject({ fulldomain: `${account.subdomain}.${ZONE}`, allowfrom: [] });
    expect(account.password).toMatch(/^[A-Za-z0-9_-]{40}$/);
  });

  it('`curl -X POST -H X-Api-User -H X-Api-Key -d {...} .../update` (no Content-Type) sets the TXT; dig answers it with TTL 1', async () => {
    const value = txtValue('R');
    const out = await curl(['-X', 'POST', '-H', `X-Api-User: ${account.username}`, '-H', `X-Api-Key: ${account.password}`, '-d', `{"subdomain": "${account.subdomain}", "txt": "${value}"}`, `${api}/update`]);
    expect(out).toBe(`{"txt": "${value}"}`);
    const sent = recorder.requests.at(-1)!;
    expect([sent.url, header(sent, 'content-type')]).toEqual(['/update', 'application/x-www-form-urlencoded']);
    expect(await dig(account.fulldomain, 'TXT')).toEqual([[`${account.fulldomain}.`, 1, 'TXT', `"${value}"`]]);
  });

  it('the same with Go field names {"SubDomain", "Txt"}', async () => {
    const value = txtValue('G');
    const out = await curl(['-X', 'POST', '-H', `X-Api-User: ${account.username}`, '-H', `X-Api-Key: ${account.password}`, '-d', `{"SubDomain":"${account.subdomain}","Txt":"${value}"}`, `${api}/update`]);
    expect(out).toBe(`{"txt": "${value}"}`);
    expect((await dig(account.fulldomain, 'TXT')).map((a) => a[3]).sort()).toEqual([`"${txtValue('G')}"`, `"${txtValue('R')}"`]);
  });

  it("`curl -X POST -H 'Content-Type: application/json' .../register` with an empty body registers", async () => {
    const fresh = JSON.parse(await curl(['-X', 'POST', '-H', 'Content-Type: application/json', `${api}/register`])) as Account;
    expect(fresh.username).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('an account registered with {"AllowFrom": ["10.0.0.0/8"]} refuses an update from 127.0.0.1 with 401 forbidden', async () => {
    const limited = JSON.parse(await curl(['-X', 'POST', '-d', '{"AllowFrom": ["10.0.0.0/8"]}', `${api}/register`])) as Account;
    expect(limited.allowfrom).toEqual(['10.0.0.0/8']);
    const out = await curl(['-X', 'POST', '-w', '\\n%{http_code}', '-H', `X-Api-User: ${limited.username}`, '-H', `X-Api-Key: ${limited.password}`, '-d', `{"subdomain": "${limited.subdomain}", "txt": "${txtValue('F')}"}`, `${api}/update`]);
    expect(out).toBe('{"error": "forbidden"}\n401');
    expect(await dig(limited.fulldomain, 'TXT')).toEqual([]);
  });
});

describe('certbot 2.1 --manual with a curl --manual-auth-hook', () => {
  it('issues a certificate for user.test and *.user.test from pebble through the CNAME in BIND', { timeout: 2 * CLIENT_TIMEOUT_MS }, async () => {
    const account = JSON.parse(await curl(['-X', 'POST', `${api}/register`])) as Account;
    await nsupdate(`_acme-challenge.${USER_ZONE}. 300 IN CNAME ${account.fulldomain}.`);
    const hook = join(dir.path, 'certbot-acme-dns-hook.sh');
    await writeFile(
      hook,
      `#!/bin/sh
# certbot sets CERTBOT_DOMAIN and CERTBOT_VALIDATION; the acme-dns account comes from the environment.
curl -s -X POST -H "X-Api-User: $ACMEDNS_USERNAME" -H "X-Api-Key: $ACMEDNS_PASSWORD" \\
  -d "{\\"subdomain\\": \\"$ACMEDNS_SUBDOMAIN\\", \\"txt\\": \\"$CERTBOT_VALIDATION\\"}" \\
  "$ACMEDNS_URL/update"
`,
    );
    await chmod(hook, 0o755);
    const before = recorder.requests.length;
    const cb = join(dir.path, 'certbot');
    const r = await run(
      'certbot',
      [
        'certonly', '--non-interactive', '--agree-tos', '--register-unsafely-without-email',
        '--server', pebble.directoryUrl,
        '--config-dir', join(cb, 'config'), '--work-dir', join(cb, 'work'), '--logs-dir', join(cb, 'logs'),
        '--manual', '--preferred-challenges', 'dns', '--manual-auth-hook', hook,
        '-d', USER_ZONE, '-d', `*.${USER_ZONE}`,
      ],
      { env: { PATH: process.env.PATH, HOME: cb, REQUESTS_CA_BUNDLE: pebble.apiCaFile, ACMEDNS_URL: api, ACMEDNS_USERNAME: account.username, ACMEDNS_PASSWORD: account.password, ACMEDNS_SUBDOMAIN: account.subdomain } },
    );
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await issued(join(cb, 'config', 'live', USER_ZONE, 'fullchain.pem'))).toEqual({ names: [`*.${USER_ZONE}`, USER_ZONE], fromPebble: true });
    // One update per name, both values held at once (acme-dns keeps two).
    const updates = recorder.requests.slice(before).filter((q) => q.url === '/update');
    expect(updates.map((u) => [header(u, 'content-type'), (JSON.parse(u.body) as { subdomain: string }).subdomain])).toEqual([
      ['application/x-www-form-urlencoded', account.subdomain],
      ['application/x-www-form-urlencoded', account.subdomain],
    ]);
    // The CA's resolver (BIND) caches the answer for at most 1 s.
    expect((await dig(`_acme-challenge.${USER_ZONE}`, 'TXT', bind)).filter((a) => a[2] === 'TXT').map((a) => a[1])).toEqual([1, 1]);
  });
});

describe('acme.sh 3.1.3 --dns dns_acmedns', () => {
  it('registers, waits while the user creates the CNAME, and issues', { timeout: 2 * CLIENT_TIMEOUT_MS }, async () => {
    const name = `acmesh.${USER_ZONE}`;
    const home = join(dir.path, 'acme.sh');
    await mkdir(home, { recursive: true });
    const before = recorder.requests.length;
    const acme = startProcess(
      'sh',
      [join(ACME_SH, 'acme.sh'), '--home', ACME_SH, '--config-home', home, '--cert-home', join(home, 'certs'), '--issue', '--dns', 'dns_acmedns', '-d', name, '--server', pebble.directoryUrl, '--ca-bundle', pebble.apiCaFile, '--dnssleep', '1', '--keylength', 'ec-256', '--no-cron'],
      { env: { PATH: process.env.PATH, HOME: home, ACMEDNS_BASE_URL: api }, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    try {
      const prompt = await acme.waitFor(/Create \S+ CNAME (\S+) DNS entry/, CLIENT_TIMEOUT_MS);
      const target = /CNAME (\S+) DNS entry/.exec(prompt)![1]!;
      expect(target).toMatch(new RegExp(`^[0-9a-f-]{36}\\.${ZONE.replace(/\./g, '\\.')}$`));
      await nsupdate(`_acme-challenge.${name}. 300 IN CNAME ${target}.`);
      acme.child.stdin!.end('\n'); // "Press enter to continue..."
      expect(await acme.exited, acme.output()).toBe(0);
    } finally {
      await acme.stop();
    }
    expect(await issued(join(home, 'certs', `${name}_ecc`, 'fullchain.cer'))).toEqual({ names: [name], fromPebble: true });
    const seen = recorder.requests.slice(before);
    const register = seen.find((q) => q.url === '/register')!;
    const update = seen.find((q) => q.url === '/update')!;
    expect([header(register, 'content-type'), register.body, header(register, 'user-agent')]).toEqual([undefined, '', 'acme.sh/3.1.3 (https://github.com/acmesh-official/acme.sh)']);
    expect([header(update, 'content-type'), update.body]).toEqual(['application/x-www-form-urlencoded', expect.stringMatching(/^\{"subdomain":"[0-9a-f-]{36}", "txt": "[A-Za-z0-9_-]{43}"\}$/)]);
  });
});

/**
 * One HTTP/1.1 request written byte for byte as a Go client (net/http) writes it — Host,
 * User-Agent, Content-Length, the other headers sorted, Accept-Encoding last — and the answer.
 */
function goRequest(path: string, headers: Array<[string, string]>, body: string): Promise<{ status: number; body: string }> {
  const { hostname, port, host } = new URL(api);
  const lines = [`POST ${path} HTTP/1.1`, `Host: ${host}`, 'User-Agent: goacmedns (linux; amd64)', `Content-Length: ${Buffer.byteLength(body)}`, ...headers.map(([k, v]) => `${k}: ${v}`), 'Accept-Encoding: gzip'];
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(`${lines.join('\r\n')}\r\n\r\n${body}`));
    let answer = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => {
      answer = Buffer.concat([answer, d]);
      const text = answer.toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      const length = Number(/\r\ncontent-length: (\d+)/i.exec(text)?.[1] ?? NaN);
      if (split < 0 || Buffer.byteLength(text.slice(split + 4)) < length) return;
      socket.destroy();
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]), body: text.slice(split + 4) });
    });
    socket.on('error', reject);
  });
}

describe('goacmedns 0.1.1 (lego up to 4.19, Traefik 2): its requests byte for byte', () => {
  it('registers with an empty body sent as application/json and updates with Go field names', async () => {
    // client.go RegisterAccount(nil): postAPI with a nil body; UpdateTXTRecord: struct { SubDomain; Txt } without json tags.
    const registered = await goRequest('/register', [['Content-Type', 'application/json']], '');
    expect(registered.status).toBe(201);
    const account = JSON.parse(registered.body) as Account;
    const body = JSON.stringify({ SubDomain: account.subdomain, Txt: txtValue('o') });
    const up = await goRequest('/update', [['Content-Type', 'application/json'], ['X-Api-Key', account.password], ['X-Api-User', account.username]], body);
    expect(up).toEqual({ status: 200, body: `{"txt": "${txtValue('o')}"}` });
    expect(await dig(account.fulldomain, 'TXT')).toEqual([[`${account.fulldomain}.`, 1, 'TXT', `"${txtValue('o')}"`]]);
    // goacmedns-register -allowFrom: struct { AllowFrom []string } without a json tag.
    const limited = JSON.parse((await goRequest('/register', [['Content-Type', 'application/json']], JSON.stringify({ AllowFrom: ['10.0.0.0/8'] }))).body) as Account;
    expect(limited.allowfrom).toEqual(['10.0.0.0/8']);
    const refused = await goRequest('/update', [['Content-Type', 'application/json'], ['X-Api-Key', limited.password], ['X-Api-User', limited.username]], JSON.stringify({ SubDomain: limited.subdomain, Txt: txtValue('o') }));
    expect(refused).toEqual({ status: 401, body: '{"error": "forbidden"}' });
  });
});

describe('goacmedns 0.2 (lego 4.20 and later, Traefik 3): its requests byte for byte', () => {
  it('registers with a `null` body and updates with lower-case keys and a trailing newline', async () => {
    // client.go newRequest: json.NewEncoder(buf).Encode(payload) — a nil *Register encodes as "null\n".
    const json: Array<[string, string]> = [['Accept', 'application/json'], ['Content-Type', 'application/json']];
    const registered = await goRequest('/register', json, 'null\n');
    expect(registered.status).toBe(201);
    const account = JSON.parse(registered.body) as Account;
    const up = await goRequest('/update', [...json, ['X-Api-Key', account.password], ['X-Api-User', account.username]], `${JSON.stringify({ subdomain: account.subdomain, txt: txtValue('z') })}\n`);
    expect(up).toEqual({ status: 200, body: `{"txt": "${txtValue('z')}"}` });
    const limited = await goRequest('/register', json, `${JSON.stringify({ allowfrom: ['127.0.0.1/32'] })}\n`);
    expect((JSON.parse(limited.body) as Account).allowfrom).toEqual(['127.0.0.1/32']);
  });
});

describe('dyndns2 clients', () => {
  it('ddclient 3.10 with two hostnames gets one code per hostname: good for its own, nohost for the other', async () => {
    const mine = await reg.device();
    const other = await reg.device();
    const conf = join(dir.path, 'ddclient.conf');
    const port = new URL(api).port;
    await writeFile(conf, `daemon=0\nssl=no\nprotocol=dyndns2\nusev4=ipv4, ipv4=198.51.100.91\nserver=127.0.0.1:${port}\nlogin=${mine.device.name}\npassword='${mine.device.updateSecret}'\n${mine.device.name},${other.device.name}\n`);
    await chmod(conf, 0o600);
    const before = recorder.requests.length;
    const r = await run('ddclient', ['-foreground', '-daemon=0', '-noquiet', '-verbose', '-file', conf, '-cache', join(dir.path, 'ddclient.cache')]);
    const out = r.stdout + r.stderr;
    expect(out).toMatch(new RegExp(`SUCCESS: +updating ${mine.device.name}: good: IP address set to 198\\.51\\.100\\.91`));
    expect(out).toMatch(new RegExp(`FAILED: +updating ${other.device.name}: nohost`));
    const sent = recorder.requests.slice(before).filter((q) => q.url.startsWith('/nic/update'));
    // ddclient groups the hosts of one login and server into one request, sorted.
    const hosts = [mine.device.name, other.device.name].sort().join(',');
    expect(sent.map((q) => q.url)).toEqual([`/nic/update?system=dyndns&hostname=${hosts}&myip=198.51.100.91`]);
    expect(await dig(mine.device.name, 'A')).toEqual([[`${mine.device.name}.`, 60, 'A', '198.51.100.91']]);
    expect(await dig(other.device.name, 'A')).toEqual([]);
  });

  it('inadyn 2.10 (custom provider, dyndns2 path) updates the address', async () => {
    const { device } = await reg.device();
    const conf = join(dir.path, 'inadyn.conf');
    const { host } = new URL(api);
    await writeFile(
      conf,
      `custom nodegate {
    ssl             = false
    username        = ${device.name}
    password        = ${device.updateSecret}
    checkip-command = "echo 198.51.100.92"
    ddns-server     = ${host}
    ddns-path       = "/nic/update?hostname=%h&myip=%i"
    hostname        = ${device.name}
}
`,
    );
    await chmod(conf, 0o600);
    const before = recorder.requests.length;
    // inadyn looks its hostname up through the system resolver first: in a mount namespace of its
    // own it gets a resolv.conf naming only 127.0.0.1, so that lookup never leaves the machine.
    const resolvConf = join(dir.path, 'inadyn-resolv.conf');
    await writeFile(resolvConf, 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n');
    const inadyn = ['inadyn', '--once', '--foreground', '--force', '-l', 'debug', '-f', conf, '--cache-dir', join(dir.path, 'inadyn-cache'), '--pidfile', join(dir.path, 'inadyn.pid')];
    const r = await run('unshare', ['--mount', '--', 'sh', '-c', 'mount --bind "$0" /etc/resolv.conf && exec "$@"', resolvConf, ...inadyn]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const sent = recorder.requests.slice(before).filter((q) => q.url.startsWith('/nic/update'));
    expect(sent.map((q) => [q.url, header(q, 'authorization')?.split(' ')[0]])).toEqual([[`/nic/update?hostname=${device.name}&myip=198.51.100.92`, 'Basic']]);
    expect(await dig(device.name, 'A')).toEqual([[`${device.name}.`, 60, 'A', '198.51.100.92']]);
  });
});
