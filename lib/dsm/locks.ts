// The Web Locks API (https://w3c.github.io/web-locks/) across the cluster: `node.locks.request()`
// and `node.locks.query()` with the signatures and semantics of `navigator.locks`, so code written
// for one tab's locks runs against the cluster's. A lock named `x` is the semaphore `locks/x` with
// n = semaphoreLimitMax, created on first use: an exclusive request takes every slot, a shared one
// takes one, and the owner's FIFO queue gives the order between modes (a shared request waits
// behind an exclusive one that asked first). The lock is a lease: it renews itself while the
// callback runs and is released when the callback's promise settles. Beyond navigator.locks, the
// lock carries its fencing `token` and a `signal` that aborts (LEASE_LOST) if the cluster can no
// longer vouch for it, or another request stole it.
import { semaphoreLimitMax } from '../constants.js';
import { ClusterluckError, invalidArgument, show } from '../env/errors.js';
import type { DSMServer } from './dsm-server.js';
import type { Lease } from './lease.js';

/** The prefix of the semaphores behind locks. */
export const lockSemaphorePrefix = 'locks/';

/** A lock's mode. */
export type DistributedLockMode = 'exclusive' | 'shared';

/** Options of {@link DistributedLocks.request}: navigator.locks's, plus `leaseMs`. */
export interface DistributedLockOptions {
  /** @default 'exclusive' */
  readonly mode?: DistributedLockMode;
  /** Grant it only if it is free now; the callback gets `null` otherwise. */
  readonly ifAvailable?: boolean;
  /** Take it from its holders now (exclusive only); their signals abort. */
  readonly steal?: boolean;
  /** Aborting it while waiting rejects the request with its reason and leaves nothing queued. */
  readonly signal?: AbortSignal;
  /** The lease behind the lock, renewed while held, ms. @default 10000 */
  readonly leaseMs?: number;
  /**
   * The longest the request may wait for its answer, ms (TIMEOUT beyond; nothing is left queued).
   * navigator.locks answers `ifAvailable` and `steal` at once, and forbids a `signal` with them;
   * here they cross the network, so they are bounded by this. @default Infinity, and
   * {@link lockAnswerMsDefault} with `ifAvailable` or `steal`
   */
  readonly timeoutMs?: number;
  /** The name `query()` shows as this request's `clientId`. @default this node's id */
  readonly clientId?: string;
}

/** How long an `ifAvailable` or `steal` request waits for its owner's answer unless told. */
export const lockAnswerMsDefault = 10_000;

/** The lock a callback gets. */
export interface DistributedLock {
  readonly name: string;
  readonly mode: DistributedLockMode;
  /** The fencing token: larger than every token granted before for this lock. */
  readonly token: number;
  /** Aborted with LEASE_LOST once this holder can no longer be sure it holds the lock. */
  readonly signal: AbortSignal;
  /** The lease behind the lock (its `remainingMs()`, its `renewed` events). */
  readonly lease: Lease;
}

/** A lock held or requested, as `query()` shows it (navigator.locks's LockInfo). */
export interface DistributedLockInfo {
  readonly name: string;
  readonly mode: DistributedLockMode;
  /** The holder: the requesting node's id. */
  readonly clientId: string;
}

/** What `query()` answers (navigator.locks's LockManagerSnapshot). */
export interface DistributedLockSnapshot {
  readonly held: DistributedLockInfo[];
  readonly pending: DistributedLockInfo[];
}

type Callback<T> = (lock: DistributedLock | null) => T | PromiseLike<T>;

/** `navigator.locks`, for the whole cluster (`node.locks`). */
export class DistributedLocks {
  readonly #dsm: DSMServer;

  constructor(dsm: DSMServer) {
    this.#dsm = dsm;
  }

  /** Requests lock `name` and runs `callback` while holding it; resolves with what the callback returned. */
  request<T>(name: string, callback: Callback<T>): Promise<Awaited<T>>;
  request<T>(name: string, options: DistributedLockOptions, callback: Callback<T>): Promise<Awaited<T>>;
  async request<T>(name: string, a: DistributedLockOptions | Callback<T>, b?: Callback<T>): Promise<Awaited<T>> {
    const [options, callback] = typeof a === 'function' ? [{}, a] : [a, b];
    if (typeof callback !== 'function') throw new TypeError('locks.request: the callback must be a function');
    if (typeof name !== 'string') throw invalidArgument('name', name, 'a string');
    if (name.startsWith('-')) throw new DOMException(`lock names starting with "-" are reserved, got ${show(name)}`, 'NotSupportedError');
    if (typeof options !== 'object' || options === null) throw invalidArgument('options', options, 'an object');
    const mode = options.mode ?? 'exclusive';
    if (mode !== 'exclusive' && mode !== 'shared') throw new TypeError(`locks.request: mode must be 'exclusive' or 'shared', got ${show(mode)}`);
    if (options.steal === true && options.ifAvailable === true) throw new DOMException('steal and ifAvailable cannot both be true', 'NotSupportedError');
    if (options.steal === true && mode !== 'exclusive') throw new DOMException('steal needs mode exclusive', 'NotSupportedError');
    if (options.signal !== undefined && (options.steal === true || options.ifAvailable === true)) throw new DOMException('signal cannot be used with steal or ifAvailable', 'NotSupportedError');
    if (options.signal?.aborted === true) throw options.signal.reason;
    const lease = await this.#dsm.acquire(lockSemaphorePrefix + name, {
      limit: semaphoreLimitMax,
      permits: mode === 'exclusive' ? semaphoreLimitMax : 1,
      ...(options.ifAvailable === true ? { ifAvailable: true } : {}),
      ...(options.steal === true ? { steal: true } : {}),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      ...(options.leaseMs === undefined ? {} : { leaseMs: options.leaseMs }),
      ...(options.clientId === undefined ? {} : { holder: options.clientId }),
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : options.ifAvailable === true || options.steal === true ? { timeoutMs: lockAnswerMsDefault } : {}),
    });
    if (lease === null) return await callback(null);
    // As navigator.locks does, a stolen lock's request rejects at once with an AbortError (its
    // callback runs on; its signal has aborted).
    let onAbort: (() => void) | undefined;
    const stolen = new Promise<never>((_, reject) => {
      onAbort = () => {
        if (lease.stolen) reject(new DOMException(`lock ${show(name)} was stolen`, 'AbortError'));
      };
      lease.signal.addEventListener('abort', onAbort, { once: true });
    });
    stolen.catch(() => undefined);
    try {
      return await Promise.race([Promise.resolve().then(() => callback(lockOf(name, mode, lease))), stolen]);
    } finally {
      if (onAbort !== undefined) lease.signal.removeEventListener('abort', onAbort);
      await lease.release();
    }
  }

  /** The locks held and requested across the cluster now, as each member's owned semaphores show them. */
  async query(): Promise<DistributedLockSnapshot> {
    const held: DistributedLockInfo[] = [];
    const pending: DistributedLockInfo[] = [];
    for (const s of await this.#dsm.queryAll()) {
      if (!s.id.startsWith(lockSemaphorePrefix)) continue;
      const name = s.id.slice(lockSemaphorePrefix.length);
      const modeOf = (permits: number): DistributedLockMode => (permits === s.n ? 'exclusive' : 'shared');
      for (const h of s.holders) held.push({ name, mode: modeOf(h.permits), clientId: h.holder });
      for (const w of s.waiters) pending.push({ name, mode: modeOf(w.permits), clientId: w.holder });
    }
    return { held, pending };
  }
}

function lockOf(name: string, mode: DistributedLockMode, lease: Lease): DistributedLock {
  if (lease.permits !== (mode === 'exclusive' ? semaphoreLimitMax : 1)) throw new ClusterluckError('INTERNAL', `lock ${show(name)} granted ${lease.permits} slots for mode ${mode}`);
  return { name, mode, token: lease.token, signal: lease.signal, lease };
}
