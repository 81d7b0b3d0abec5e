/**
 * Certificate storage.
 *
 * The port, {@link CertStore}, in the manner of certmagic's Storage: `load` never throws for bad
 * content (it reports problems and falls back), `save` is atomic and durable.
 *
 * The file adapter, {@link FileCertStore}, keeps under DATA/certs:
 *   current.pem   private key (PKCS#8 PEM) followed by the chain (leaf first), mode 0600
 *   previous.pem  the pair current.pem held before the last save, same format
 * Key and chain live in ONE file so that a single atomic rename (core/atomic-file.ts: temp, fsync,
 * rename, fsync dir) replaces both at once: a kill -9 or power cut at any moment leaves the old pair
 * or the new pair, never a new key with an old certificate. `save` first copies the current pair
 * to previous.pem (atomically too), then replaces current.pem, so a current.pem damaged later (disk
 * error, a hand edit) still leaves the last good pair to serve.
 */
import { join } from 'node:path';
import { readFileIfExists, writeFileAtomic, removeStaleTemporaries } from '../core/atomic-file.ts';
import { NodegateError, isNodegateError } from '../core/errors.ts';
import { parsePair, type CertPair } from './cert-info.ts';

export interface CertStoreLoadResult {
  /** The newest pair that parses and matches, if any. */
  pair: CertPair | undefined;
  /** What was wrong with the files passed over (NG_CERT_STORE_CORRUPT / NG_CERT_KEY_MISMATCH). */
  problems: NodegateError[];
}

/**
 * Where certificates are kept.
 * - `load` returns the newest good pair and the problems found on the way; it throws only when the
 *   storage itself cannot be read (NG_FILE_IO). Nothing stored is not an error: `pair` is undefined.
 * - `save` validates the pair (key matches leaf) and replaces the current one atomically and
 *   durably; a concurrent `load` sees the old or the new pair. Callers serialise saves with
 *   certs/lock.ts (the store does not lock).
 */
export interface CertStore {
  load(): Promise<CertStoreLoadResult>;
  save(keyPem: string, chainPem: string): Promise<CertPair>;
}

const CURRENT = 'current.pem';
const PREVIOUS = 'previous.pem';
const KEY_BLOCK = /-----BEGIN (?:[A-Z ]+ )?PRIVATE KEY-----[\s\S]+?-----END (?:[A-Z ]+ )?PRIVATE KEY-----\n?/;

export function encodePairFile(keyPem: string, chainPem: string): string {
  return `${keyPem.trim()}\n${chainPem.trim()}\n`;
}

export function decodePairFile(content: string, source: string): CertPair {
  const key = KEY_BLOCK.exec(content);
  if (!key) throw new NodegateError('NG_CERT_STORE_CORRUPT', `${source} holds no private key.`);
  return parsePair(key[0], content.slice(key.index + key[0].length), source);
}

export class FileCertStore implements CertStore {
  readonly dir: string;

  /** @param dir DATA/certs */
  constructor(dir: string) {
    this.dir = dir;
  }

  get currentPath(): string {
    return join(this.dir, CURRENT);
  }

  async load(): Promise<CertStoreLoadResult> {
    await removeStaleTemporaries(this.dir);
    const problems: NodegateError[] = [];
    for (const name of [CURRENT, PREVIOUS]) {
      const path = join(this.dir, name);
      const raw = await readFileIfExists(path);
      if (raw === undefined) continue;
      try {
        return { pair: decodePairFile(raw.toString('utf8'), path), problems };
      } catch (err) {
        if (!isNodegateError(err)) throw err;
        problems.push(err);
      }
    }
    return { pair: undefined, problems };
  }

  async save(keyPem: string, chainPem: string): Promise<CertPair> {
    const pair = parsePair(keyPem, chainPem, 'the new certificate');
    const existing = await readFileIfExists(this.currentPath);
    if (existing !== undefined) {
      try {
        decodePairFile(existing.toString('utf8'), this.currentPath);
        await writeFileAtomic(join(this.dir, PREVIOUS), existing, { mode: 0o600 });
      } catch (err) {
        if (!isNodegateError(err) || err.code === 'NG_FILE_IO') throw err;
        // a damaged current.pem is not worth keeping: previous.pem stays the last good pair
      }
    }
    await writeFileAtomic(this.currentPath, encodePairFile(pair.keyPem, pair.chainPem), { mode: 0o600 });
    return pair;
  }
}
