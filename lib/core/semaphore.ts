// The semaphores one owner serves, as a pure state machine: no timers, no clock, no storage. Every
// method takes `now` (the owner's monotonic ms) and first lets the leases that are over at `now`
// go. What changes is told to `onChange` (the server journals it), and the caller arms one timer
// for `nextExpiry()`.
//
// Fencing tokens: every new grant gets a token greater than any token granted before for that
// semaphore, by any owner in any view. A token is `view · tokenSpan + k`: the counter carries on
// from the last token (kept with the semaphore, on disk and in a handoff) and never starts below
// the current view's base, so an owner that took a semaphore over without its state (after the
// lock-delay, in a later view) still grants larger tokens than every earlier owner did, as long as
// no owner granted `tokenSpan` tokens of one semaphore within one view (it refuses to).
//
// Waiters (`acquire`): a request that finds no room queues at the owner in arrival order, and a
// slot that frees goes to the head of the queue at once (pushed, told through `onWaiter`); nobody
// overtakes the head, not even a seed-API post (a k-permit head waits for k free slots). A lease
// holds `permits` slots (a post one): the bound is "slots held ≤ n". The queue is not handed
// over with the semaphore (at most {@link handedWaitersMax}, head first): the old owner ends its
// waiters (`moved`), their callers ask the new owner with the same key, and find their place kept.
//
// Over 300 lines on purpose: leases and the queue share every transition (a release is a grant to
// the head), and one place keeps "slots held ≤ n" checkable.
import { ClusterluckError, show } from '../env/errors.js';
import { byAt, MinHeap } from './min-heap.js';

/** Tokens one view may grant per semaphore. */
export const tokenSpan = 2 ** 32;
/** The largest view number whose tokens are safe integers. */
export const tokenViewMax = Math.floor(Number.MAX_SAFE_INTEGER / tokenSpan) - 1;

/** The least token a grant in view `number` may carry. */
export function tokenBase(number: number): number {
  if (!(Number.isSafeInteger(number) && number >= 0 && number <= tokenViewMax)) {
    throw new ClusterluckError('INTERNAL', `view number ${number} is beyond the fencing tokens' range (at most ${tokenViewMax})`);
  }
  return number * tokenSpan;
}

/** One holder's slot. */
export interface Lease {
  readonly token: number;
  /** When the slot frees, on the owner's monotonic clock. */
  readonly expiresAt: number;
  /** The post attempt that granted or last refreshed it, when the caller named one (not kept by a handoff or a restart). */
  readonly attempt?: string;
  /** Slots it holds. @default 1 */
  readonly permits?: number;
}

/** A holder as handed over or stored: `[holder, ms or expiry, token, permits (absent: 1)]`. */
export type HolderRecord = readonly [string, number, number, number?];

/** The slots a holder record or lease takes. */
export function permitsOf(x: HolderRecord | Lease): number {
  return (Array.isArray(x) ? (x as HolderRecord)[3] : (x as Lease).permits) ?? 1;
}

/** What a semaphore looks like from outside: its limit and how many hold it now. */
export interface SemaphoreInfo {
  readonly n: number;
  readonly active: number;
}

/** A semaphore as one owner hands it to the next. */
export interface SemaphoreSnapshot {
  readonly n: number;
  /** The largest token granted so far, or taken by a change of `n` (0: none). */
  readonly lastToken: number;
  /** Slots its holders may hold, when above `n`: they were granted before `n` was lowered. */
  readonly cap?: number;
  /** `[holder, ms the sender would still keep the slot, token, permits?]`. */
  readonly holders: readonly HolderRecord[];
  /** Its queue, head first: `[key, caller, permits, leaseMs, ms it still waits or null]`. */
  readonly waiters?: readonly WaiterRecord[];
}

/** A waiter as handed over: `[key, caller, permits, leaseMs, ms it still waits (null: no deadline)]`. */
export type WaiterRecord = readonly [string, string, number, number, number | null];

/** Most waiters of one semaphore a handoff carries; those behind them ask the new owner afresh. */
export const handedWaitersMax = 256;

/** A semaphore as stored: its holders' expiries are on the restoring owner's clock. */
export interface StoredSemaphoreState {
  readonly n: number;
  readonly lastToken: number;
  /** As {@link SemaphoreSnapshot.cap}. */
  readonly cap?: number;
  /** `[holder, expiresAt, token, permits?]`. */
  readonly leases: readonly HolderRecord[];
}

/** A request waiting at the owner for room. */
export interface WaiterRequest {
  /** The lease's key (the caller's secret): the holder its permits are held under. */
  readonly key: string;
  /** The node the request came from (its waiters go when it leaves the view). */
  readonly caller: string;
  readonly permits: number;
  /** The lease it asks for, ms (stretched like a post's). */
  readonly leaseMs: number;
  /** Until when it waits, on the owner's clock (Infinity: until granted, cancelled or moved). */
  readonly deadline: number;
}

/** Why a waiter stopped waiting without a grant. */
export type WaiterEndReason = 'timeout' | 'cancelled' | 'destroyed' | 'moved' | 'left' | 'limit';

/** What became of a waiter, told once per queued request. */
export type WaiterOutcome =
  | { readonly type: 'granted'; readonly id: string; readonly key: string; readonly lease: Lease }
  | { readonly type: 'ended'; readonly id: string; readonly key: string; readonly reason: WaiterEndReason };

/** What {@link Semaphores.acquire} did at once. */
export type AcquireResult =
  | { readonly state: 'granted'; readonly lease: Lease }
  /** Queued (or already queued: its position kept, its deadline updated); its outcome comes through `onWaiter`. */
  | { readonly state: 'queued'; readonly position: number }
  /** `ifAvailable` and no room now. */
  | { readonly state: 'unavailable' };

/** A waiter as {@link Semaphores.waiters} shows it. */
export interface WaiterInfo {
  readonly key: string;
  readonly caller: string;
  readonly permits: number;
  readonly deadline: number;
}

/** A change, as the journal needs it. */
export type SemaphoreChange =
  /** Created, or its `n` changed (`cap`: the slots its holders still hold above a lowered `n`). */
  | { readonly type: 'created'; readonly id: string; readonly n: number; readonly lastToken: number; readonly cap?: number }
  | { readonly type: 'granted'; readonly id: string; readonly holder: string; readonly lease: Lease; readonly n: number; readonly fresh: boolean }
  /** `expired`: its time ran out (here, or while the owner was down), rather than being given back, stolen or replaced. */
  | { readonly type: 'released'; readonly id: string; readonly holder: string; readonly expired: boolean }
  | { readonly type: 'destroyed'; readonly id: string; readonly holders: readonly string[] };

interface Semaphore {
  /** Its key in the owner's map (the leases' heap entries find it by this). */
  readonly id: string;
  n: number;
  /** Slots its holders may hold: `n`, or more while holders granted before `n` was lowered hold them. */
  cap: number;
  /**
   * The last fencing token minted, or null before the first. Not 0: V8 stores a field that has
   * only held small integers in place, but once this field has held a token in any semaphore
   * (tokens pass 2^31 from view 1 on), it boxes the field in every semaphore made afterwards: 16
   * bytes each, even at 0. A field that has held null is never boxed (only a token is).
   */
  lastToken: number | null;
  /**
   * Its holders: none, the one lease (which names its holder), or a Map once two hold. Most
   * semaphores have at most one holder and never pay for a Map.
   */
  holders: Map<string, HeldLease> | HeldLease | undefined;
  /** Slots held: the holders' permits. */
  used: number;
  /** Waiters in arrival order; created on the first. */
  queue: Waiter[] | undefined;
}

interface Waiter extends WaiterRequest {
  deadline: number;
  /** Still in its semaphore's queue (heap entries of waiters that left are skipped). */
  queued: boolean;
}

/**
 * A lease as the owner keeps it, which is also its own entry in the deadline heap: no second object
 * per holder. What the heap needs (its semaphore and holder) is private, so the lease looks to
 * callers as a plain {@link Lease}.
 */
class HeldLease implements Lease {
  readonly token: number;
  readonly expiresAt: number;
  declare readonly attempt?: string;
  declare readonly permits?: number;
  readonly #semaphore: Semaphore;
  readonly #holder: string;

  constructor(semaphore: Semaphore, holder: string, token: number, expiresAt: number, permits: number, attempt: string | undefined) {
    this.token = token;
    this.expiresAt = expiresAt;
    if (attempt !== undefined) this.attempt = attempt;
    if (permits !== 1) this.permits = permits;
    this.#semaphore = semaphore;
    this.#holder = holder;
  }

  static semaphore(l: HeldLease): Semaphore {
    return l.#semaphore;
  }

  static holder(l: HeldLease): string {
    return l.#holder;
  }
}

const byExpiry = (a: HeldLease, b: HeldLease): boolean => a.expiresAt < b.expiresAt;

/** The lease `holder` holds of `s`, if any. */
function leaseOf(s: Semaphore, holder: string): HeldLease | undefined {
  const h = s.holders;
  if (h instanceof Map) return h.get(holder);
  return h !== undefined && HeldLease.holder(h) === holder ? h : undefined;
}

/** How many hold `s`. */
function holderCount(s: Semaphore): number {
  const h = s.holders;
  return h instanceof Map ? h.size : h === undefined ? 0 : 1;
}

/** The holders of `s` with their leases, in the order they first took a slot (as a Map keeps them). */
function holderMap(s: Semaphore): Map<string, HeldLease> {
  const h = s.holders;
  return h instanceof Map ? h : new Map(h === undefined ? [] : [[HeldLease.holder(h), h]]);
}

/** Puts `lease` in for its holder (in its place, if it held before). */
function putLease(s: Semaphore, lease: HeldLease): void {
  const h = s.holders;
  if (h instanceof Map) h.set(HeldLease.holder(lease), lease);
  else if (h === undefined || HeldLease.holder(h) === HeldLease.holder(lease)) s.holders = lease;
  else s.holders = new Map([[HeldLease.holder(h), h], [HeldLease.holder(lease), lease]]);
}

/** Takes `holder`'s lease out of `s` (back to no Map when one is left). */
function dropLease(s: Semaphore, holder: string): void {
  const h = s.holders;
  if (!(h instanceof Map)) {
    if (h !== undefined && HeldLease.holder(h) === holder) s.holders = undefined;
    return;
  }
  h.delete(holder);
  if (h.size <= 1) s.holders = h.values().next().value;
}

interface WaiterDue {
  readonly at: number;
  readonly id: string;
  readonly waiter: Waiter;
}

/** Options of {@link Semaphores}. */
export interface SemaphoresOptions {
  /** How many semaphores may exist at once (QUEUE_FULL beyond). */
  readonly max: number;
  /** A slot is kept `timeout · stretch` (the drift bound's (1+ρ)²). @default 1 */
  readonly stretch?: number;
  readonly onChange?: (change: SemaphoreChange) => void;
  /** What became of each queued waiter. */
  readonly onWaiter?: (outcome: WaiterOutcome) => void;
  /** Whether this owner may grant `id` now; a queue whose head could be served waits while not (see {@link pump}). @default always */
  readonly mayGrant?: (id: string) => boolean;
  /** The least token a grant made now may carry (see {@link tokenBase}): the base of the view the owner serves in. @default 0 */
  readonly base?: () => number;
  /** Most waiters one semaphore queues (QUEUE_FULL beyond). @default 1024 */
  readonly waitersMax?: number;
}

/** Every semaphore one owner serves, with its holders, their deadlines and fencing tokens. */
export class Semaphores {
  readonly #max: number;
  readonly #stretch: number;
  readonly #onChange: (change: SemaphoreChange) => void;
  readonly #onWaiter: (outcome: WaiterOutcome) => void;
  readonly #mayGrant: (id: string) => boolean;
  readonly #base: () => number;
  readonly #waitersMax: number;
  readonly #semaphores = new Map<string, Semaphore>();
  /** Leases by deadline; entries of leases since refreshed or released are skipped when they surface. */
  readonly #due = new MinHeap<HeldLease>(byExpiry);
  /** Waiters by deadline; entries of waiters that left the queue are skipped. */
  readonly #waiterDue = new MinHeap<WaiterDue>(byAt);
  #leases = 0;
  /** Semaphores whose queue head might fit: served at the end of the operation that freed room. */
  readonly #dirty = new Set<string>();
  /** Semaphores whose queue head fits but that this owner may not grant now (see {@link pump}). */
  readonly #stalled = new Set<string>();

  constructor(opts: SemaphoresOptions) {
    this.#max = opts.max;
    this.#stretch = opts.stretch ?? 1;
    this.#onChange = opts.onChange ?? (() => undefined);
    this.#onWaiter = opts.onWaiter ?? (() => undefined);
    this.#mayGrant = opts.mayGrant ?? (() => true);
    this.#base = opts.base ?? (() => 0);
    this.#waitersMax = opts.waitersMax ?? 1024;
  }

  /** Semaphores held. */
  get size(): number {
    return this.#semaphores.size;
  }

  /** Every semaphore id. */
  ids(): IterableIterator<string> {
    return this.#semaphores.keys();
  }

  /** Creates `id` with limit `n`; a no-op for the same `n`, ALREADY_EXISTS for another. */
  create(id: string, n: number, now: number): void {
    this.expire(now);
    const existing = this.#semaphores.get(id);
    if (existing !== undefined) {
      if (existing.n === n) return;
      throw new ClusterluckError('ALREADY_EXISTS', `semaphore ${show(id)} exists with n=${existing.n}, not ${n}`);
    }
    this.#room();
    this.#semaphores.set(id, { id, n, cap: n, lastToken: null, holders: undefined, used: 0, queue: undefined });
    this.#onChange({ type: 'created', id, n, lastToken: 0 });
  }

  /** The limit and holders of `id` at `now`; NOT_FOUND when unknown. */
  read(id: string, now: number): SemaphoreInfo {
    this.expire(now);
    const s = this.#get(id);
    return { n: s.n, active: s.used };
  }

  /** The holders of `id` at `now` with their leases (with fewer than two, a Map made for the call). */
  holders(id: string, now: number): ReadonlyMap<string, Lease> {
    this.expire(now);
    return holderMap(this.#get(id));
  }

  /** Drops `id` with its holders; an unknown id is fine. */
  destroy(id: string, now: number): void {
    this.expire(now);
    this.#drop(id, 'destroyed');
  }

  /**
   * Changes the limit of `id` to `n` now. Raising it serves the waiters; lowering it revokes
   * nobody: new grants wait until fewer than `n` slots are held, and waiters asking for more than
   * `n` end (`limit`). The change takes a token, so a copy made after it wins a merge against one
   * made before.
   */
  setLimit(id: string, n: number, now: number): void {
    this.expire(now);
    const s = this.#get(id);
    s.lastToken = this.#nextToken(id, s, this.#base());
    s.n = n;
    s.cap = Math.max(n, s.used);
    this.#onChange({ type: 'created', id, n, lastToken: s.lastToken, ...(s.cap > n ? { cap: s.cap } : {}) });
    for (let i = (s.queue?.length ?? 0) - 1; i >= 0; i--) if ((s.queue?.[i] as Waiter).permits > n) this.#unqueue(id, s, i, 'limit');
    this.#dirty.add(id);
    this.#serve(now);
  }

  /**
   * Gives `holder` a slot of `id` for `timeoutMs · stretch` from `now`, if it holds one already (a
   * refresh: it keeps its token) or fewer than `n` hold. A new grant's token is larger than every
   * earlier one and at least `base` (see {@link tokenBase}). @returns the lease, or undefined when full.
   */
  post(id: string, holder: string, timeoutMs: number, now: number, base: number, attempt?: string): Lease | undefined {
    this.expire(now);
    const s = this.#get(id);
    const held = leaseOf(s, holder);
    // Waiters are served first: a post takes a slot only when nobody waits.
    if (held === undefined && (s.used >= s.n || s.queue !== undefined)) return undefined;
    const token = held?.token ?? this.#nextToken(id, s, base);
    const lease = this.#hold(id, s, holder, token, now + timeoutMs * this.#stretch, held?.permits ?? 1, attempt);
    this.#onChange({ type: 'granted', id, holder, lease, n: s.n, fresh: held === undefined });
    return lease;
  }

  /**
   * A lease of `w.permits` slots of `id` for `w.key`: granted now when nobody waits and they fit,
   * else queued behind the waiters there (or, with `ifAvailable`, nothing). Asking again with a key
   * that holds answers with its lease; with a key that waits keeps its place and takes the new
   * deadline (a caller re-sending after a lost answer). A request for more permits than `n` is
   * INVALID_ARGUMENT; beyond `waitersMax` waiters, QUEUE_FULL.
   */
  acquire(id: string, w: WaiterRequest, now: number, ifAvailable = false): AcquireResult {
    this.expire(now);
    const s = this.#get(id);
    const held = leaseOf(s, w.key);
    if (held !== undefined) return { state: 'granted', lease: held };
    this.#checkPermits(id, s, w.permits);
    const queue = s.queue;
    const at = queue?.findIndex((q) => q.key === w.key) ?? -1;
    if (at >= 0) {
      const waiter = queue?.[at] as Waiter;
      waiter.deadline = w.deadline;
      if (Number.isFinite(w.deadline)) this.#waiterDue.push({ at: w.deadline, id, waiter });
      return { state: 'queued', position: at };
    }
    if (queue === undefined && s.used + w.permits <= s.n && this.#mayGrant(id)) {
      return { state: 'granted', lease: this.#grant(id, s, w, now) };
    }
    if (ifAvailable) return { state: 'unavailable' };
    if ((queue?.length ?? 0) >= this.#waitersMax) throw new ClusterluckError('QUEUE_FULL', `${this.#waitersMax} requests already wait for ${show(id)}`);
    const waiter: Waiter = { ...w, queued: true };
    (s.queue ??= []).push(waiter);
    if (Number.isFinite(w.deadline)) this.#waiterDue.push({ at: w.deadline, id, waiter });
    this.#dirty.add(id); // room may be free while this owner could not grant a moment ago
    this.#serve(now);
    return waiter.queued ? { state: 'queued', position: (s.queue?.length ?? 1) - 1 } : { state: 'granted', lease: leaseOf(s, w.key) as Lease };
  }

  /**
   * Grants `w` now whatever holds or waits (the Web Locks API's `steal`): every holder of `id` is
   * released, then `w` gets its permits ahead of the queue, with a token larger than theirs.
   * @returns the lease, and the keys of the holders it took the slots from
   */
  steal(id: string, w: WaiterRequest, now: number): { lease: Lease; stolen: string[] } {
    this.expire(now);
    const s = this.#get(id);
    this.#checkPermits(id, s, w.permits);
    const stolen = [...holderMap(s).keys()];
    for (const h of stolen) this.#release(id, s, h);
    const at = s.queue?.findIndex((q) => q.key === w.key) ?? -1;
    if (at >= 0) this.#unqueue(id, s, at, undefined);
    const lease = this.#grant(id, s, w, now);
    this.#serve(now);
    return { lease, stolen };
  }

  /**
   * Extends the lease `key` of `id` to `leaseMs · stretch` from `now`, every permit, keeping its
   * token. @returns the lease, or undefined when `key` holds nothing (it ran out, or was never granted)
   */
  renew(id: string, key: string, leaseMs: number, now: number): Lease | undefined {
    this.expire(now);
    const s = this.#get(id);
    const held = leaseOf(s, key);
    if (held === undefined) return undefined;
    const lease = this.#hold(id, s, key, held.token, now + leaseMs * this.#stretch, permitsOf(held));
    this.#onChange({ type: 'granted', id, holder: key, lease, n: s.n, fresh: false });
    return lease;
  }

  /**
   * Ends the lease `key` of `id`: its waiter leaves the queue (told `cancelled`), or its permits are
   * released and go to the waiters. An unknown key is fine (a release that crossed the grant, or a
   * repeat); an unknown semaphore is NOT_FOUND. @returns whether it ended anything
   */
  release(id: string, key: string, now: number): boolean {
    this.expire(now);
    const s = this.#get(id);
    let ended = false;
    const at = s.queue?.findIndex((q) => q.key === key) ?? -1;
    if (at >= 0) {
      this.#unqueue(id, s, at, 'cancelled');
      ended = true;
    }
    if (leaseOf(s, key) !== undefined) {
      this.#release(id, s, key);
      ended = true;
    }
    this.#serve(now);
    return ended;
  }

  /** Ends the waiters of callers `keep` rejects (they left the view), told `left`. */
  dropCallers(keep: (caller: string) => boolean, now: number): void {
    this.expire(now);
    for (const [id, s] of this.#semaphores) {
      for (let i = (s.queue?.length ?? 0) - 1; i >= 0; i--) {
        if (!keep((s.queue?.[i] as Waiter).caller)) this.#unqueue(id, s, i, 'left');
      }
    }
    this.#serve(now);
  }

  /** The waiters of `id` at `now`, head first. */
  waiters(id: string, now: number): WaiterInfo[] {
    this.expire(now);
    return (this.#get(id).queue ?? []).map(({ key, caller, permits, deadline }) => ({ key, caller, permits, deadline }));
  }

  /** Semaphores with waiters that could be served but were held back by `mayGrant`. */
  get stalled(): boolean {
    return this.#stalled.size > 0;
  }

  /** Serves the queues held back by `mayGrant` (call when it may have changed). */
  pump(now: number): void {
    for (const id of this.#stalled) this.#dirty.add(id);
    this.#stalled.clear();
    this.expire(now);
  }

  /**
   * Releases `holder`'s slot; not holding is fine, an unknown semaphore is NOT_FOUND. With
   * `attempt` (a caller undoing a post whose answer it did not get), only a lease that attempt
   * granted or last refreshed is released: a late undo never takes a later grant. @returns whether it released.
   */
  close(id: string, holder: string, now: number, attempt?: string): boolean {
    this.expire(now);
    const s = this.#get(id);
    const lease = leaseOf(s, holder);
    if (lease === undefined || (attempt !== undefined && lease.attempt !== attempt)) return false;
    this.#release(id, s, holder);
    this.#serve(now);
    return true;
  }

  /** Lets every lease and every wait that is over at `now` go, and gives the room freed to the waiters. */
  expire(now: number): void {
    for (let d = this.#due.peek(); d !== undefined && d.expiresAt <= now; d = this.#due.peek()) {
      this.#due.pop();
      if (this.#live(d)) this.#release(HeldLease.semaphore(d).id, HeldLease.semaphore(d), HeldLease.holder(d), true);
    }
    for (let d = this.#waiterDue.peek(); d !== undefined && d.at <= now; d = this.#waiterDue.peek()) {
      this.#waiterDue.pop();
      const s = this.#semaphores.get(d.id);
      const at = d.waiter.queued && d.waiter.deadline <= now ? (s?.queue?.indexOf(d.waiter) ?? -1) : -1;
      if (at >= 0) this.#unqueue(d.id, s as Semaphore, at, 'timeout');
    }
    this.#serve(now);
  }

  /** When the next lease or wait ends, or undefined when none does. */
  nextExpiry(): number | undefined {
    let next: number | undefined;
    for (let d = this.#due.peek(); d !== undefined; d = this.#due.peek()) {
      if (this.#live(d)) {
        next = d.expiresAt;
        break;
      }
      this.#due.pop();
    }
    for (let d = this.#waiterDue.peek(); d !== undefined; d = this.#waiterDue.peek()) {
      if (d.waiter.queued && d.waiter.deadline === d.at) return next === undefined ? d.at : Math.min(next, d.at);
      this.#waiterDue.pop();
    }
    return next;
  }

  /** The state of `id` to hand to its next owner, each holder with the time it still has at `now`. */
  snapshot(id: string, now: number): SemaphoreSnapshot | undefined {
    this.expire(now);
    const s = this.#semaphores.get(id);
    if (s === undefined) return undefined;
    const holders: HolderRecord[] = [];
    for (const [holder, lease] of holderMap(s)) holders.push(lease.permits === undefined ? [holder, lease.expiresAt - now, lease.token] : [holder, lease.expiresAt - now, lease.token, lease.permits]);
    const lastToken = s.lastToken ?? 0;
    const state: SemaphoreSnapshot = s.cap > s.n ? { n: s.n, lastToken, holders, cap: s.cap } : { n: s.n, lastToken, holders };
    if (s.queue === undefined) return state;
    const waiters = s.queue.slice(0, handedWaitersMax).map((w): WaiterRecord => [w.key, w.caller, w.permits, w.leaseMs, Number.isFinite(w.deadline) ? Math.max(0, w.deadline - now) : null]);
    return { ...state, waiters };
  }

  /**
   * Installs `id` as stored (a restart): leases over at `now` go. More holders than `n`, or a
   * token above `lastToken`, cannot have been written by this machine: STORAGE_CORRUPT.
   */
  restore(id: string, state: StoredSemaphoreState, now: number): void {
    const used = slots(state.leases);
    const cap = Math.max(state.n, state.cap ?? state.n);
    if (used > cap) {
      throw new ClusterluckError('STORAGE_CORRUPT', `stored semaphore ${show(id)} has ${used} slots held for n=${state.n}${cap > state.n ? ` (at most ${cap} while a lowered n takes effect)` : ''}`);
    }
    const top = Math.max(0, ...state.leases.map((l) => l[2]));
    if (top > state.lastToken) throw new ClusterluckError('STORAGE_CORRUPT', `stored semaphore ${show(id)} has token ${top} above its last token ${state.lastToken}`);
    this.#replace(id, state.n, state.lastToken, false, cap);
    const s = this.#semaphores.get(id) as Semaphore;
    for (const h of state.leases) {
      const [holder, expiresAt, token] = h;
      if (expiresAt > now) this.#hold(id, s, holder, token, expiresAt, permitsOf(h));
      else this.#onChange({ type: 'released', id, holder, expired: true });
    }
    s.cap = Math.max(s.n, s.used); // what a lowered n still allows is what is held now
  }

  /**
   * Installs the state a previous owner handed over. Two copies of one semaphore can meet here (a
   * former owner restored from its disk may send a stale one after the fresh one came), so the
   * copy with the later grant wins: ours when its last token is larger (the incoming one is
   * dropped), the incoming one when its is (ours is replaced, its counter kept, since tokens only
   * grow). With the same last grant, both copies' holders held at that grant (so at most `n`): each
   * keeps the later of its two deadlines. An incoming holder keeps its slot `remaining · stretch`
   * from `now` (the two owners' clocks may differ by that much). More holders than `n` is
   * INVALID_ARGUMENT.
   */
  merge(id: string, state: SemaphoreSnapshot, now: number): void {
    this.expire(now);
    const used = slots(state.holders);
    const cap = Math.max(state.n, state.cap ?? state.n);
    if (used > cap) {
      throw new ClusterluckError('INVALID_ARGUMENT', `handoff of ${show(id)} has ${used} slots held for n=${state.n}${cap > state.n ? ` (cap ${cap})` : ''}`);
    }
    const incoming = Math.max(state.lastToken, ...state.holders.map((h) => h[2]));
    const ours = this.#semaphores.get(id);
    const ourLast = ours?.lastToken ?? 0;
    if (ours !== undefined && ourLast > incoming) return;
    const same = ours !== undefined && ourLast === incoming && ours.n === state.n;
    if (!same) this.#replace(id, state.n, Math.max(ourLast, incoming), true, cap);
    const s = this.#semaphores.get(id) as Semaphore;
    s.cap = Math.max(s.cap, cap);
    for (const h of state.holders) {
      const [holder, remainingMs, token] = h;
      const expiresAt = now + remainingMs * this.#stretch;
      const have = leaseOf(s, holder);
      if (have !== undefined && have.expiresAt >= expiresAt) continue;
      const lease = this.#hold(id, s, holder, token, expiresAt, permitsOf(h));
      this.#onChange({ type: 'granted', id, holder, lease, n: s.n, fresh: false });
    }
    s.cap = Math.max(s.n, s.used);
    // The queue it brings goes behind ours (nobody waits here yet while ownership is moving), each
    // waiter keeping its deadline; its caller asks again with the same key and finds its place.
    for (const [key, caller, permits, leaseMs, remainingMs] of state.waiters ?? []) {
      if (leaseOf(s, key) !== undefined || s.queue?.some((q) => q.key === key) === true || permits > s.n || (s.queue?.length ?? 0) >= this.#waitersMax) continue;
      const waiter: Waiter = { key, caller, permits, leaseMs, deadline: remainingMs === null ? Infinity : now + remainingMs, queued: true };
      (s.queue ??= []).push(waiter);
      if (remainingMs !== null) this.#waiterDue.push({ at: waiter.deadline, id, waiter });
    }
    // The copy replaced may have held slots the waiters here can now take.
    this.#dirty.add(id);
    this.#serve(now);
  }

  /** Forgets `id` (its next owner has it); told as a destroy so a restart does not bring it back. Its waiters end `moved`. */
  handedOver(id: string): void {
    this.#drop(id, 'moved');
  }

  /** Forgets everything, telling nobody (storage keeps what it has; callers of waiters are the server's to tell). */
  clear(): void {
    for (const s of this.#semaphores.values()) for (const w of s.queue ?? []) w.queued = false;
    this.#semaphores.clear();
    this.#due.clear();
    this.#waiterDue.clear();
    this.#dirty.clear();
    this.#stalled.clear();
    this.#leases = 0;
  }

  #checkPermits(id: string, s: Semaphore, permits: number): void {
    if (!(Number.isSafeInteger(permits) && permits >= 1 && permits <= s.n)) {
      throw new ClusterluckError('INVALID_ARGUMENT', `permits must be an integer from 1 to n (${s.n}) of ${show(id)}, got ${show(permits)}`, { fails: { permits: `from 1 to ${s.n}` } });
    }
  }

  #nextToken(id: string, s: Semaphore, base: number): number {
    const token = Math.max((s.lastToken ?? 0) + 1, base);
    if (token - base >= tokenSpan) {
      throw new ClusterluckError('INTERNAL', `semaphore ${show(id)} granted ${tokenSpan} fencing tokens in this view; the next view renews them`);
    }
    s.lastToken = token;
    return token;
  }

  /** Grants `w` its permits now (the caller checked they fit), one token for all of them. */
  #grant(id: string, s: Semaphore, w: WaiterRequest, now: number): Lease {
    const token = this.#nextToken(id, s, this.#base());
    const lease = this.#hold(id, s, w.key, token, now + w.leaseMs * this.#stretch, w.permits);
    this.#onChange({ type: 'granted', id, holder: w.key, lease, n: s.n, fresh: true });
    return lease;
  }

  /** Gives the room freed since the last call to the heads of the queues, in order, where this owner may grant. */
  #serve(now: number): void {
    for (const id of this.#dirty) {
      this.#dirty.delete(id);
      const s = this.#semaphores.get(id);
      const head = s?.queue?.[0];
      if (s === undefined || head === undefined || s.used + head.permits > s.n) continue;
      if (!this.#mayGrant(id)) {
        this.#stalled.add(id);
        continue;
      }
      while (s.queue !== undefined) {
        const w = s.queue[0] as Waiter;
        if (s.used + w.permits > s.n) break;
        this.#unqueue(id, s, 0, undefined);
        const lease = this.#grant(id, s, w, now);
        this.#onWaiter({ type: 'granted', id, key: w.key, lease });
      }
    }
  }

  /** Takes waiter `at` out of `id`'s queue; tells its end unless it is being granted (`reason` undefined). */
  #unqueue(id: string, s: Semaphore, at: number, reason: WaiterEndReason | undefined): void {
    const queue = s.queue as Waiter[];
    const [w] = queue.splice(at, 1) as [Waiter];
    w.queued = false;
    if (queue.length === 0) s.queue = undefined;
    else if (at === 0) this.#dirty.add(id); // a new head may fit
    if (reason !== undefined) this.#onWaiter({ type: 'ended', id, key: w.key, reason });
  }

  #room(): void {
    if (this.#semaphores.size >= this.#max) throw new ClusterluckError('QUEUE_FULL', `this node already owns ${this.#max} semaphores`);
  }

  /** A fresh, empty `id` in place of what was there (whose holders are told released). */
  #replace(id: string, n: number, lastToken: number, tell = true, cap = n): void {
    const old = this.#semaphores.get(id);
    if (old === undefined) this.#room();
    for (const holder of old === undefined ? [] : [...holderMap(old).keys()]) this.#release(id, old as Semaphore, holder);
    const s: Semaphore = { id, n, cap, lastToken, holders: undefined, used: 0, queue: old?.queue };
    this.#semaphores.set(id, s);
    if (tell) this.#onChange({ type: 'created', id, n, lastToken, ...(cap > n ? { cap } : {}) });
    // Under another n, a waiter for more permits than it has would block the queue for good.
    for (let i = (s.queue?.length ?? 0) - 1; i >= 0; i--) if ((s.queue?.[i] as Waiter).permits > n) this.#unqueue(id, s, i, 'moved');
  }

  #get(id: string): Semaphore {
    const s = this.#semaphores.get(id);
    if (s === undefined) throw new ClusterluckError('NOT_FOUND', `semaphore ${show(id)} does not exist`);
    return s;
  }

  #drop(id: string, reason: WaiterEndReason): void {
    const s = this.#semaphores.get(id);
    if (s === undefined) return;
    while (s.queue !== undefined) this.#unqueue(id, s, 0, reason);
    this.#semaphores.delete(id);
    this.#leases -= holderCount(s);
    if (this.#leases < 0) throw new ClusterluckError('INTERNAL', `lease count went negative dropping ${show(id)}`);
    this.#onChange({ type: 'destroyed', id, holders: [...holderMap(s).keys()] });
  }

  #hold(id: string, s: Semaphore, holder: string, token: number, expiresAt: number, permits: number, attempt?: string): Lease {
    const had = leaseOf(s, holder);
    if (had === undefined) this.#leases++;
    s.used += permits - (had === undefined ? 0 : permitsOf(had));
    // Grants take slots only below n; a lowered n lets those who hold keep theirs (cap).
    if (s.used > s.cap) throw new ClusterluckError('INTERNAL', `semaphore ${show(id)} would have ${s.used} slots held for n=${s.n} (cap ${s.cap})`);
    const lease = new HeldLease(s, holder, token, expiresAt, permits, attempt);
    putLease(s, lease);
    // Entries of refreshed and released leases pile up under a steady refresher: rebuild from the live ones.
    if (this.#due.size > 2 * this.#leases + 1024) this.#due.rebuild(this.#liveDue());
    this.#due.push(lease);
    return lease;
  }

  #release(id: string, s: Semaphore, holder: string, expired = false): void {
    const lease = leaseOf(s, holder);
    if (lease === undefined) throw new ClusterluckError('INTERNAL', `released ${show(holder)} of ${show(id)}, which holds nothing`);
    dropLease(s, holder);
    s.used -= permitsOf(lease);
    if (s.cap > s.n) s.cap = Math.max(s.n, s.used);
    this.#leases--;
    if (s.used < 0) throw new ClusterluckError('INTERNAL', `semaphore ${show(id)} has ${s.used} slots held`);
    if (this.#leases < 0) throw new ClusterluckError('INTERNAL', `lease count went negative releasing ${show(holder)} of ${show(id)}`);
    this.#onChange({ type: 'released', id, holder, expired });
    if (s.queue !== undefined) this.#dirty.add(id);
  }

  *#liveDue(): Generator<HeldLease> {
    for (const s of this.#semaphores.values()) for (const lease of holderMap(s).values()) yield lease;
  }

  /** Whether `lease` still holds its slot: its semaphore is the one this owner has under its id, and it is its holder's lease there. */
  #live(lease: HeldLease): boolean {
    const s = HeldLease.semaphore(lease);
    return this.#semaphores.get(s.id) === s && leaseOf(s, HeldLease.holder(lease)) === lease;
  }
}

/** The slots a list of holder records takes. */
function slots(holders: readonly HolderRecord[]): number {
  let used = 0;
  for (const h of holders) used += permitsOf(h);
  return used;
}
