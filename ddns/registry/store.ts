/**
 * The registry's store: the truth about every device and acme-dns account. The DNS backend is
 * rebuilt from it at start and follows it on every change.
 *
 * SqliteStore uses better-sqlite3 in WAL mode with `synchronous = FULL`: every committed
 * transaction's WAL frames are fsynced before the commit returns, so an update the API has
 * acknowledged survives not only kill -9 (which NORMAL would already survive: the WAL is in the OS
 * page cache) but also power loss, which NORMAL would not. The cost is one fsync per update; the
 * figure is in docs/performance.md.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { NodegateError } from '../../core/errors.ts';

export interface DeviceRecordFields {
  ipv4: string | null;
  ipv6: string | null;
  lan: string | null;
  /** Oldest first; at most MAX_ACME_TXT_VALUES. */
  acmeTxt: string[];
}

export interface StoredDevice extends DeviceRecordFields {
  id: string;
  /** base64url raw Ed25519 public key (the JWK `x`). */
  publicKey: string;
  /** SHA-256 of the dyndns2 update secret (a random 256-bit value, so a fast hash suffices). */
  updateSecretHash: Buffer | null;
  /** ms since the epoch */
  createdAt: number;
  updatedAt: number;
}

export interface StoredAcmeAccount {
  username: string;
  /** SHA-256 of the random API key. */
  keyHash: Buffer;
  /** DNS label under the zone (a UUID). */
  subdomain: string;
  allowfrom: string[];
  /** Oldest first; at most two (acme-dns semantics). */
  txt: string[];
  createdAt: number;
  updatedAt: number;
}

/**
 * Contract
 * - Synchronous and in-process: every method has finished (and, for writes, is durable) when it
 *   returns. One process owns the store; calls are not concurrent (Node runs them one at a time).
 * - Reads of an unknown id return undefined; writes to one throw NG_REG_DEVICE_UNKNOWN.
 */
export interface RegistryStore {
  getDevice(id: string): StoredDevice | undefined;
  /** Creates the device, or replaces the update secret of an existing one with the same key. */
  upsertDevice(id: string, publicKey: string, updateSecretHash: Buffer, now: number): { device: StoredDevice; created: boolean };
  /** Replaces the record fields of a device; returns the stored result. */
  setRecords(id: string, records: DeviceRecordFields, now: number): StoredDevice;
  /**
   * Replaces the record fields of many devices in one transaction (one fsync): group commit.
   * Returns the stored result per change, undefined for an unknown id (the others still commit).
   */
  setRecordsMany(changes: ReadonlyArray<{ id: string; records: DeviceRecordFields }>, now: number): Array<StoredDevice | undefined>;
  /** Every device, in id order (streamed: safe for 100,000s). */
  devices(): IterableIterator<StoredDevice>;
  countDevices(): number;
  /** Inserts many devices in one transaction (bulk provisioning, benchmarks). Existing ids are replaced. */
  insertDevices(devices: Iterable<StoredDevice>): number;

  createAcmeAccount(account: StoredAcmeAccount): void;
  getAcmeAccount(username: string): StoredAcmeAccount | undefined;
  setAcmeTxt(username: string, txt: string[], now: number): StoredAcmeAccount;
  acmeAccounts(): IterableIterator<StoredAcmeAccount>;
  close(): void;
}

interface DeviceRow {
  id: string;
  public_key: string;
  ipv4: string | null;
  ipv6: string | null;
  lan: string | null;
  acme_txt: string;
  update_secret_hash: Buffer | null;
  created_at: number;
  updated_at: number;
}

interface AcmeRow {
  username: string;
  key_hash: Buffer;
  subdomain: string;
  allowfrom: string;
  txt: string;
  created_at: number;
  updated_at: number;
}

const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS devices (
  id TEXT PRIMARY KEY,
  public_key TEXT NOT NULL UNIQUE,
  ipv4 TEXT,
  ipv6 TEXT,
  lan TEXT,
  acme_txt TEXT NOT NULL DEFAULT '[]',
  update_secret_hash BLOB,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS acme_accounts (
  username TEXT PRIMARY KEY,
  key_hash BLOB NOT NULL,
  subdomain TEXT NOT NULL UNIQUE,
  allowfrom TEXT NOT NULL DEFAULT '[]',
  txt TEXT NOT NULL DEFAULT '[]',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) WITHOUT ROWID;
`;

function parseList(json: string, where: string): string[] {
  const value: unknown = JSON.parse(json);
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw new NodegateError('NG_FILE_CORRUPT', `The registry database holds a malformed list in ${where}.`);
  }
  return value;
}

function toDevice(row: DeviceRow): StoredDevice {
  return {
    id: row.id,
    publicKey: row.public_key,
    ipv4: row.ipv4,
    ipv6: row.ipv6,
    lan: row.lan,
    acmeTxt: parseList(row.acme_txt, `device ${row.id}`),
    updateSecretHash: row.update_secret_hash,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function toAcme(row: AcmeRow): StoredAcmeAccount {
  return {
    username: row.username,
    keyHash: row.key_hash,
    subdomain: row.subdomain,
    allowfrom: parseList(row.allowfrom, `acme account ${row.username}`),
    txt: parseList(row.txt, `acme account ${row.username}`),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export class SqliteStore implements RegistryStore {
  private readonly db: Database.Database;
  private readonly stmts;

  /**
   * Opens (creating if needed) the database at `path`. `synchronous` exists for the benchmark's
   * comparison; the registry always uses FULL (see the module comment).
   */
  constructor(path: string, options: { synchronous?: 'FULL' | 'NORMAL' } = {}) {
    try {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      this.db = new Database(path);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma(`synchronous = ${options.synchronous === 'NORMAL' ? 'NORMAL' : 'FULL'}`);
      this.db.pragma('busy_timeout = 5000');
      this.db.exec(SCHEMA);
      const version = this.db.pragma('user_version', { simple: true }) as number;
      if (version === 0) this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
      else if (version > SCHEMA_VERSION) {
        throw new NodegateError('NG_FILE_CORRUPT', `The registry database ${path} was written by a newer nodegate (schema ${version}); upgrade nodegate.`);
      }
    } catch (err) {
      if (err instanceof NodegateError) throw err;
      throw new NodegateError('NG_FILE_IO', `Could not open the registry database ${path}: ${(err as Error).message}. Check --data and its permissions.`, { cause: err });
    }
    const db = this.db;
    this.stmts = {
      getDevice: db.prepare<[string], DeviceRow>('SELECT * FROM devices WHERE id = ?'),
      insertDevice: db.prepare(
        `INSERT INTO devices (id, public_key, ipv4, ipv6, lan, acme_txt, update_secret_hash, created_at, updated_at)
         VALUES (@id, @public_key, @ipv4, @ipv6, @lan, @acme_txt, @update_secret_hash, @created_at, @updated_at)
         ON CONFLICT(id) DO UPDATE SET public_key = excluded.public_key, ipv4 = excluded.ipv4, ipv6 = excluded.ipv6,
           lan = excluded.lan, acme_txt = excluded.acme_txt, update_secret_hash = excluded.update_secret_hash,
           updated_at = excluded.updated_at`,
      ),
      setSecret: db.prepare('UPDATE devices SET update_secret_hash = ? WHERE id = ?'),
      setRecords: db.prepare('UPDATE devices SET ipv4 = @ipv4, ipv6 = @ipv6, lan = @lan, acme_txt = @acme_txt, updated_at = @updated_at WHERE id = @id'),
      allDevices: db.prepare<[], DeviceRow>('SELECT * FROM devices ORDER BY id'),
      countDevices: db.prepare<[], { n: number }>('SELECT count(*) AS n FROM devices'),
      insertAcme: db.prepare(
        `INSERT INTO acme_accounts (username, key_hash, subdomain, allowfrom, txt, created_at, updated_at)
         VALUES (@username, @key_hash, @subdomain, @allowfrom, @txt, @created_at, @updated_at)`,
      ),
      getAcme: db.prepare<[string], AcmeRow>('SELECT * FROM acme_accounts WHERE username = ?'),
      setAcmeTxt: db.prepare('UPDATE acme_accounts SET txt = ?, updated_at = ? WHERE username = ?'),
      allAcme: db.prepare<[], AcmeRow>('SELECT * FROM acme_accounts ORDER BY username'),
    };
  }

  getDevice(id: string): StoredDevice | undefined {
    const row = this.stmts.getDevice.get(id);
    return row ? toDevice(row) : undefined;
  }

  upsertDevice(id: string, publicKey: string, updateSecretHash: Buffer, now: number): { device: StoredDevice; created: boolean } {
    const existing = this.getDevice(id);
    if (existing) {
      if (existing.publicKey !== publicKey) {
        // Ids are 80-bit hashes of the key: a different key with the same id is a collision attempt.
        throw new NodegateError('NG_REG_FORBIDDEN', `Device ${id} is registered with another key.`, { status: 403 });
      }
      this.stmts.setSecret.run(updateSecretHash, id);
      return { device: { ...existing, updateSecretHash }, created: false };
    }
    const device: StoredDevice = { id, publicKey, ipv4: null, ipv6: null, lan: null, acmeTxt: [], updateSecretHash, createdAt: now, updatedAt: now };
    this.stmts.insertDevice.run(deviceParams(device));
    return { device, created: true };
  }

  setRecords(id: string, records: DeviceRecordFields, now: number): StoredDevice {
    const result = this.stmts.setRecords.run({ id, ipv4: records.ipv4, ipv6: records.ipv6, lan: records.lan, acme_txt: JSON.stringify(records.acmeTxt), updated_at: now });
    if (result.changes === 0) throw new NodegateError('NG_REG_DEVICE_UNKNOWN', `No device ${id} is registered; register it first.`, { status: 404 });
    return this.getDevice(id)!;
  }

  setRecordsMany(changes: ReadonlyArray<{ id: string; records: DeviceRecordFields }>, now: number): Array<StoredDevice | undefined> {
    return this.db.transaction(() =>
      changes.map(({ id, records }) => {
        const result = this.stmts.setRecords.run({ id, ipv4: records.ipv4, ipv6: records.ipv6, lan: records.lan, acme_txt: JSON.stringify(records.acmeTxt), updated_at: now });
        return result.changes === 0 ? undefined : this.getDevice(id);
      }),
    )();
  }

  *devices(): IterableIterator<StoredDevice> {
    for (const row of this.stmts.allDevices.iterate()) yield toDevice(row);
  }

  countDevices(): number {
    return this.stmts.countDevices.get()!.n;
  }

  insertDevices(devices: Iterable<StoredDevice>): number {
    let n = 0;
    this.db.transaction(() => {
      for (const device of devices) {
        this.stmts.insertDevice.run(deviceParams(device));
        n++;
      }
    })();
    return n;
  }

  createAcmeAccount(account: StoredAcmeAccount): void {
    this.stmts.insertAcme.run({
      username: account.username,
      key_hash: account.keyHash,
      subdomain: account.subdomain,
      allowfrom: JSON.stringify(account.allowfrom),
      txt: JSON.stringify(account.txt),
      created_at: account.createdAt,
      updated_at: account.updatedAt,
    });
  }

  getAcmeAccount(username: string): StoredAcmeAccount | undefined {
    const row = this.stmts.getAcme.get(username);
    return row ? toAcme(row) : undefined;
  }

  setAcmeTxt(username: string, txt: string[], now: number): StoredAcmeAccount {
    const result = this.stmts.setAcmeTxt.run(JSON.stringify(txt), now, username);
    if (result.changes === 0) throw new NodegateError('NG_REG_DEVICE_UNKNOWN', `No acme-dns account ${username}.`, { status: 404 });
    return this.getAcmeAccount(username)!;
  }

  *acmeAccounts(): IterableIterator<StoredAcmeAccount> {
    for (const row of this.stmts.allAcme.iterate()) yield toAcme(row);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

function deviceParams(d: StoredDevice) {
  return {
    id: d.id,
    public_key: d.publicKey,
    ipv4: d.ipv4,
    ipv6: d.ipv6,
    lan: d.lan,
    acme_txt: JSON.stringify(d.acmeTxt),
    update_secret_hash: d.updateSecretHash,
    created_at: d.createdAt,
    updated_at: d.updatedAt,
  };
}
