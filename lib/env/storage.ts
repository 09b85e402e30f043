/**
 * Durable bytes under string keys, injected: files in Node, IndexedDB in browsers, a simulated
 * disk that loses unsynced writes on a crash. Keys are flat names (`[A-Za-z0-9._-]+`, not `.` or
 * `..`, at most 200 characters; see `checkStorageKey`).
 *
 * Durability: a `write` or `append` is durable only once a later `sync(key)` resolved, which is
 * what the simulated disk enforces and what DTable relies on.
 */
export interface Storage {
  /** The whole value, or undefined when the key is absent. */
  read(key: string): Promise<Uint8Array | undefined>;
  /** Replaces the value atomically: a reader sees the old or the new bytes, never a mix. */
  write(key: string, bytes: Uint8Array): Promise<void>;
  /** Appends bytes to the value (creating it); a crash may tear the last append. */
  append(key: string, bytes: Uint8Array): Promise<void>;
  /** Removes the key; a no-op when absent. */
  delete(key: string): Promise<void>;
  /** Keys that start with `prefix`, sorted. */
  list(prefix?: string): Promise<string[]>;
  /** Makes earlier writes and appends to `key` durable. */
  sync(key: string): Promise<void>;
  /** Releases handles; later calls reject with NOT_RUNNING. */
  close(): Promise<void>;
}
