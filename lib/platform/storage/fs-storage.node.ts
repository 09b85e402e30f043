// Storage on the file system (Node): one file per key in a directory.
import { mkdir, open, readdir, readFile, rename, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { fsAppendHandlesMax } from '../../constants.js';
import { invalidArgument } from '../../env/errors.js';
import type { Storage } from '../../env/storage.js';
import { checkStorageKey, isStorageKey, keyedQueue, storageClosed } from '../../table/storage-keys.js';

/** Suffix of a temporary file: `~` is no key character, so no key names one. */
const tmpSuffix = '~tmp';

/** Errors of platforms that cannot fsync a directory (Windows); there the rename is all we have. */
const noDirSync = new Set(['EISDIR', 'EPERM', 'EACCES', 'EINVAL', 'ENOTSUP']);

const errnoOf = (err: unknown): string | undefined => (err as { code?: string } | null)?.code;

/**
 * A {@link Storage} whose keys are files in `dir` (created when first needed). `write` is atomic:
 * a temporary file, fsync, rename. `append` appends. `sync(key)` fsyncs the file and, when a file
 * was created, replaced or removed since, the directory, so the name is durable too. Calls on one
 * key run in call order. On a case-insensitive file system, keys differing only in case collide.
 */
export function fsStorage(dir: string): Storage {
  if (typeof dir !== 'string' || dir === '') throw invalidArgument('dir', dir, 'a directory path');
  const queue = keyedQueue();
  /** Keys this storage knows have a file, so an append that creates one is noticed. */
  const present = new Set<string>();
  /** Open append handles by key, least recently used first; a write or delete of the key closes its handle. */
  const handles = new Map<string, FileHandle>();
  const dropHandle = async (key: string): Promise<void> => {
    const h = handles.get(key);
    handles.delete(key);
    await h?.close();
  };
  const appendHandle = async (key: string, file: string): Promise<FileHandle> => {
    let h = handles.get(key);
    if (h !== undefined) handles.delete(key); // re-inserted as the most recent
    else {
      if (handles.size >= fsAppendHandlesMax) {
        // Only the queue of this key may touch its handle: close the oldest in its own queue.
        const [oldest, old] = handles.entries().next().value as [string, FileHandle];
        handles.delete(oldest);
        void queue.run(oldest, () => old.close()).catch(() => undefined);
      }
      h = await open(file, 'a');
    }
    handles.set(key, h);
    return h;
  };
  let ready: Promise<void> | undefined;
  let closed = false;
  let dirDirty = false;
  const ensureDir = (): Promise<void> =>
    (ready ??= mkdir(dir, { recursive: true }).then(
      () => undefined,
      (err: unknown) => {
        ready = undefined;
        throw err;
      },
    ));
  const onKey = <T>(key: string, task: (file: string) => Promise<T>): Promise<T> => {
    if (closed) return Promise.reject(storageClosed());
    try {
      checkStorageKey(key);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    return queue.run(key, async () => {
      await ensureDir();
      return task(join(dir, key));
    });
  };
  const fsync = async (path: string, flags: string): Promise<void> => {
    const handle = await open(path, flags);
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  };
  const syncDir = async (): Promise<void> => {
    if (!dirDirty) return;
    dirDirty = false;
    try {
      await fsync(dir, 'r');
    } catch (err) {
      if (noDirSync.has(errnoOf(err) ?? '')) return;
      dirDirty = true;
      throw err;
    }
  };
  return {
    read: (key) =>
      onKey(key, async (file) => {
        try {
          return new Uint8Array(await readFile(file));
        } catch (err) {
          if (errnoOf(err) === 'ENOENT') return undefined;
          throw err;
        }
      }),
    write: (key, bytes) => {
      const copy = bytes.slice(); // the caller may reuse its buffer before the queued write runs
      return onKey(key, async (file) => {
        const tmp = file + tmpSuffix;
        await dropHandle(key); // it would hold on to the replaced file
        try {
          const handle = await open(tmp, 'w');
          try {
            await handle.writeFile(copy);
            await handle.sync();
          } finally {
            await handle.close();
          }
          await rename(tmp, file);
        } catch (err) {
          await rm(tmp, { force: true }).catch(() => undefined);
          throw err;
        }
        dirDirty = true;
        present.add(key);
      });
    },
    append: (key, bytes) => {
      const copy = bytes.slice();
      return onKey(key, async (file) => {
        if (!present.has(key)) dirDirty = true;
        const h = await appendHandle(key, file);
        try {
          await h.appendFile(copy);
        } catch (err) {
          await dropHandle(key).catch(() => undefined);
          throw err;
        }
        present.add(key);
      });
    },
    delete: (key) =>
      onKey(key, async (file) => {
        await dropHandle(key);
        await rm(file, { force: true });
        present.delete(key);
        dirDirty = true;
      }),
    async list(prefix = '') {
      if (closed) throw storageClosed();
      await queue.drain(); // the list reflects every call made before it
      let names: string[];
      try {
        names = await readdir(dir);
      } catch (err) {
        if (errnoOf(err) === 'ENOENT') return [];
        throw err;
      }
      return names.filter((n) => isStorageKey(n) && n.startsWith(prefix)).sort();
    },
    sync: (key) =>
      onKey(key, async (file) => {
        const h = handles.get(key);
        try {
          await (h === undefined ? fsync(file, 'r+') : h.sync());
        } catch (err) {
          if (errnoOf(err) !== 'ENOENT') throw err;
        }
        await syncDir();
      }),
    async close() {
      closed = true;
      await queue.drain();
      present.clear();
      const left = [...handles.values()];
      handles.clear();
      await Promise.all(left.map((h) => h.close()));
    },
  };
}
