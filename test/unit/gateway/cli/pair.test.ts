import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, mkdir } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { command } from '../../../../gateway/cli/pair.ts';
import { writeDefaultGatewayConfig } from '../../../../gateway/config.ts';
import { FileCertStore } from '../../../../certs/store.ts';
import { TokenService } from '../../../../gateway/auth/tokens.ts';
import { writeJsonAtomic } from '../../../../core/atomic-file.ts';
import { NodegateError } from '../../../../core/errors.ts';
import { isPubliclyTrusted } from '../../../../gateway/pairing.ts';

const CERT_PEM = await readFile(new URL('../../../fixtures/ui/owner-pages.cert.pem', import.meta.url), 'utf8');
const KEY_PEM = await readFile(new URL('../../../fixtures/ui/owner-pages.key.pem', import.meta.url), 'utf8');
const CERT_B64URL = Buffer.from(CERT_PEM.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64').toString('base64url');

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ng-pair-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function runPair(args: string[]): Promise<{ code: number; out: string }> {
  const stdout = new PassThrough();
  let out = '';
  stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
  const code = await command.run(args, { stdout, stderr: new PassThrough(), env: {}, signal: new AbortController().signal });
  return { code, out };
}

async function errorOf(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(NodegateError);
  return (err as NodegateError).code;
}

describe('nodegate pair', () => {
  it('creates a token of the scope and prints the URI with the self-signed certificate and a QR code', async () => {
    await writeDefaultGatewayConfig(dir, { https: '0.0.0.0:8443', serverNames: ['abcd1234.nodegate.example', '*.abcd1234.nodegate.example'] });
    await new FileCertStore(join(dir, 'certs')).save(KEY_PEM, CERT_PEM);
    const { code, out } = await runPair(['--data', dir, '--scope', 'invoice', '--name', 'Zeus', '--ttl', '30d']);
    expect(code).toBe(0);
    const uri = /^lndconnect:\/\/\S+$/m.exec(out)![0];
    const m = /^lndconnect:\/\/abcd1234\.nodegate\.example:8443\?macaroon=([\w-]+)&cert=([\w-]+)$/.exec(uri)!;
    expect(m[2]).toBe(CERT_B64URL);
    const claims = await (await TokenService.open(dir)).verify(Buffer.from(m[1]!, 'base64url').toString('utf8'));
    expect([claims.scope, claims.name]).toEqual(['invoice', 'Zeus']);
    expect(out).toMatch(/[▀▄█]/);
    expect(out).toMatch(/The code is 1\d\d columns wide/);
    expect(out).toContain(`nodegate token revoke --data ${dir} ${claims.id}`);
  });

  it('--json prints one object; --onion uses the stored onion address and always pins the certificate', async () => {
    await writeDefaultGatewayConfig(dir, { https: '127.0.0.1:9443', serverNames: [] });
    await new FileCertStore(join(dir, 'certs')).save(KEY_PEM, CERT_PEM);
    const address = 'a'.repeat(56);
    await mkdir(join(dir, 'tor'), { recursive: true });
    await writeJsonAtomic(join(dir, 'tor', 'onion-key.json'), { version: 1, type: 'ED25519-V3', seed: 'x', address });
    const plain = JSON.parse((await runPair(['--data', dir, '--scope', 'readonly', '--json'])).out);
    expect(Object.keys(plain)).toEqual(['id', 'name', 'scope', 'expiresAt', 'uri']);
    expect(plain.uri).toMatch(/^lndconnect:\/\/127\.0\.0\.1:9443\?macaroon=[\w-]+&cert=/);
    const onion = JSON.parse((await runPair(['--data', dir, '--scope', 'admin', '--onion', '--json'])).out);
    expect(onion.uri).toMatch(new RegExp(`^lndconnect://${address}\\.onion:9443\\?macaroon=[\\w-]+&cert=${CERT_B64URL}$`));
    expect((await TokenService.open(dir)).list().map((t) => t.scope)).toEqual(['readonly', 'admin']);
  });

  it('fails with a coded error that names the fix', async () => {
    expect(await errorOf(runPair(['--data', dir]))).toBe('NG_USAGE');
    expect(await errorOf(runPair(['--data', dir, '--scope', 'root']))).toBe('NG_USAGE');
    expect(await errorOf(runPair(['--data', dir, '--scope', 'readonly']))).toBe('NG_CONFIG_MISSING');
    await writeDefaultGatewayConfig(dir, { https: '0.0.0.0:8443' });
    expect(await errorOf(runPair(['--data', dir, '--scope', 'readonly']))).toBe('NG_CONFIG_MISSING'); // no public name
    expect(await errorOf(runPair(['--data', dir, '--scope', 'readonly', '--onion']))).toBe('NG_CONFIG_MISSING'); // no onion key
    await writeDefaultGatewayConfig(dir, { https: '0.0.0.0:8443', serverNames: ['n.example'] });
    expect(await errorOf(runPair(['--data', dir, '--scope', 'readonly']))).toBe('NG_CERT_NONE');
    expect((await TokenService.open(dir)).list()).toEqual([]); // no token made on any failure
  });
});

describe('isPubliclyTrusted', () => {
  it('true for a chain to a given root, false for self-signed, expired or foreign chains', async () => {
    const ca = join(dir, 'ca');
    await mkdir(ca);
    const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: ca, stdio: 'ignore' });
    ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'root.key', '-out', 'root.pem', '-days', '30', '-subj', '/CN=Test Root', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign');
    ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', '/CN=n.example');
    ssl('x509', '-req', '-in', 'leaf.csr', '-CA', 'root.pem', '-CAkey', 'root.key', '-CAcreateserial', '-out', 'leaf.pem', '-days', '10');
    const root = await readFile(join(ca, 'root.pem'), 'utf8');
    const leaf = await readFile(join(ca, 'leaf.pem'), 'utf8');
    expect(isPubliclyTrusted(leaf, { roots: [root] })).toBe(true);
    expect(isPubliclyTrusted(leaf + root, { roots: [root] })).toBe(true);
    expect(isPubliclyTrusted(leaf)).toBe(false); // not under the Mozilla roots
    expect(isPubliclyTrusted(CERT_PEM)).toBe(false); // self-signed fixture
    expect(isPubliclyTrusted(CERT_PEM, { roots: [root] })).toBe(false);
    expect(isPubliclyTrusted(leaf, { roots: [root], now: Date.now() + 40 * 86_400_000 })).toBe(false); // expired
    expect(isPubliclyTrusted('garbage')).toBe(false);
  });
});
