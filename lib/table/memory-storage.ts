import { ClusterluckError, invalidArgument } from '../env/errors.js';
import type { Storage } from '../env/storage.js';

const keyPattern = /^[A-Za-z0-9._-]+$/;

/** Throws INVALID_ARGUMENT unless `key` is a flat storage key. */
export function checkStorageKey(key: unknown): string {
  if (typeof key !== 'string' || !keyPattern.test(key) || key.length > 255) {
    throw invalidArgument('key', key, 'a name of 1 to 255 characters from [A-Za-z0-9._-]');
  }
  return key;
}

/** A {@link Storage} in memory: for tests and for tables that need not outlive the process. */
export function memoryStorage(): Storage {
  const data = new Map<string, Uint8Array>();
  let closed = false;
  const open = (key?: unknown): void => {
    if (closed) throw new ClusterluckError('NOT_RUNNING', 'storage is closed');
    if (key !== undefined) checkStorageKey(key);
  };
  return {
    read: async (key) => (open(key), data.get(key)?.slice()),
    write: async (key, bytes) => void (open(key), data.set(key, bytes.slice())),
    append: async (key, bytes) => {
      open(key);
      const old = data.get(key) ?? new Uint8Array(0);
      const out = new Uint8Array(old.byteLength + bytes.byteLength);
      out.set(old);
      out.set(bytes, old.byteLength);
      data.set(key, out);
    },
    delete: async (key) => void (open(key), data.delete(key)),
    list: async (prefix = '') => (open(), [...data.keys()].filter((k) => k.startsWith(prefix)).sort()),
    sync: async (key) => open(key),
    close: async () => {
      closed = true;
    },
  };
}
