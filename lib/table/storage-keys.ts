// What every Storage backend shares: the key rule, the closed error, and per-key ordering.
import { storageKeyLengthMax } from '../constants.js';
import { ClusterluckError, invalidArgument } from '../env/errors.js';

const keyPattern = /^[A-Za-z0-9._-]+$/;

/**
 * True when `key` is a flat storage key: 1 to {@link storageKeyLengthMax} characters of
 * `[A-Za-z0-9._-]`, and not `.` or `..` (which name directories, not files, on disk).
 */
export function isStorageKey(key: unknown): key is string {
  return typeof key === 'string' && key.length <= storageKeyLengthMax && keyPattern.test(key) && key !== '.' && key !== '..';
}

/** Throws INVALID_ARGUMENT unless `key` is a flat storage key (see {@link isStorageKey}). */
export function checkStorageKey(key: unknown): string {
  if (!isStorageKey(key)) {
    throw invalidArgument('key', key, `a name of 1 to ${storageKeyLengthMax} characters from [A-Za-z0-9._-], not "." or ".."`);
  }
  return key;
}

/** The NOT_RUNNING error of a closed storage. */
export function storageClosed(): ClusterluckError {
  return new ClusterluckError('NOT_RUNNING', 'storage is closed');
}

/** Runs tasks one at a time per key, in call order; tasks on different keys may overlap. */
export interface KeyedQueue {
  /** Queues `task` behind every earlier task on `key`. */
  run<T>(key: string, task: () => Promise<T>): Promise<T>;
  /** Resolves once every task queued so far, on any key, has settled. */
  drain(): Promise<void>;
}

/**
 * A {@link KeyedQueue}. Backends whose operations can finish out of order (libuv's thread pool,
 * separate IndexedDB transactions) use it so that un-awaited calls on one key keep their order.
 */
export function keyedQueue(): KeyedQueue {
  const tails = new Map<string, Promise<unknown>>();
  return {
    run<T>(key: string, task: () => Promise<T>): Promise<T> {
      const result = (tails.get(key) ?? Promise.resolve()).then(task);
      const tail = result.then(
        () => undefined,
        () => undefined,
      );
      tails.set(key, tail);
      // The map holds only keys with work in flight.
      void tail.then(() => {
        if (tails.get(key) === tail) tails.delete(key);
      });
      return result;
    },
    async drain(): Promise<void> {
      while (tails.size > 0) await Promise.all(tails.values());
    },
  };
}
