/**
 * What {@link MTable} and DTable share (Clusterluck's table interface), so a component can take
 * either. Keys are any strings (`"__proto__"` included): the state lives in a `Map`. A change is
 * visible to `get` at once; its promise says when it is stored (at once for MTable).
 */
export interface Table<V> {
  /** The value under `key`, or undefined. */
  get(key: string): V | undefined;
  /** True when `key` has a value. */
  has(key: string): boolean;
  /** Number of keys. */
  readonly size: number;
  /** The keys, in insertion order. */
  keys(): IterableIterator<string>;
  /** The values, in insertion order. */
  values(): IterableIterator<V>;
  /** `[key, value]` pairs, in insertion order. */
  entries(): IterableIterator<[string, V]>;
  /** Calls `fn` for each entry, in insertion order. */
  forEach(fn: (value: V, key: string) => void): void;
  /** Sets `key` to `value`. */
  set(key: string, value: V): Promise<void>;
  /** Removes `key`; a no-op when it is absent. */
  delete(key: string): Promise<void>;
  /** Removes every key. */
  clear(): Promise<void>;
  /** Starts background work (timers), if any. */
  start(): this;
  /** Stops background work, keeping the state (on storage, for a durable table). */
  stop(): Promise<void>;
  /** Reads the stored state back (nothing to read for an in-memory table). */
  load(): Promise<void>;
  /** True when nothing is being written. */
  idle(): boolean;
}

/** The reads of a {@link Table} over its `Map`, shared by MTable and DTable. */
export abstract class MapTable<V> {
  /** The entries; subclasses change it. */
  protected readonly data = new Map<string, V>();

  /** The value under `key`, or undefined. */
  get(key: string): V | undefined {
    return this.data.get(key);
  }

  /** True when `key` has a value. */
  has(key: string): boolean {
    return this.data.has(key);
  }

  /** Number of keys. */
  get size(): number {
    return this.data.size;
  }

  /** The keys, in insertion order. */
  keys(): IterableIterator<string> {
    return this.data.keys();
  }

  /** The values, in insertion order. */
  values(): IterableIterator<V> {
    return this.data.values();
  }

  /** `[key, value]` pairs, in insertion order. */
  entries(): IterableIterator<[string, V]> {
    return this.data.entries();
  }

  /** Calls `fn` for each entry, in insertion order. */
  forEach(fn: (value: V, key: string) => void): void {
    for (const [k, v] of this.data) fn(v, k);
  }
}
