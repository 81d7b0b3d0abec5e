/**
 * Group commit for record changes, and per-device serialisation of read-modify-write.
 *
 * With synchronous=FULL every SQLite commit waits for an fsync (milliseconds on real disks), so one
 * transaction per update caps the registry at a few hundred updates per second. Changes that arrive
 * while one batch is being written are committed together in the next transaction: each caller
 * still gets its acknowledgement only after the fsync that covers its change.
 *
 * Because a change is decided on the state read before it (add a TXT value, keep the other), two
 * changes to one device must not interleave: {@link KeyedMutex} runs them one after the other.
 */
import { NodegateError } from '../../core/errors.ts';
import type { DeviceRecordFields, RegistryStore, StoredDevice } from './store.ts';

/** Most changes in one transaction: bounds the time the event loop is held by one commit. */
export const MAX_CHANGES_PER_COMMIT = 1_000;

interface PendingChange {
  id: string;
  records: DeviceRecordFields;
  resolve: (device: StoredDevice) => void;
  reject: (err: unknown) => void;
}

export class GroupCommitter {
  private queue: PendingChange[] = [];
  private scheduled = false;

  constructor(
    private readonly store: RegistryStore,
    private readonly now: () => number,
  ) {}

  /** Stores the records of `id`; resolves once they are durable. NG_REG_DEVICE_UNKNOWN if the id is not stored. */
  setRecords(id: string, records: DeviceRecordFields): Promise<StoredDevice> {
    return new Promise((resolve, reject) => {
      this.queue.push({ id, records, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    const batch = this.queue.splice(0, MAX_CHANGES_PER_COMMIT);
    this.scheduled = false;
    if (this.queue.length > 0) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
    let results: Array<StoredDevice | undefined>;
    try {
      results = this.store.setRecordsMany(batch.map(({ id, records }) => ({ id, records })), this.now());
    } catch (err) {
      for (const change of batch) change.reject(err);
      return;
    }
    batch.forEach((change, i) => {
      const stored = results[i];
      if (stored) change.resolve(stored);
      else change.reject(new NodegateError('NG_REG_DEVICE_UNKNOWN', `No device ${change.id} is registered; register first.`, { status: 404 }));
    });
  }
}

/** Runs tasks with the same key one after another (different keys concurrently). */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(task, task);
    const tail = result.catch(() => undefined); // a failure belongs to its own caller
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  get size(): number {
    return this.tails.size;
  }
}
