import { semaphoresMax } from '../constants.js';
import type { Clock, TimerHandle } from '../env/clock.js';
import { ClusterluckError, show } from '../env/errors.js';

/** What a semaphore looks like from outside: its limit and how many hold it now. */
export interface SemaphoreInfo {
  readonly n: number;
  readonly active: number;
}

/** Where owner-side changes go to be persisted; every call is fire-and-forget. */
export interface SemaphoreJournal {
  created(id: string, n: number): void;
  granted(id: string, holder: string, expiresWallMs: number): void;
  released(id: string, holder: string): void;
  destroyed(id: string, holders: readonly string[]): void;
}

interface Lease {
  timer: TimerHandle;
  expiresWallMs: number;
  /** When the slot frees, on this node's monotonic clock. */
  expiresMs: number;
}

/** A semaphore as one owner hands it to the next: its limit and each holder's remaining time. */
export interface SemaphoreState {
  readonly n: number;
  /** `[holder, ms this owner would still keep the slot]`. */
  readonly holders: readonly (readonly [string, number])[];
}

interface Semaphore {
  readonly n: number;
  /** Created on first grant: most idle semaphores never pay for a Map. */
  holders: Map<string, Lease> | undefined;
}

/**
 * The owner's semaphores. Leases are timed on this node's monotonic clock; the wall-clock expiry
 * is kept only so a restart can restore the time that remains. State lives in Maps, so any
 * string is an ordinary id.
 */
export class SemaphoreStore {
  readonly #clock: Clock;
  readonly #journal: SemaphoreJournal | undefined;
  readonly #semaphores = new Map<string, Semaphore>();
  /** (1+ρ)²: a slot is kept this much longer than asked, on this node's clock (see {@link post}). */
  readonly #stretch: number;

  constructor(clock: Clock, journal?: SemaphoreJournal, driftMax = 0) {
    this.#clock = clock;
    this.#journal = journal;
    this.#stretch = (1 + driftMax) ** 2;
  }

  /** Semaphores held. */
  get size(): number {
    return this.#semaphores.size;
  }

  /** Creates `id` with limit `n`; a no-op for the same `n`, ALREADY_EXISTS for another. */
  create(id: string, n: number): void {
    const existing = this.#semaphores.get(id);
    if (existing !== undefined) {
      if (existing.n === n) return;
      throw new ClusterluckError('ALREADY_EXISTS', `semaphore ${show(id)} exists with n=${existing.n}, not ${n}`);
    }
    if (this.#semaphores.size >= semaphoresMax) {
      throw new ClusterluckError('QUEUE_FULL', `this node already owns ${semaphoresMax} semaphores`);
    }
    this.#semaphores.set(id, { n, holders: undefined });
    this.#journal?.created(id, n);
  }

  /** The limit and active holders of `id`; NOT_FOUND when unknown. */
  read(id: string): SemaphoreInfo {
    const s = this.#get(id);
    return { n: s.n, active: s.holders?.size ?? 0 };
  }

  /** Drops `id` with all its holders and timers; unknown ids are fine. */
  destroy(id: string): void {
    this.#drop(id, true);
  }

  #drop(id: string, journal: boolean): void {
    const s = this.#semaphores.get(id);
    if (s === undefined) return;
    this.#semaphores.delete(id);
    const holders = [...(s.holders?.keys() ?? [])];
    for (const lease of s.holders?.values() ?? []) this.#clock.cancelTimer(lease.timer);
    if (journal) this.#journal?.destroyed(id, holders);
    else for (const h of holders) this.#journal?.released(id, h);
  }

  /**
   * Grants `holder` a lease of `timeoutMs` if it already holds (the lease is refreshed to the new
   * timeout) or fewer than `n` hold. @returns whether it was granted.
   *
   * The slot is kept for `timeoutMs·(1+ρ)²` on this node's clock: the client believes for
   * `timeoutMs` on its own clock from before this node received the post, and either clock may run
   * up to (1+ρ) away from real time, so a fast owner clock must not free the slot while a slow
   * client clock still believes in it.
   */
  post(id: string, holder: string, timeoutMs: number): boolean {
    const s = this.#get(id);
    const holders = (s.holders ??= new Map());
    const lease = holders.get(holder);
    if (lease === undefined && holders.size >= s.n) return false;
    if (lease !== undefined) this.#clock.cancelTimer(lease.timer);
    const keepMs = timeoutMs * this.#stretch;
    this.#lease(id, s, holders, holder, keepMs, this.#clock.wallNow() + keepMs);
    return true;
  }

  /** Releases `holder`'s lease; not holding is not an error, an unknown semaphore is NOT_FOUND (as in Clusterluck). */
  close(id: string, holder: string): void {
    const s = this.#get(id);
    const lease = s.holders?.get(holder);
    if (lease === undefined) return;
    this.#clock.cancelTimer(lease.timer);
    this.#release(id, s, holder);
  }

  /** Restores a semaphore and its leases from storage; leases already over are dropped. */
  restore(id: string, n: number, leases: Iterable<readonly [string, number]>): void {
    const s: Semaphore = { n, holders: undefined };
    this.#semaphores.set(id, s);
    const nowWall = this.#clock.wallNow();
    for (const [holder, expiresWallMs] of leases) {
      const remaining = expiresWallMs - nowWall;
      if (remaining <= 0) this.#journal?.released(id, holder);
      else this.#lease(id, s, (s.holders ??= new Map()), holder, remaining, expiresWallMs, false);
    }
  }

  /** Every semaphore id, for inspection. */
  ids(): IterableIterator<string> {
    return this.#semaphores.keys();
  }

  /** The state of `id` to hand to its next owner (holders with the time they still have), or undefined. */
  snapshot(id: string): SemaphoreState | undefined {
    const s = this.#semaphores.get(id);
    if (s === undefined) return undefined;
    const now = this.#clock.now();
    const holders: [string, number][] = [];
    for (const [holder, lease] of s.holders ?? []) if (lease.expiresMs > now) holders.push([holder, lease.expiresMs - now]);
    return { n: s.n, holders };
  }

  /**
   * Installs the state a previous owner handed over, replacing what this node had of `id` (the
   * previous owner's is the newer). Each holder keeps its slot `remaining·(1+ρ)²` on this clock
   * (the two clocks may differ by that much). Journaled like grants. At most `n` holders: the
   * previous owner never held more.
   */
  install(id: string, state: SemaphoreState): void {
    if (state.holders.length > state.n) throw new ClusterluckError('INVALID_ARGUMENT', `handoff of ${show(id)} has ${state.holders.length} holders for n=${state.n}`);
    if (this.#semaphores.has(id)) this.#drop(id, false);
    else if (this.#semaphores.size >= semaphoresMax) throw new ClusterluckError('QUEUE_FULL', `this node already owns ${semaphoresMax} semaphores`);
    const s: Semaphore = { n: state.n, holders: undefined };
    this.#semaphores.set(id, s);
    this.#journal?.created(id, state.n);
    for (const [holder, remainingMs] of state.holders) {
      const keepMs = remainingMs * this.#stretch;
      this.#lease(id, s, (s.holders ??= new Map()), holder, keepMs, this.#clock.wallNow() + keepMs);
    }
  }

  /** Forgets `id` after its next owner took it over (journaled as a destroy, so a restart does not bring it back). */
  handedOver(id: string): void {
    this.#drop(id, true);
  }

  /** Cancels every lease timer and forgets all state (storage is left alone). */
  clear(): void {
    for (const s of this.#semaphores.values()) for (const lease of s.holders?.values() ?? []) this.#clock.cancelTimer(lease.timer);
    this.#semaphores.clear();
  }

  #get(id: string): Semaphore {
    const s = this.#semaphores.get(id);
    if (s === undefined) throw new ClusterluckError('NOT_FOUND', `semaphore ${show(id)} does not exist`);
    return s;
  }

  #lease(id: string, s: Semaphore, holders: Map<string, Lease>, holder: string, ms: number, expiresWallMs: number, journal = true): void {
    const timer = this.#clock.setTimer(ms, () => {
      if (this.#semaphores.get(id) === s && holders.get(holder)?.timer === timer) this.#release(id, s, holder);
    });
    holders.set(holder, { timer, expiresWallMs, expiresMs: this.#clock.now() + ms });
    if (journal) this.#journal?.granted(id, holder, expiresWallMs);
  }

  #release(id: string, s: Semaphore, holder: string): void {
    s.holders?.delete(holder);
    if (s.holders?.size === 0) s.holders = undefined;
    this.#journal?.released(id, holder);
  }
}
