import { invalidArgument } from '../env/errors.js';
import { MapTable, type Table } from './table.js';

/**
 * Clusterluck's in-memory table: a `Map` (so `"__proto__"` and `"constructor"` are ordinary
 * keys) behind the same interface as DTable. Changes resolve at once; `stop()` keeps the
 * entries (Clusterluck's emptied them; call `clear()` for that), so a stop/start keeps state.
 */
export class MTable<V> extends MapTable<V> implements Table<V> {
  /** Nothing to start: there is no background work. */
  start(): this {
    return this;
  }

  /** Nothing to stop; the entries stay. */
  async stop(): Promise<void> {}

  /** Nothing is stored anywhere, so nothing to read back. */
  async load(): Promise<void> {}

  /** Always true: nothing is ever written anywhere. */
  idle(): boolean {
    return true;
  }

  /** Sets `key`; INVALID_ARGUMENT unless it is a string. */
  async set(key: string, value: V): Promise<void> {
    if (typeof key !== 'string') throw invalidArgument('key', key, 'a string');
    this.data.set(key, value);
  }

  /** Removes `key`; a no-op when it is absent. */
  async delete(key: string): Promise<void> {
    if (typeof key !== 'string') throw invalidArgument('key', key, 'a string');
    this.data.delete(key);
  }

  /** Removes every key. */
  async clear(): Promise<void> {
    this.data.clear();
  }

  /** Same as {@link MTable.stop}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
