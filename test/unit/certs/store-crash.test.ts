// kill -9 a process that saves pairs in a loop, at many moments; what is left must always load as a
// matching pair, one of those written, with no problem reported.
import { describe, it, expect } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FileCertStore } from '../../../certs/store.ts';
import { createSelfSigned } from '../../../certs/selfsigned.ts';
import { startProcess, tempDir } from '../../../sim/process.ts';

const KILLS = 20;

describe('FileCertStore under kill -9', () => {
  it(`leaves the old or the new pair, never a mix, across ${KILLS} kills mid-write`, async () => {
    const d = await tempDir();
    try {
      const pairs = [await createSelfSigned(['one.example.test']), await createSelfSigned(['two.example.test']), await createSelfSigned(['three.example.test'])];
      const known = new Set(pairs.map((p) => p.info.fingerprint256));
      const pairsFile = join(d.path, 'pairs.json');
      await writeFile(pairsFile, JSON.stringify(pairs.map((p) => ({ keyPem: p.keyPem, chainPem: p.chainPem }))));
      const dir = join(d.path, 'certs');
      for (let i = 0; i < KILLS; i++) {
        const child = startProcess(process.execPath, ['bin/run-ts.js', 'test/unit/certs/child-helper.ts', 'write-loop', dir, pairsFile]);
        try {
          await child.waitFor(/ready/, 20_000);
          await sleep(5 + ((i * 37) % 120)); // spread the kills over many points of the save sequence
        } finally {
          child.child.kill('SIGKILL');
          await child.exited;
        }
        const { pair, problems } = await new FileCertStore(dir).load();
        expect(problems).toEqual([]);
        if (i > 0 || pair) expect(known.has(pair!.info.fingerprint256)).toBe(true);
      }
    } finally {
      await d.remove();
    }
  });
});
