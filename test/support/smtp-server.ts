/**
 * A real SMTP server from Debian for tests (aiosmtpd, test/support/smtp_server.py) on loopback:
 * STARTTLS required, AUTH required after TLS, a self-signed certificate for 127.0.0.1. Messages
 * come back parsed by Python's email package (decoded subject and text). Stopped by its PID.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startProcess, tempDir, stopThenRemove, type RunningProcess } from '../../sim/process.ts';
import { makeSelfSignedCert } from '../../sim/self-signed-cert.ts';
import { eventually } from './eventually.ts';

export interface ReceivedMail {
  mailFrom: string;
  rcptTos: string[];
  tls: boolean;
  authenticated: boolean;
  subject: string;
  from: string;
  to: string;
  event: string;
  text: string | null;
  raw: string;
}

export interface TestSmtpServer {
  host: string;
  port: number;
  user: string;
  password: string;
  /** PEM file of the server's certificate (what the client must trust). */
  caFile: string;
  process: RunningProcess;
  messages(): ReceivedMail[];
  /** Resolves once `n` messages have arrived. */
  waitForMessages(n: number, timeoutMs?: number): Promise<ReceivedMail[]>;
  stop(): Promise<void>;
}

const SCRIPT = fileURLToPath(new URL('./smtp_server.py', import.meta.url));
/** Debian's python3 (the one python3-aiosmtpd installs into), not a python on PATH. */
const PYTHON = '/usr/bin/python3';

export async function startSmtpServer(options: { user?: string; password?: string } = {}): Promise<TestSmtpServer> {
  const dir = await tempDir('ng-smtp-');
  const cert = makeSelfSignedCert(['localhost'], ['127.0.0.1']);
  const certFile = join(dir.path, 'cert.pem');
  const keyFile = join(dir.path, 'key.pem');
  await writeFile(certFile, cert.certPem);
  await writeFile(keyFile, cert.keyPem, { mode: 0o600 });
  const user = options.user ?? 'node-owner';
  const password = options.password ?? 'smtp-secret-Very-Long-9f3b';
  const port = await freePort();
  const proc = startProcess(PYTHON, [SCRIPT, '127.0.0.1', String(port), certFile, keyFile, user, password], { env: { ...process.env, PYTHONUNBUFFERED: '1' } });
  try {
    await proc.waitFor(/^READY /m, 20_000);
  } catch (err) {
    await stopThenRemove(proc, dir);
    throw err;
  }
  const parse = (): ReceivedMail[] =>
    proc
      .output()
      .split('\n')
      .filter((l) => l.startsWith('MAIL '))
      .map((l) => JSON.parse(l.slice(5)) as ReceivedMail);
  return {
    host: '127.0.0.1',
    port,
    user,
    password,
    caFile: certFile,
    process: proc,
    messages: parse,
    waitForMessages: (n, timeoutMs = 20_000) => eventually(`${n} message(s) at the SMTP server`, timeoutMs, () => (parse().length >= n ? parse() : undefined)),
    stop: () => stopThenRemove(proc, dir),
  };
}
