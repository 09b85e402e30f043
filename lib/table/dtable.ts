import type { Clock, TimerHandle } from '../env/clock.js';
import { invalidArgument } from '../env/errors.js';
import type { Storage } from '../env/storage.js';
import { checkStorageKey } from './memory-storage.js';
import { readLog, readSnapshot, writeRecord, writeSnapshot, type LogOp } from './table-codec.js';

type Change = readonly ['s', string, unknown] | readonly ['d', string] | readonly ['c'];

/** Options of a {@link DTable} (Clusterluck's names). */
export interface DTableOptions {
  /** Where the log and snapshots live. */
  readonly storage: Storage;
  /** Times autoSave and fsyncInterval. */
  readonly clock: Clock;
  /** Table name: keys `<name>.log` and `<name>.snap` in the storage. @default 'table' */
  readonly name?: string;
  /** Writes after which a snapshot replaces the log. @default 1000 */
  readonly writeThreshold?: number;
  /** Interval between snapshots of a changed table, ms. @default 180000 */
  readonly autoSave?: number;
  /** Interval between syncs of the log, ms; 0 syncs each write before it resolves. @default 1000 */
  readonly fsyncInterval?: number;
  /** Gzip snapshots (CompressionStream). @default false */
  readonly compress?: boolean;
}

/** What a DTable did; counters only grow. */
export interface DTableStats {
  snapshots: number;
  syncs: number;
  recordsAppended: number;
  /** Torn or corrupt log records skipped while loading. */
  corruptRecordsSkipped: number;
}

/**
 * Clusterluck's disk-backed table: a Map in memory, an append-only log of checksummed records,
 * and snapshots. Each snapshot carries a generation; a log record carries the generation of the
 * log it was written to. Taking a snapshot writes it (atomically, synced) with generation g+1
 * before replacing the log, so a crash between the two leaves a log of generation g whose
 * records `load` skips: the latest synced state is recovered at any crash point.
 */
export class DTable<V> {
  readonly stats: DTableStats = { snapshots: 0, syncs: 0, recordsAppended: 0, corruptRecordsSkipped: 0 };
  readonly #o: Required<DTableOptions>;
  readonly #data = new Map<string, V>();
  readonly #logKey: string;
  readonly #snapKey: string;
  #generation = 0;
  #writesSinceSnapshot = 0;
  #dirty = false;
  #unsynced = false;
  /** Every storage operation, in order. */
  #io: Promise<unknown> = Promise.resolve();
  #ioPending = 0;
  #timers: TimerHandle[] = [];
  #running = false;

  constructor(options: DTableOptions) {
    if (typeof options !== 'object' || options === null) throw invalidArgument('options', options, 'an options object');
    const o = {
      storage: options.storage, clock: options.clock, name: options.name ?? 'table',
      writeThreshold: options.writeThreshold ?? 1000, autoSave: options.autoSave ?? 180_000,
      fsyncInterval: options.fsyncInterval ?? 1000, compress: options.compress ?? false,
    };
    checkStorageKey(`${o.name}.snap`);
    for (const f of ['writeThreshold', 'autoSave'] as const) {
      if (!Number.isInteger(o[f]) || o[f] < 1) throw invalidArgument(f, o[f], 'a positive integer');
    }
    if (!Number.isFinite(o.fsyncInterval) || o.fsyncInterval < 0) throw invalidArgument('fsyncInterval', o.fsyncInterval, 'a number of ms ≥ 0');
    this.#o = o;
    this.#logKey = `${o.name}.log`;
    this.#snapKey = `${o.name}.snap`;
  }

  /** Starts the autoSave and fsync timers. */
  start(): this {
    if (this.#running) return this;
    this.#running = true;
    this.#every(this.#o.autoSave, () => {
      if (this.#dirty) void this.snapshot().catch(() => undefined);
    });
    if (this.#o.fsyncInterval > 0) this.#every(this.#o.fsyncInterval, () => {
      if (this.#unsynced) void this.flush().catch(() => undefined);
    });
    return this;
  }

  /** Syncs, snapshots and stops the timers; the state stays on storage for the next load. */
  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    for (const t of this.#timers) this.#o.clock.cancelTimer(t);
    this.#timers = [];
    await this.snapshot();
  }

  /** Replaces the in-memory state with the snapshot plus the log; STORAGE_CORRUPT for a bad snapshot. */
  async load(): Promise<void> {
    await this.#run(async () => {
      const storage = this.#o.storage;
      this.#data.clear();
      const snap = await storage.read(this.#snapKey);
      this.#generation = 0;
      if (snap !== undefined) {
        const s = await readSnapshot(snap, this.#o.name);
        this.#generation = s.generation;
        for (const [k, v] of s.entries) this.#data.set(k, v as V);
      }
      const log = await storage.read(this.#logKey);
      const { ops, corrupt } = log === undefined ? { ops: [], corrupt: 0 } : readLog(log);
      this.stats.corruptRecordsSkipped += corrupt;
      for (const op of ops) if (op[0] >= this.#generation) this.#apply(op);
      this.#writesSinceSnapshot = ops.length;
      return corrupt;
    }).then((corrupt) => {
      // Records after a torn tail would be unreachable: start a clean log now.
      if (corrupt > 0) return this.snapshot();
      return undefined;
    });
  }

  get(key: string): V | undefined {
    return this.#data.get(key);
  }

  has(key: string): boolean {
    return this.#data.has(key);
  }

  get size(): number {
    return this.#data.size;
  }

  keys(): IterableIterator<string> {
    return this.#data.keys();
  }

  entries(): IterableIterator<[string, V]> {
    return this.#data.entries();
  }

  /** Sets `key`; resolves once the record is appended (and synced when fsyncInterval is 0). */
  set(key: string, value: V): Promise<void> {
    if (typeof key !== 'string') return Promise.reject(invalidArgument('key', key, 'a string'));
    return this.#write(['s', key, value]);
  }

  /** Deletes `key` (a no-op record when absent is still written, keeping the log simple). */
  delete(key: string): Promise<void> {
    if (typeof key !== 'string') return Promise.reject(invalidArgument('key', key, 'a string'));
    return this.#write(['d', key]);
  }

  /** Empties the table. */
  clear(): Promise<void> {
    return this.#write(['c']);
  }

  /** Makes every appended record durable. */
  flush(): Promise<void> {
    return this.#run(async () => {
      if (!this.#unsynced) return;
      this.#unsynced = false;
      await this.#o.storage.sync(this.#logKey);
      this.stats.syncs++;
    });
  }

  /** Writes a snapshot of the current state and starts a new, empty log. */
  snapshot(): Promise<void> {
    this.#writesSinceSnapshot = 0;
    return this.#run(async () => {
      const generation = this.#generation + 1;
      const bytes = await writeSnapshot({ generation, entries: [...this.#data] }, this.#o.compress);
      await this.#o.storage.write(this.#snapKey, bytes);
      await this.#o.storage.sync(this.#snapKey);
      this.#generation = generation;
      await this.#o.storage.write(this.#logKey, new Uint8Array(0));
      await this.#o.storage.sync(this.#logKey);
      this.#unsynced = false;
      this.#dirty = false;
      this.stats.snapshots++;
    });
  }

  /** True when no storage operation is in flight. */
  idle(): boolean {
    return this.#ioPending === 0;
  }

  #write(op: Change): Promise<void> {
    this.#apply([0, ...op] as LogOp);
    this.#dirty = true;
    const done = this.#run(async () => {
      // Stamped with the generation of the log it lands in: a change applied in memory before a
      // snapshot captured the state but appended after it is replayed on top (harmlessly, in order).
      await this.#o.storage.append(this.#logKey, writeRecord([this.#generation, ...op] as LogOp));
      this.stats.recordsAppended++;
      this.#unsynced = true;
      if (this.#o.fsyncInterval === 0) {
        await this.#o.storage.sync(this.#logKey);
        this.#unsynced = false;
        this.stats.syncs++;
      }
    });
    if (++this.#writesSinceSnapshot >= this.#o.writeThreshold) {
      this.#writesSinceSnapshot = 0;
      void this.snapshot().catch(() => undefined);
    }
    return done;
  }

  #apply(op: LogOp): void {
    if (op[1] === 's') this.#data.set(op[2], op[3] as V);
    else if (op[1] === 'd') this.#data.delete(op[2]);
    else this.#data.clear();
  }

  #run<T>(task: () => Promise<T>): Promise<T> {
    this.#ioPending++;
    const result = this.#io.then(task);
    this.#io = result.then(
      () => this.#ioPending--,
      () => this.#ioPending--,
    );
    return result;
  }

  #every(ms: number, fn: () => void): void {
    const at = this.#timers.length;
    const arm = (): void => {
      this.#timers[at] = this.#o.clock.setTimer(ms, () => {
        arm();
        fn();
      });
    };
    arm();
  }
}
