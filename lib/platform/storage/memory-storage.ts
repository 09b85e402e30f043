import { concatBytes } from '../../env/bytes.js';
import type { Storage } from '../../env/storage.js';
import { checkStorageKey, storageClosed } from '../../table/storage-keys.js';

/**
 * A {@link Storage} in a `Map`: for tests, and for tables that need not outlive the process.
 * Every call takes effect at once and in call order; `sync` has nothing to do. Values are
 * copied in and out, so callers may reuse their buffers.
 */
export function memoryStorage(): Storage {
  // Each value as chunks, joined on read, so a log of n appends costs O(n) rather than O(n²).
  const data = new Map<string, Uint8Array[]>();
  let closed = false;
  const open = (): void => {
    if (closed) throw storageClosed();
  };
  const onKey = (key: unknown): void => {
    open();
    checkStorageKey(key);
  };
  return {
    read: async (key) => {
      onKey(key);
      const chunks = data.get(key);
      if (chunks === undefined) return undefined;
      const whole = chunks.length === 1 ? (chunks[0] as Uint8Array) : concatBytes(chunks);
      data.set(key, [whole]);
      return whole.slice();
    },
    write: async (key, bytes) => {
      onKey(key);
      data.set(key, [bytes.slice()]);
    },
    append: async (key, bytes) => {
      onKey(key);
      const chunks = data.get(key);
      if (chunks === undefined) data.set(key, [bytes.slice()]);
      else chunks.push(bytes.slice());
    },
    delete: async (key) => {
      onKey(key);
      data.delete(key);
    },
    list: async (prefix = '') => {
      open();
      return [...data.keys()].filter((k) => k.startsWith(prefix)).sort();
    },
    sync: async (key) => {
      onKey(key);
    },
    close: async () => {
      closed = true;
    },
  };
}
