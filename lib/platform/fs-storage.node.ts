// Storage on the file system (Node): one file per key in a directory.
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ClusterluckError, invalidArgument } from '../env/errors.js';
import type { Storage } from '../env/storage.js';
import { checkStorageKey } from '../table/memory-storage.js';

const tmpSuffix = '.tmp';

/**
 * A {@link Storage} whose keys are files in `dir` (created if missing). `write` is atomic
 * (temporary file, fsync, rename); `append` appends; `sync` fsyncs the file.
 */
export function fsStorage(dir: string): Storage {
  if (typeof dir !== 'string' || dir === '') throw invalidArgument('dir', dir, 'a directory path');
  let ready: Promise<unknown> | undefined;
  let closed = false;
  const path = async (key: string): Promise<string> => {
    if (closed) throw new ClusterluckError('NOT_RUNNING', 'storage is closed');
    checkStorageKey(key);
    await (ready ??= mkdir(dir, { recursive: true }));
    return join(dir, key);
  };
  const syncFile = async (file: string): Promise<void> => {
    const handle = await open(file, 'r+').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (handle === undefined) return;
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  };
  return {
    async read(key) {
      const file = await path(key);
      try {
        return new Uint8Array(await readFile(file));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
    },
    async write(key, bytes) {
      const file = await path(key);
      const tmp = file + tmpSuffix;
      const handle = await open(tmp, 'w');
      try {
        await handle.writeFile(bytes);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(tmp, file);
    },
    async append(key, bytes) {
      const handle = await open(await path(key), 'a');
      try {
        await handle.write(bytes);
      } finally {
        await handle.close();
      }
    },
    async delete(key) {
      await rm(await path(key), { force: true });
    },
    async list(prefix = '') {
      if (closed) throw new ClusterluckError('NOT_RUNNING', 'storage is closed');
      const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? [] : Promise.reject(err)));
      return names.filter((n) => n.startsWith(prefix) && !n.endsWith(tmpSuffix)).sort();
    },
    async sync(key) {
      await syncFile(await path(key));
    },
    async close() {
      closed = true;
    },
  };
}
