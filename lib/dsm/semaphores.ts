import { semaphoresMax } from '../constants.js';
import { permitsOf, Semaphores, type AcquireResult, type HolderRecord, type Lease, type SemaphoreChange, type SemaphoreInfo, type SemaphoreSnapshot, type WaiterInfo, type WaiterOutcome, type WaiterRequest } from '../core/semaphore.js';
import type { Clock, TimerHandle } from '../env/clock.js';

export type { SemaphoreInfo, SemaphoreSnapshot } from '../core/semaphore.js';

/** Where owner-side changes go to be persisted; every call is fire-and-forget. */
export interface SemaphoreJournal {
  /** `id` exists with limit `n` and has granted tokens up to `lastToken`. */
  created(id: string, n: number, lastToken: number, cap?: number): void;
  /** `holder` holds `permits` slots of `id` with `token` for `holdMs` from now (on this node's clock, stretched). */
  granted(id: string, holder: string, holdMs: number, token: number, permits: number): void;
  released(id: string, holder: string): void;
  destroyed(id: string, holders: readonly string[]): void;
}

/**
 * A semaphore as the journal stored it: each lease with the time it had when it was last granted or
 * renewed. A restart holds each lease that long again, from its own start: the lease may have been
 * renewed just before the crash, and no clock says how long the node was down (the wall clock may
 * have been stepped meanwhile: fuzz seed 12034). This is the conservative approximation Chubby's
 * new master makes of the sessions its predecessor granted.
 */
export interface JournaledSemaphore {
  readonly id: string;
  readonly n: number;
  readonly lastToken: number;
  /** Slots its holders may hold above a lowered `n`. */
  readonly cap?: number;
  /** `[holder, holdMs, token, permits?]`. */
  readonly leases: readonly HolderRecord[];
}

/** How the owner's queues meet the rest of the server. */
export interface QueueHooks {
  /** What became of each queued waiter (granted leases are journaled before this is called). */
  readonly onWaiter?: (outcome: WaiterOutcome) => void;
  /** Whether this node may grant `id` now (it serves it). */
  readonly mayGrant?: (id: string) => boolean;
  /** The least token a grant made now may carry. */
  readonly base?: () => number;
  /** Every change, after it is journaled (for the server's events). */
  readonly onChange?: (change: SemaphoreChange) => void;
  /** A semaphore's state came in from its previous owner, or went out to its next. */
  readonly onHandoff?: (id: string, direction: 'in' | 'out') => void;
}

/** How often queues held back because this node was not serving their semaphore look again, ms. */
const stalledPollMs = 50;

/**
 * The owner's semaphores: the pure {@link Semaphores} on this node's monotonic clock, one timer for
 * the next expiry, and the journal.
 */
export class SemaphoreStore {
  readonly #clock: Clock;
  readonly #machine: Semaphores;
  #timer: { handle: TimerHandle; at: number } | undefined;
  #poll: TimerHandle | undefined;
  /** Grants (refreshes included), releases by a holder or a destroy, and leases that ran out; they only grow. */
  readonly counts = { grants: 0, releases: 0, expirations: 0 };

  /** `driftMax` is ρ: a slot is kept `timeout·(1+ρ)²` on this clock (see {@link post}). */
  readonly #onHandoff: (id: string, direction: 'in' | 'out') => void;

  constructor(clock: Clock, journal?: SemaphoreJournal, driftMax = 0, hooks: QueueHooks = {}) {
    this.#clock = clock;
    this.#onHandoff = hooks.onHandoff ?? (() => undefined);
    const onChange = (c: SemaphoreChange): void => {
      if (c.type === 'granted') this.counts.grants++;
      else if (c.type === 'released') this.counts[c.expired ? 'expirations' : 'releases']++;
      if (journal !== undefined) {
        switch (c.type) {
          case 'created': journal.created(c.id, c.n, c.lastToken, c.cap); break;
          case 'granted':
            if (c.fresh) journal.created(c.id, c.n, c.lease.token);
            journal.granted(c.id, c.holder, c.lease.expiresAt - this.#clock.now(), c.lease.token, permitsOf(c.lease));
            break;
          case 'released': journal.released(c.id, c.holder); break;
          case 'destroyed': journal.destroyed(c.id, c.holders); break;
        }
      }
      hooks.onChange?.(c);
    };
    this.#machine = new Semaphores({ max: semaphoresMax, stretch: (1 + driftMax) ** 2, ...hooks, onChange });
  }

  /** Semaphores held. */
  get size(): number {
    return this.#machine.size;
  }

  /** Creates `id` with limit `n`; a no-op for the same `n`, ALREADY_EXISTS for another. */
  create(id: string, n: number): void {
    this.#machine.create(id, n, this.#clock.now());
    this.#arm();
  }

  /** The limit and active holders of `id`; NOT_FOUND when unknown. */
  read(id: string): SemaphoreInfo {
    const info = this.#machine.read(id, this.#clock.now());
    this.#arm(); // reading lets what ran out go, and the room freed goes to the waiters
    return info;
  }

  /** Drops `id` with all its holders; unknown ids are fine. */
  destroy(id: string): void {
    this.#machine.destroy(id, this.#clock.now());
    this.#arm();
  }

  /**
   * Grants `holder` a lease of `timeoutMs` if it already holds (refreshed, same token) or fewer
   * than `n` hold; its token is at least `base`. @returns the lease, or undefined when full.
   *
   * The slot is kept for `timeoutMs·(1+ρ)²` on this node's clock: the client believes for
   * `timeoutMs` on its own clock from before this node received the post, and either clock may run
   * up to (1+ρ) away from real time, so a fast owner clock must not free the slot while a slow
   * client clock still believes in it.
   */
  post(id: string, holder: string, timeoutMs: number, base: number, attempt?: string): Lease | undefined {
    const lease = this.#machine.post(id, holder, timeoutMs, this.#clock.now(), base, attempt);
    this.#arm();
    return lease;
  }

  /** A lease for `w.key` now, or a place in the queue (see {@link Semaphores.acquire}). */
  acquire(id: string, w: WaiterRequest, ifAvailable: boolean): AcquireResult {
    const r = this.#machine.acquire(id, w, this.#clock.now(), ifAvailable);
    this.#arm();
    return r;
  }

  /** Grants `w` now, releasing every holder (see {@link Semaphores.steal}). */
  steal(id: string, w: WaiterRequest): { lease: Lease; stolen: string[] } {
    const r = this.#machine.steal(id, w, this.#clock.now());
    this.#arm();
    return r;
  }

  /** Extends every permit of the lease `key` (see {@link Semaphores.renew}). @returns undefined when it holds nothing */
  renew(id: string, key: string, leaseMs: number): Lease | undefined {
    const lease = this.#machine.renew(id, key, leaseMs, this.#clock.now());
    this.#arm();
    return lease;
  }

  /** Ends the lease or the wait `key` (see {@link Semaphores.release}). */
  release(id: string, key: string): boolean {
    const ended = this.#machine.release(id, key, this.#clock.now());
    this.#arm();
    return ended;
  }

  /** Ends the waits of callers no longer in the view. */
  dropCallers(keep: (caller: string) => boolean): void {
    this.#machine.dropCallers(keep, this.#clock.now());
    this.#arm();
  }

  /** The holders of `id` with their leases (expiry on this node's monotonic clock). */
  holders(id: string): ReadonlyMap<string, Lease> {
    const holders = this.#machine.holders(id, this.#clock.now());
    this.#arm();
    return holders;
  }

  /** The waiters of `id`, head first (deadlines on this node's monotonic clock). */
  waiters(id: string): WaiterInfo[] {
    const waiters = this.#machine.waiters(id, this.#clock.now());
    this.#arm();
    return waiters;
  }

  /** Releases `holder`'s lease (only the one `attempt` granted, when given); not holding is not an error, an unknown semaphore is NOT_FOUND (as in Clusterluck). */
  close(id: string, holder: string, attempt?: string): void {
    this.#machine.close(id, holder, this.#clock.now(), attempt);
    this.#arm();
  }

  /** Restores a semaphore and its leases from storage, each lease held for its stored time from now (see {@link JournaledSemaphore}). */
  restore(s: JournaledSemaphore): void {
    const now = this.#clock.now();
    this.#machine.restore(s.id, { n: s.n, lastToken: s.lastToken, ...(s.cap === undefined ? {} : { cap: s.cap }), leases: s.leases.map((l): HolderRecord => [l[0], now + l[1], l[2], permitsOf(l)]) }, now);
    this.#arm();
  }

  /** Every semaphore id, for inspection. */
  ids(): IterableIterator<string> {
    return this.#machine.ids();
  }

  /** The state of `id` to hand to its next owner (holders with the time they still have), or undefined. */
  snapshot(id: string): SemaphoreSnapshot | undefined {
    const state = this.#machine.snapshot(id, this.#clock.now());
    this.#arm();
    return state;
  }

  /** Changes the limit of `id` (see {@link Semaphores.setLimit}). */
  setLimit(id: string, n: number): void {
    this.#machine.setLimit(id, n, this.#clock.now());
    this.#arm();
  }

  /** Installs the state a previous owner handed over (see {@link Semaphores.merge}); journaled like grants. */
  install(id: string, state: SemaphoreSnapshot): void {
    this.#machine.merge(id, state, this.#clock.now());
    this.#arm();
    this.#onHandoff(id, 'in');
  }

  /** Forgets `id` after its next owner took it over (journaled as a destroy, so a restart does not bring it back). */
  handedOver(id: string): void {
    this.#machine.handedOver(id);
    this.#onHandoff(id, 'out');
  }

  /** Cancels the timer and forgets all state (storage is left alone). */
  clear(): void {
    if (this.#timer !== undefined) this.#clock.cancelTimer(this.#timer.handle);
    this.#timer = undefined;
    if (this.#poll !== undefined) this.#clock.cancelTimer(this.#poll);
    this.#poll = undefined;
    this.#machine.clear();
  }

  /**
   * One timer, for the next lease or wait to end: it lets what is over go (and journals it). While
   * a queue waits for this node to serve its semaphore again, a second timer looks every
   * {@link stalledPollMs}.
   */
  #arm(): void {
    if (this.#machine.stalled && this.#poll === undefined) {
      this.#poll = this.#clock.setTimer(stalledPollMs, () => {
        this.#poll = undefined;
        this.#machine.pump(this.#clock.now());
        this.#arm();
      });
    }
    const at = this.#machine.nextExpiry();
    if (at === undefined || (this.#timer !== undefined && this.#timer.at <= at)) return;
    if (this.#timer !== undefined) this.#clock.cancelTimer(this.#timer.handle);
    const handle = this.#clock.setTimer(Math.max(0, at - this.#clock.now()), () => {
      this.#timer = undefined;
      // The timer was for `at`: what ends then ends now, even when the clock reads a rounding
      // error short of it (a timer for that sliver would fire at once, for ever: fuzz seed 6369,
      // a drifted simulated clock).
      this.#machine.expire(Math.max(this.#clock.now(), at));
      this.#arm();
    });
    this.#timer = { handle, at };
  }
}
