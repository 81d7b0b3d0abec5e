/**
 * The distribution build: `npm run build` writes dist/nodegate.mjs and its chunks, what a node
 * runs in production (deploy/systemd/nodegate.service). Development and tests run the TypeScript
 * through tsx and need no build.
 *
 * Why a build at all: tsx's loader costs ~38 MB of RSS and a loader thread. Why code splitting:
 * every subcommand and every rarely used part (ACME issuance, self-signed generation, QR codes, the
 * registry, the demo) stays in its own chunk, loaded by the dynamic import() that the sources
 * already use, so `nodegate start` loads only what the daemon runs.
 *
 * Packages are bundled too: node's ES module loader pays per file (TypeBox alone is ~300 files),
 * and one chunk instead of hundreds of modules halves the start-up (~700 -> ~350 ms here, so a node
 * back from a power cut serves sooner) and saves ~4 MB of RSS (docs/decisions.md). Only what cannot
 * be bundled stays in node_modules (installed next to dist/ with `npm ci --omit=dev`): native addons
 * and the like (see NOT_BUNDLED). The bundled packages' licences go to THIRD_PARTY_LICENSES.txt.
 *
 * Run: node bin/run-ts.js scripts/build.ts [OUTDIR]   (default dist/)
 */
import { build, type Metafile } from 'esbuild';
import { copyFile, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

/**
 * Packages loaded from node_modules at run time instead of bundled: better-sqlite3 is a native
 * addon (it finds its .node file by path); bufferutil and utf-8-validate are ws's optional native
 * helpers, not installed; @fastify/swagger (the registry's API docs) reads its own package.json
 * by path; esbuild is the build itself.
 */
export const NOT_BUNDLED = ['better-sqlite3', 'bufferutil', 'utf-8-validate', '@fastify/swagger', 'esbuild'] as const;

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
    external: [...NOT_BUNDLED],
    // bundled CommonJS packages call require() for node's built-ins; give the ES chunks one
    banner: { js: "import { createRequire as __nodegateRequire } from 'node:module'; const require = __nodegateRequire(import.meta.url);" },
    outdir,
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunks/[name]-[hash]',
    sourcemap: 'linked',
    legalComments: 'none', // the packages' whole licence texts go to THIRD_PARTY_LICENSES.txt
    logLevel: 'error',
  });
  // Files the code reads next to itself (new URL('./x', import.meta.url)); chunks sit one level down.
  for (const dir of [outdir, join(outdir, 'chunks')]) await copyFile(join(ROOT, 'gateway/ui/style.css'), join(dir, 'style.css'));
  await writeFile(join(outdir, 'meta.json'), JSON.stringify(result.metafile));
  await writeFile(join(outdir, 'THIRD_PARTY_LICENSES.txt'), await licenceTexts(result.metafile));
  return join(outdir, 'nodegate.mjs');
}

/** Name, version, licence and licence text of every package bundled into the output. */
async function licenceTexts(metafile: Metafile): Promise<string> {
  const dirs = new Set<string>();
  for (const input of Object.keys(metafile.inputs)) {
    const name = packageOf(input);
    if (name !== undefined) dirs.add(input.slice(0, input.lastIndexOf('node_modules/') + 'node_modules/'.length) + name);
  }
  const parts: string[] = ['Packages bundled into this build, with their licences.\n'];
  for (const dir of [...dirs].sort()) {
    const pkg = JSON.parse(await readFile(join(ROOT, dir, 'package.json'), 'utf8')) as { name: string; version: string; license?: string };
    const file = (await readdir(join(ROOT, dir))).find((f) => /^licen[cs]e/i.test(f));
    const text = file === undefined ? `(no licence file; package.json says ${pkg.license ?? 'nothing'})` : (await readFile(join(ROOT, dir, file), 'utf8')).trim();
    parts.push(`${'='.repeat(78)}\n${pkg.name}@${pkg.version} (${pkg.license ?? 'unknown'})\n\n${text}\n`);
  }
  return parts.join('\n');
}

/** `fastify` for node_modules/fastify/lib/x.js, `@scope/name` for node_modules/@scope/name/... */
function packageOf(input: string): string | undefined {
  const at = input.lastIndexOf('node_modules/');
  if (at === -1) return undefined;
  const parts = input.slice(at + 'node_modules/'.length).split('/');
  return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
}

/**
 * The packages a built process loads once `source` (e.g. gateway/cli/start.ts) is imported: those
 * bundled into the chunks reachable from its chunk through static imports only (import() loads
 * later, on use), and the external ones those chunks import.
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
    for (const input of Object.keys(outputs[output]!.inputs)) {
      const name = packageOf(input);
      if (name !== undefined) packages.add(name);
    }
    for (const imp of outputs[output]!.imports) {
      if (imp.kind === 'dynamic-import') continue;
      if (imp.external) {
        if (!imp.path.startsWith('node:')) packages.add(packageOf(`node_modules/${imp.path}`) ?? imp.path);
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
