/** Clusterluck's in-memory table: a Map (so any string is an ordinary key) with start/stop. */
export class MTable<V> {
  readonly #data = new Map<string, V>();

  /** Nothing to start; present for symmetry with DTable. */
  start(): this {
    return this;
  }

  /** Drops everything. */
  async stop(): Promise<void> {
    this.#data.clear();
  }

  /** Always idle: nothing is ever written anywhere. */
  idle(): boolean {
    return true;
  }

  get(key: string): V | undefined {
    return this.#data.get(key);
  }

  has(key: string): boolean {
    return this.#data.has(key);
  }

  async set(key: string, value: V): Promise<void> {
    this.#data.set(key, value);
  }

  async delete(key: string): Promise<void> {
    this.#data.delete(key);
  }

  async clear(): Promise<void> {
    this.#data.clear();
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
}
