/**
 * `npm run bench`: runs every benchmark under bench/<part>/*.ts one after another (never in
 * parallel: they measure CPU on a 2-core machine), each in its own process with a time bound, and
 * prints what each printed (markdown tables). `npm run bench -- dns gateway` runs only those parts.
 * The figures are then copied into docs/performance.md with the date and the machine.
 */
import { readdir } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { join } from 'node:path';

/** A benchmark that runs longer than this is stopped (it must bound itself well below). */
const BENCH_TIMEOUT_MS = 15 * 60_000;

async function benchFiles(only: string[]): Promise<string[]> {
  const files: string[] = [];
  for (const part of (await readdir('bench', { withFileTypes: true })).filter((d) => d.isDirectory())) {
    if (only.length > 0 && !only.includes(part.name)) continue;
    for (const name of (await readdir(join('bench', part.name))).sort()) {
      if (name.endsWith('.ts') && !name.startsWith('_')) files.push(join('bench', part.name, name));
    }
  }
  return files;
}

function runOne(file: string): Promise<number> {
  return new Promise((resolve) => {
    process.stdout.write(`\n## ${file}\n\n`);
    const child = spawn(process.execPath, ['bin/run-ts.js', file], { stdio: 'inherit' });
    const timer = setTimeout(() => child.kill('SIGTERM'), BENCH_TIMEOUT_MS);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(code ?? 1);
    });
  });
}

const files = await benchFiles(process.argv.slice(2));
let failed = 0;
for (const file of files) {
  if ((await runOne(file)) !== 0) failed++;
}
process.stdout.write(`\n${files.length - failed} benchmarks passed, ${failed} failed\n`);
process.exitCode = failed > 0 ? 1 : 0;
