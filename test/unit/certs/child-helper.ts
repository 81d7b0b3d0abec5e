// Child process for the crash and lock tests (run with bin/run-ts.js):
//   write-loop DIR PAIRS.json   saves the pairs of PAIRS.json into FileCertStore(DIR) round-robin, forever
//   hold-lock PATH              takes the lock at PATH and holds it until killed
import { readFile } from 'node:fs/promises';
import { FileCertStore } from '../../../certs/store.ts';
import { acquireLock } from '../../../certs/lock.ts';

const [mode, a, b] = process.argv.slice(2);
if (mode === 'write-loop') {
  const pairs = JSON.parse(await readFile(b!, 'utf8')) as Array<{ keyPem: string; chainPem: string }>;
  const store = new FileCertStore(a!);
  process.stdout.write('ready\n');
  for (let i = 0; ; i++) {
    const p = pairs[i % pairs.length]!;
    await store.save(p.keyPem, p.chainPem);
  }
} else if (mode === 'hold-lock') {
  await acquireLock(a!);
  process.stdout.write('locked\n');
  setInterval(() => undefined, 60_000);
}
