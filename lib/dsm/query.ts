// What `dsm.query` shows of a semaphore: its holders (a lease's permits as one row) and its waiters.
import { permitsOf, type Lease as OwnerLease, type WaiterInfo } from '../core/semaphore.js';

/** One holder of a semaphore, as `query` shows it. */
export interface HolderState {
  /** The holder's name (`acquire`'s `holder`, or a `post`'s holder). */
  readonly holder: string;
  /** The first characters of the lease's secret key (empty for a `post`): enough to tell leases apart, not to release one. */
  readonly lease: string;
  readonly token: number;
  readonly permits: number;
  /** Ms the owner still keeps it. */
  readonly remainingMs: number;
}

/** One waiter of a semaphore, as `query` shows it. */
export interface WaiterState {
  readonly holder: string;
  readonly lease: string;
  /** 0 is the head of the queue. */
  readonly position: number;
  readonly permits: number;
  /** The node the request came from. */
  readonly node: string;
  /** Ms until it stops waiting (null: no deadline). */
  readonly remainingMs: number | null;
}

/** A semaphore as its owner sees it now. */
export interface SemaphoreState {
  readonly id: string;
  readonly n: number;
  readonly holders: readonly HolderState[];
  readonly waiters: readonly WaiterState[];
}

/** Characters of a lease key's secret that `query` shows. */
const shownKeyChars = 6;

/** A lease key `holder~secret` split into its holder and the shown part of its secret; a post's holder as it is. */
export function keyParts(key: string): { holder: string; lease: string } {
  const m = leaseKey.exec(key);
  return m === null ? { holder: key, lease: '' } : { holder: m[1] as string, lease: (m[2] as string).slice(0, shownKeyChars) };
}

const leaseKey = /^(.*)~([0-9a-f]{24})$/;

/** The state of semaphore `id` with limit `n` from its owner's holders and waiters at `now`. */
export function describeSemaphore(id: string, n: number, holders: ReadonlyMap<string, OwnerLease>, waiters: readonly WaiterInfo[], now: number): SemaphoreState {
  return {
    id, n,
    holders: [...holders].map(([key, l]) => ({ ...keyParts(key), token: l.token, permits: permitsOf(l), remainingMs: Math.max(0, l.expiresAt - now) })).sort((a, b) => a.token - b.token),
    waiters: waiters.map((w, position) => ({ ...keyParts(w.key), position, permits: w.permits, node: w.caller, remainingMs: Number.isFinite(w.deadline) ? Math.max(0, w.deadline - now) : null })),
  };
}
