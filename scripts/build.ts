/**
 * The distribution build: `npm run build` writes dist/nodegate.mjs and its chunks, what a node
 * runs in production (deploy/systemd/nodegate.service). Development and tests run the TypeScript
 * through tsx and need no build.
 *
 * Why a build at all: tsx's loader costs ~38 MB of RSS and a loader thread. Why code splitting:
 * every subcommand and every rarely used part (ACME issuance, self-signed generation, QR codes, the
 * registry, the demo) stays in its own chunk, loaded by the dynamic import() that the sources
 * already use, so `nodegate start` loads only what the daemon runs. Packages stay external
 * (node_modules is installed next to dist/ with `npm ci --omit=dev`).
 *
 * Run: node bin/run-ts.js scripts/build.ts [OUTDIR]   (default dist/)
 */
import { build, type Metafile } from 'esbuild';
import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

/** Builds into `outdir` (emptied first); returns the entry file's path. Writes OUTDIR/meta.json. */
export async function buildDist(outdir = join(ROOT, 'dist')): Promise<string> {
  await rm(outdir, { recursive: true, force: true });
  await mkdir(outdir, { recursive: true });
  const result = await build({
    absWorkingDir: ROOT,
    metafile: true,
    entryPoints: { nodegate: join(ROOT, 'bin/nodegate.ts') },
    bundle: true,
    splitting: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    outdir,
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunks/[name]-[hash]',
    sourcemap: 'linked',
    legalComments: 'none',
    logLevel: 'error',
  });
  // Files the code reads next to itself (new URL('./x', import.meta.url)); chunks sit one level down.
  for (const dir of [outdir, join(outdir, 'chunks')]) await copyFile(join(ROOT, 'gateway/ui/style.css'), join(dir, 'style.css'));
  await writeFile(join(outdir, 'meta.json'), JSON.stringify(result.metafile));
  return join(outdir, 'nodegate.mjs');
}

/**
 * The packages a built process loads once `source` (e.g. gateway/cli/start.ts) is imported: the
 * externals reachable from its chunk through static imports only (import() loads later, on use).
 */
export function packagesLoadedBy(metafile: Metafile, source: string): string[] {
  const outputs = metafile.outputs;
  const first = Object.keys(outputs).find((o) => Object.keys(outputs[o]!.inputs).includes(source));
  if (first === undefined) throw new Error(`${source} is in no output chunk`);
  const seen = new Set<string>();
  const packages = new Set<string>();
  const walk = (output: string) => {
    if (seen.has(output)) return;
    seen.add(output);
    for (const imp of outputs[output]!.imports) {
      if (imp.kind === 'dynamic-import') continue;
      if (imp.external) {
        if (!imp.path.startsWith('node:')) packages.add(imp.path);
      } else walk(imp.path);
    }
  };
  walk(first);
  return [...packages].sort();
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const entry = await buildDist(process.argv[2] ? resolve(process.argv[2]) : undefined);
  process.stdout.write(`built ${entry}\n`);
}
