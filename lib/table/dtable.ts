// The disk-backed table. Over 300 lines on purpose: the log appends (group commit), the snapshots
// and the syncs run on one I/O chain and share the generation and counters that make a crash safe;
// split, their ordering would be spread over files. The codecs are log-codec.ts and
// snapshot-codec.ts, the load stored-state.ts, the options dtable-options.ts.
import { assert } from '../env/assert.js';
import { concatBytes } from '../env/bytes.js';
import { invalidArgument } from '../env/errors.js';
import type { Storage } from '../env/storage.js';
import { resolveDTableOptions, type DTableOptions, type DTableStats, type ResolvedDTableOptions } from './dtable-options.js';
import { checkRecord, encodeChange, encodeRecord, type TableChange } from './log-codec.js';
import { encodeSnapshot } from './snapshot-codec.js';
import { applyChange, readStoredState } from './stored-state.js';
import { OneShot } from './one-shot.js';
import { MapTable, type Table } from './table.js';

export type { DTableOptions, DTableStats } from './dtable-options.js';

/** Changes waiting for one storage append. */
interface Batch {
  readonly changes: TableChange[];
  readonly json: string[];
  done: Promise<void>;
}

/**
 * Clusterluck's disk-backed table: a `Map` in memory, an append-only log of checksummed records,
 * and snapshots, over an injected {@link Storage}. A change is visible at once; its promise
 * resolves when its record is appended (and synced, with `fsyncInterval: 0`). Changes made while
 * an append is in flight share the next append (group commit).
 *
 * Crash safety: every snapshot carries a generation g, and every record the generation of the log
 * it was appended to. A snapshot first moves the table to g+1, then writes and syncs the snapshot,
 * then replaces the log with an empty one. `load` takes the snapshot and replays only records of
 * generation ≥ g. So a crash before the snapshot lands leaves the old snapshot and the whole log;
 * a crash after it leaves records it already holds, which are skipped; either way load gives
 * every synced change, and never an older state. The table is read from storage before its first
 * storage operation (explicitly by `load()`), so a table never overwrites state it has not read.
 */
export class DTable<V> extends MapTable<V> implements Table<V> {
  /** Counters. */
  readonly stats: DTableStats = {
    loads: 0, snapshots: 0, syncs: 0, appends: 0, recordsAppended: 0, corruptRecordsSkipped: 0, backgroundErrors: 0, generation: 0,
  };
  /** The table name. */
  readonly name: string;
  readonly #storage: Storage;
  readonly #o: Pick<ResolvedDTableOptions, 'writeThreshold' | 'fsyncInterval' | 'compress' | 'checkCodecs'>;
  readonly #onError: ((err: unknown) => void) | undefined;
  readonly #logKey: string;
  readonly #snapKey: string;
  /** Batches not yet appended, oldest first; `#batch` (the one taking changes) is the last. */
  readonly #queued: Batch[] = [];
  #batch: Batch | undefined;
  #opened = false;
  #changesSinceSnapshot = 0;
  /** Records in the log on storage (replayed by the next load). */
  #logRecords = 0;
  #snapshotQueued = false;
  #unsynced = false;
  #running = false;
  /** Every storage operation, one at a time in call order; never rejects. */
  #io: Promise<void> = Promise.resolve();
  #ioPending = 0;
  #failedAppends = 0;
  #lastAppendError: unknown;
  /** Snapshots a changed table `autoSave` ms after its first change since the last snapshot. */
  readonly #autoSave: OneShot;
  /** Syncs the log `fsyncInterval` ms after its first unsynced append. */
  readonly #fsync: OneShot;

  constructor(options: DTableOptions) {
    super();
    const { storage, clock, name, onError, ...o } = resolveDTableOptions(options);
    this.name = name;
    this.#storage = storage;
    this.#o = o;
    this.#autoSave = new OneShot(clock, o.autoSave, () => {
      if (this.#changesSinceSnapshot > 0) this.#background(this.snapshot());
    });
    this.#fsync = new OneShot(clock, o.fsyncInterval, () => this.#background(this.flush()));
    this.#onError = onError;
    this.#logKey = `${name}.log`;
    this.#snapKey = `${name}.snap`;
  }

  /**
   * Runs the autoSave and fsync timers (armed only while there is something to save or sync).
   * Before `start()` and after `stop()` nothing is synced or saved in the background.
   */
  start(): this {
    this.#running = true;
    this.#armAutoSave();
    if (this.#unsynced) this.#armFsync();
    return this;
  }

  /**
   * Stops the timers and, when anything changed since the last snapshot, takes one: everything is
   * then on storage and synced, for the next `load`. The table stays usable (without timers).
   */
  async stop(): Promise<void> {
    this.#running = false;
    this.#autoSave.cancel();
    this.#fsync.cancel();
    // Decided in the queue, after every change and snapshot before it has settled.
    await this.#run(async () => {
      if (this.#changesSinceSnapshot > 0 || this.#unsynced) await this.#snapshotTask();
    });
  }

  /**
   * Replaces the in-memory state with the stored one: the snapshot, then the log records it does
   * not hold (a torn or corrupt record is skipped and counted; the log is then compacted), then
   * any change made since that is not appended yet. A corrupt snapshot is STORAGE_CORRUPT and
   * leaves the table as it was.
   */
  load(): Promise<void> {
    return this.#run(() => this.#load());
  }

  /**
   * Sets `key` to a JSON value (treated as immutable; `undefined` inside it becomes null, as in
   * JSON). Resolves once the record is appended (and synced when fsyncInterval is 0); a change
   * that is refused (INVALID_ARGUMENT) never touches the table.
   */
  set(key: string, value: V): Promise<void> {
    if (typeof key !== 'string') return Promise.reject(invalidArgument('key', key, 'a string'));
    return this.#change(['s', key, value]);
  }

  /** Removes `key` (a record is written even when it is absent); resolves as `set` does. */
  delete(key: string): Promise<void> {
    if (typeof key !== 'string') return Promise.reject(invalidArgument('key', key, 'a string'));
    return this.#change(['d', key]);
  }

  /** Removes every key; resolves as `set` does. */
  clear(): Promise<void> {
    return this.#change(['c']);
  }

  /** Makes every change made so far durable (syncs the log after their appends). */
  flush(): Promise<void> {
    return this.#run(async () => {
      await this.#open();
      await this.#sync();
    });
  }

  /** Writes a snapshot of the current state and starts an empty log. */
  snapshot(): Promise<void> {
    this.#batch = undefined; // later changes are appended after it, to the new log
    return this.#run(() => this.#snapshotTask());
  }

  /**
   * Resolves once every change made so far is appended and synced, whatever `fsyncInterval` says;
   * rejects when one of those appends failed. Group commit: the calls of one tick queue behind one
   * append, and the first sync serves them all (the others find nothing unsynced).
   */
  synced(): Promise<void> {
    const failedBefore = this.#failedAppends;
    return this.#run(async () => {
      if (this.#failedAppends > failedBefore) throw this.#lastAppendError;
      await this.#sync();
    });
  }

  /**
   * Resolves once every change made so far is appended (and synced when fsyncInterval is 0);
   * rejects when one of those appends failed.
   */
  written(): Promise<void> {
    const failedBefore = this.#failedAppends;
    return this.#run(async () => {
      if (this.#failedAppends > failedBefore) throw this.#lastAppendError;
    });
  }

  /** True when no storage operation is in flight or queued. */
  idle(): boolean {
    return this.#ioPending === 0;
  }

  /** Same as {@link DTable.stop}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  #change(change: TableChange): Promise<void> {
    let json: string;
    try {
      json = encodeChange(change);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    applyChange(this.data, change);
    const batch = this.#batch ?? this.#newBatch();
    batch.changes.push(change);
    batch.json.push(json);
    this.#changesSinceSnapshot++;
    this.#armAutoSave();
    this.#snapshotIfDue();
    return batch.done;
  }

  #newBatch(): Batch {
    const batch: Batch = { changes: [], json: [], done: Promise.resolve() };
    this.#batch = batch;
    this.#queued.push(batch);
    batch.done = this.#run(() => this.#append(batch));
    return batch;
  }

  async #append(batch: Batch): Promise<void> {
    try {
      await this.#open(); // while `batch` is still queued, so a first load re-applies its changes
    } finally {
      if (this.#batch === batch) this.#batch = undefined;
      this.#queued.splice(this.#queued.indexOf(batch), 1);
    }
    const generation = this.stats.generation;
    try {
      await this.#storage.append(this.#logKey, concatBytes(batch.json.map((j) => this.#record(generation, j))));
    } catch (err) {
      this.#failedAppends++;
      this.#lastAppendError = err;
      throw err;
    }
    this.stats.appends++;
    this.stats.recordsAppended += batch.json.length;
    this.#logRecords += batch.json.length;
    this.#unsynced = true;
    this.#snapshotIfDue(); // a burst queued behind a snapshot can fill the new log past the threshold
    if (this.#o.fsyncInterval === 0) await this.#sync();
    else this.#armFsync();
  }

  async #open(): Promise<void> {
    if (!this.#opened) await this.#load();
  }

  async #load(): Promise<void> {
    const stored = await readStoredState(this.#storage, this.name);
    // Nothing awaited from here to the end of the rebuild: changes made meanwhile are in #queued.
    this.data.clear();
    for (const [k, v] of stored.entries) this.data.set(k, v as V);
    let queued = 0;
    for (const b of this.#queued) for (const c of b.changes) applyChange(this.data, c), queued++;
    this.stats.generation = stored.generation;
    this.stats.loads++;
    this.stats.corruptRecordsSkipped += stored.corrupt;
    this.#changesSinceSnapshot = stored.logRecords + queued;
    this.#logRecords = stored.logRecords;
    this.#opened = true;
    this.#armAutoSave();
    // New records must not follow a damaged stretch: start a clean log.
    if (stored.corrupt > 0) await this.#snapshotNow();
  }

  async #snapshotTask(): Promise<void> {
    this.#snapshotQueued = false;
    this.#autoSave.cancel();
    await this.#open();
    const pending = this.#changesSinceSnapshot;
    this.#changesSinceSnapshot = 0;
    try {
      await this.#snapshotNow();
    } catch (err) {
      this.#changesSinceSnapshot += pending;
      this.#armAutoSave();
      throw err;
    }
  }

  async #snapshotNow(): Promise<void> {
    // Records appended from here on belong to the new generation, whether or not the snapshot
    // lands: if it does not, load replays them on the old snapshot with the rest of the log.
    const generation = ++this.stats.generation;
    const bytes = await encodeSnapshot({ generation, entries: [...this.data] }, this.#o.compress);
    await this.#storage.write(this.#snapKey, bytes);
    await this.#storage.sync(this.#snapKey);
    await this.#storage.write(this.#logKey, new Uint8Array(0));
    this.#logRecords = 0;
    await this.#storage.sync(this.#logKey);
    this.#unsynced = false;
    this.stats.snapshots++;
  }

  async #sync(): Promise<void> {
    if (!this.#unsynced) return;
    await this.#storage.sync(this.#logKey);
    this.#unsynced = false;
    this.stats.syncs++;
  }

  #snapshotIfDue(): void {
    const due = Math.max(this.#changesSinceSnapshot, this.#logRecords) >= this.#o.writeThreshold;
    if (!due || this.#snapshotQueued) return;
    this.#snapshotQueued = true;
    this.#background(this.snapshot());
  }

  #record(generation: number, changeJson: string): Uint8Array {
    const record = encodeRecord(generation, changeJson);
    if (this.#o.checkCodecs) checkRecord(record, generation, changeJson);
    return record;
  }

  #run<T>(task: () => Promise<T>): Promise<T> {
    this.#ioPending++;
    const result = this.#io.then(task);
    const ended = (): void => {
      this.#ioPending--;
      assert(this.#ioPending >= 0, 'a DTable ends no more storage tasks than it started');
    };
    this.#io = result.then(ended, ended);
    return result;
  }

  #armAutoSave(): void {
    if (this.#running && this.#changesSinceSnapshot > 0) this.#autoSave.arm();
  }

  #armFsync(): void {
    if (this.#running && this.#o.fsyncInterval > 0) this.#fsync.arm();
  }

  #background(p: Promise<void>): void {
    p.catch((err: unknown) => {
      this.stats.backgroundErrors++;
      this.#onError?.(err);
    });
  }
}
