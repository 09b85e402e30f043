// Storage in IndexedDB (browsers) through idb-keyval: one record per key.
import { createStore, del, get, keys, set, type UseStore } from 'idb-keyval';
import { ClusterluckError, invalidArgument } from '../env/errors.js';
import type { Storage } from '../env/storage.js';
import { checkStorageKey } from '../table/memory-storage.js';

/**
 * A {@link Storage} in the IndexedDB database `dbName`, object store `storeName`. Each operation
 * is one IndexedDB transaction, complete (durable) when its promise resolves, so `sync` has
 * nothing left to do. Appends to one key are serialised (read, concatenate, write).
 */
export function idbStorage(dbName: string, storeName = 'clusterluck'): Storage {
  if (typeof dbName !== 'string' || dbName === '') throw invalidArgument('dbName', dbName, 'a database name');
  if (typeof storeName !== 'string' || storeName === '') throw invalidArgument('storeName', storeName, 'a store name');
  if (typeof indexedDB === 'undefined') throw new ClusterluckError('UNSUPPORTED_PLATFORM', 'IndexedDB is not available here');
  const store: UseStore = createStore(dbName, storeName);
  let closed = false;
  const chains = new Map<string, Promise<unknown>>();
  const serial = <T>(key: string, task: () => Promise<T>): Promise<T> => {
    if (closed) return Promise.reject(new ClusterluckError('NOT_RUNNING', 'storage is closed'));
    try {
      checkStorageKey(key);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    const result = (chains.get(key) ?? Promise.resolve()).then(task);
    const tail = result.catch(() => undefined);
    chains.set(key, tail);
    void tail.then(() => chains.get(key) === tail && chains.delete(key));
    return result;
  };
  const bytesOf = (v: unknown): Uint8Array | undefined => (v instanceof Uint8Array ? v.slice() : undefined);
  return {
    read: (key) => serial(key, async () => bytesOf(await get(key, store))),
    write: (key, bytes) => serial(key, () => set(key, bytes.slice(), store)),
    append: (key, bytes) => serial(key, async () => {
      const old = bytesOf(await get(key, store)) ?? new Uint8Array(0);
      const out = new Uint8Array(old.byteLength + bytes.byteLength);
      out.set(old);
      out.set(bytes, old.byteLength);
      await set(key, out, store);
    }),
    delete: (key) => serial(key, () => del(key, store)),
    async list(prefix = '') {
      if (closed) throw new ClusterluckError('NOT_RUNNING', 'storage is closed');
      return (await keys(store)).filter((k): k is string => typeof k === 'string' && k.startsWith(prefix)).sort();
    },
    sync: (key) => serial(key, async () => undefined),
    async close() {
      closed = true;
    },
  };
}
