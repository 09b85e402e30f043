// Storage in IndexedDB (browsers) through idb-keyval: one record per key.
import { del, get, keys, promisifyRequest, set, update, type UseStore } from 'idb-keyval';
import { ClusterluckError, invalidArgument } from '../../env/errors.js';
import type { Storage } from '../../env/storage.js';
import { checkStorageKey, isStorageKey, keyedQueue, storageClosed } from '../../table/storage-keys.js';

/** The record `sync` rewrites with strict durability; `~` is no key character, so no key names it. */
const syncMarker = '~sync';

/**
 * An IndexedDB connection for one object store, as idb-keyval's `createStore` makes, but one that
 * adds the store to an existing database (idb-keyval's creates it only with the database), closes
 * when another connection upgrades the database, and can be closed.
 */
function openStore(dbName: string, storeName: string): { use(durability: IDBTransactionDurability): UseStore; close(): Promise<void> } {
  let db: Promise<IDBDatabase> | undefined;
  const connect = async (version?: number): Promise<IDBDatabase> => {
    const request = version === undefined ? indexedDB.open(dbName) : indexedDB.open(dbName, version);
    request.onupgradeneeded = () => {
      if (!request.result.objectStoreNames.contains(storeName)) request.result.createObjectStore(storeName);
    };
    const opened = await promisifyRequest(request);
    if (opened.objectStoreNames.contains(storeName)) return opened;
    opened.close();
    return connect(opened.version + 1);
  };
  const getDb = (): Promise<IDBDatabase> =>
    (db ??= connect().then(
      (opened) => {
        opened.onversionchange = opened.onclose = () => {
          opened.close();
          db = undefined;
        };
        return opened;
      },
      (err: unknown) => {
        db = undefined;
        throw err;
      },
    ));
  return {
    use: (durability) => (mode, callback) =>
      getDb().then((opened) => callback(opened.transaction(storeName, mode, { durability }).objectStore(storeName))),
    async close() {
      const pending = db;
      db = undefined;
      (await pending?.catch(() => undefined))?.close();
    },
  };
}

/**
 * A {@link Storage} in the object store `storeName` of the IndexedDB database `dbName` (several
 * stores may share a database). Each call is one IndexedDB transaction, and calls on one key run
 * in call order; `append` reads and writes in one transaction, so even two tabs appending to one
 * key lose nothing. Transactions commit with the browser's default durability (they survive a
 * browser crash); `sync` commits a marker record with `strict` durability, which is flushed to
 * disk before it completes. That this flushes the earlier commits too rests on the engines
 * writing commits to one log in order, as LevelDB and SQLite's WAL do; the standard does not say.
 *
 * @param dbName The database, created when missing.
 * @param storeName The object store, added to the database when missing. @default 'clusterluck'
 */
export function idbStorage(dbName: string, storeName = 'clusterluck'): Storage {
  if (typeof dbName !== 'string' || dbName === '') throw invalidArgument('dbName', dbName, 'a database name');
  if (typeof storeName !== 'string' || storeName === '') throw invalidArgument('storeName', storeName, 'a store name');
  if (typeof indexedDB === 'undefined') throw new ClusterluckError('UNSUPPORTED_PLATFORM', 'IndexedDB is not available here');
  const connection = openStore(dbName, storeName);
  const store = connection.use('default');
  const strict = connection.use('strict');
  const queue = keyedQueue();
  let closed = false;
  const onKey = <T>(key: string, task: () => Promise<T>): Promise<T> => {
    if (closed) return Promise.reject(storageClosed());
    try {
      checkStorageKey(key);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    return queue.run(key, task);
  };
  const bytesOf = (key: string, v: unknown): Uint8Array | undefined => {
    if (v === undefined || v instanceof Uint8Array) return v;
    throw new ClusterluckError('STORAGE_CORRUPT', `IndexedDB record ${JSON.stringify(key)} in ${dbName}/${storeName} is not bytes`);
  };
  return {
    read: (key) => onKey(key, async () => bytesOf(key, await get(key, store))),
    write: (key, bytes) => {
      const copy = bytes.slice(); // the caller may reuse its buffer before the transaction runs
      return onKey(key, () => set(key, copy, store));
    },
    append: (key, bytes) => {
      const copy = bytes.slice();
      return onKey(key, () =>
        update(key, (old: unknown) => {
          const prev = bytesOf(key, old) ?? new Uint8Array(0);
          const out = new Uint8Array(prev.byteLength + copy.byteLength);
          out.set(prev);
          out.set(copy, prev.byteLength);
          return out;
        }, store));
    },
    delete: (key) => onKey(key, () => del(key, store)),
    async list(prefix = '') {
      if (closed) throw storageClosed();
      await queue.drain(); // the list reflects every call made before it
      return (await keys(store)).filter((k): k is string => isStorageKey(k) && k.startsWith(prefix)).sort();
    },
    sync: (key) => onKey(key, () => set(syncMarker, key, strict)),
    async close() {
      closed = true;
      await queue.drain();
      await connection.close();
    },
  };
}
