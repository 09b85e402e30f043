// A lease as its holder sees it (`dsm.acquire`): what it may believe, and for how long.
//
// The holder believes it holds until `sent + leaseMs` on both of its clocks, where `sent` is when it
// sent the request that granted or last renewed the lease: the owner granted (or renewed) after
// it received that request and keeps the slot `leaseMs·(1+ρ)²` from then on its own clock, so it
// frees the slot only after the holder has stopped believing (the argument of `post`). With
// `refresh` the lease renews itself when half of that time is left; the moment the holder can no
// longer be sure (the time ran out before a renewal came back, or the owner answered that it holds
// nothing) `signal` aborts with LEASE_LOST. A lease is released only through this object: its key
// is a secret of the caller (holder-only release).
import type { Clock, TimerHandle } from '../env/clock.js';
import { ClusterluckError, isClusterluckError, show } from '../env/errors.js';
import { TypedEventTarget } from '../env/events.js';
import type { Logger } from '../env/logger.js';

/** Events of a {@link Lease}, on `lease.events` (its loss is on `lease.signal`). */
export interface LeaseEvents {
  /** A renewal came back: it now holds until `expiresAt` (caller's wall clock). */
  renewed: CustomEvent<{ readonly expiresAt: number }>;
}

/** What a {@link Lease} needs of the server that granted it. */
export interface LeaseHost {
  readonly clock: Clock;
  readonly logger: Logger;
  /** Renews the lease at its owner, answered within `reqTimeoutMs`: its token, or false when the owner holds nothing for it. */
  renew(leaseMs: number, reqTimeoutMs: number): Promise<number | false>;
  /** Releases the lease (and any wait under its key) at its owner; resolves once the owner answered or gave up. */
  release(): Promise<void>;
  /** Called once when the lease ends here (released or lost). */
  ended?(): void;
  /** Called once if it is lost, with the LEASE_LOST error its signal aborts with. */
  lost?(reason: Error): void;
}

/** Until when, on the caller's two clocks, it may believe it holds. */
export interface Belief {
  readonly mono: number;
  readonly wall: number;
}

/** A belief of `leaseMs` from now, on both clocks of `clock`. */
export function beliefFrom(clock: Clock, leaseMs: number): Belief {
  return { mono: clock.now() + leaseMs, wall: clock.wallNow() + leaseMs };
}

/** One or more permits of a semaphore, held until released or lost. */
export class Lease implements AsyncDisposable {
  /** The semaphore. */
  readonly id: string;
  /** The fencing token: larger than every token granted before it for this semaphore, by any owner. */
  readonly token: number;
  /** How many slots it holds. */
  readonly permits: number;
  /** The lease asked for, ms. */
  readonly leaseMs: number;
  readonly #host: LeaseHost;
  // The signal and the event target are made when first asked for: a lease taken and released
  // without anyone listening (the common case) costs neither.
  #abort: AbortController | undefined;
  #events: TypedEventTarget<LeaseEvents> | undefined;
  /** Why it was lost, once it was. */
  #lost: Error | undefined;
  readonly #refresh: boolean;
  #until: Belief;
  #renewTimer: TimerHandle | undefined;
  #endTimer: TimerHandle | undefined;
  #released: Promise<void> | undefined;
  #stolen = false;

  /** @internal Made by `DSMServer.acquire`. */
  constructor(host: LeaseHost, init: { id: string; token: number; permits: number; leaseMs: number; until: Belief; refresh: boolean }) {
    this.#host = host;
    this.id = init.id;
    this.token = init.token;
    this.permits = init.permits;
    this.leaseMs = init.leaseMs;
    this.#until = init.until;
    this.#refresh = init.refresh;
    this.#schedule();
  }

  /** Aborted with a LEASE_LOST error the moment this holder can no longer be sure it holds. */
  get signal(): AbortSignal {
    if (this.#abort === undefined) {
      this.#abort = new AbortController();
      if (this.#lost !== undefined) this.#abort.abort(this.#lost);
    }
    return this.#abort.signal;
  }

  /** `renewed`, each time a renewal came back. */
  get events(): TypedEventTarget<LeaseEvents> {
    this.#events ??= new TypedEventTarget<LeaseEvents>();
    return this.#events;
  }

  /** When it ends unless renewed, on the caller's wall clock (ms since the epoch). */
  get expiresAt(): number {
    return this.#until.wall;
  }

  /** Whether it still holds: not released, not lost, and its time has not run out on either clock. */
  get held(): boolean {
    return this.#released === undefined && this.#lost === undefined && this.remainingMs() > 0;
  }

  /** Ms it still holds on the caller's clocks (0 once over). */
  remainingMs(): number {
    const clock = this.#host.clock;
    return Math.max(0, Math.min(this.#until.mono - clock.now(), this.#until.wall - clock.wallNow()));
  }

  /** Gives the permits back (idempotent). Resolves once the owner answered, or gave up: the lease then ends on its own. */
  release(): Promise<void> {
    if (this.#released !== undefined) return this.#released;
    this.#stopTimers();
    if (this.#lost === undefined) this.#host.ended?.();
    this.#released = this.#host.release().catch((err: unknown) => {
      this.#host.logger.warn('lease release not confirmed; the lease ends when its time runs out', { id: this.id, error: String(err) });
    });
    return this.#released;
  }

  /** `await using lease = await dsm.acquire(...)` releases it at the end of the block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }

  /** Whether it was lost to a `steal` (its owner said so). */
  get stolen(): boolean {
    return this.#stolen;
  }

  /** @internal Its owner gave its slots to a `steal`: it is lost now. */
  revoke(why: string): void {
    if (this.#released !== undefined || this.#lost !== undefined) return;
    this.#stolen = true;
    this.#lose(why);
  }

  /** The owner holds nothing for it any more (a renewal's answer, or a steal). */
  #lose(why: string): void {
    if (this.#released !== undefined || this.#lost !== undefined) return;
    this.#stopTimers();
    this.#host.ended?.();
    this.#lost = new ClusterluckError('LEASE_LOST', `lease ${this.token} of ${show(this.id)} is lost: ${why}`);
    this.#host.lost?.(this.#lost);
    this.#abort?.abort(this.#lost);
  }

  #stopTimers(): void {
    const clock = this.#host.clock;
    if (this.#renewTimer !== undefined) clock.cancelTimer(this.#renewTimer);
    if (this.#endTimer !== undefined) clock.cancelTimer(this.#endTimer);
    this.#renewTimer = this.#endTimer = undefined;
  }

  /** One timer for the end of the belief, and one for the next renewal (half the lease before the end). */
  #schedule(): void {
    this.#stopTimers();
    const clock = this.#host.clock;
    const left = this.remainingMs();
    this.#endTimer = clock.setTimer(left, () => {
      this.#endTimer = undefined;
      // Renewed meanwhile (or a clock moved): look again. Less than 1 ms left is over: a clock's
      // rounding can leave a sliver after the timer, and a timer for it would fire at once, for ever
      // (fuzz seed 6369: a million timers in one simulated second).
      if (this.remainingMs() >= 1) return this.#schedule();
      this.#lose(this.#refresh ? `no renewal came back within its ${this.leaseMs} ms` : `its ${this.leaseMs} ms ran out`);
    });
    if (this.#refresh) this.#renewTimer = clock.setTimer(Math.max(0, left - this.leaseMs / 2), () => void this.#renew());
  }

  async #renew(): Promise<void> {
    this.#renewTimer = undefined;
    const clock = this.#host.clock;
    const left = this.remainingMs();
    if (this.#released !== undefined || this.#lost !== undefined) return;
    // Its time ran out on one of this node's clocks before the renewal was due (a wall clock set
    // forward): it is over here, whatever the owner still keeps.
    if (left <= 0) return this.#lose(`its ${this.leaseMs} ms ran out on this node's clocks`);
    const until = beliefFrom(clock, this.leaseMs);
    let answer: number | false;
    try {
      answer = await this.#host.renew(this.leaseMs, left);
    } catch (err) {
      if (this.#released !== undefined || this.#lost !== undefined) return;
      if (isClusterluckError(err, 'NOT_FOUND')) return this.#lose('its semaphore was destroyed');
      // Not answered: try again soon, while the time lasts (the end timer decides when it is lost).
      this.#host.logger.debug('lease renewal failed; retrying', { id: this.id, error: String(err) });
      this.#renewTimer = clock.setTimer(Math.min(Math.max(1, this.remainingMs() / 4), this.leaseMs / 10), () => void this.#renew());
      return;
    }
    if (this.#released !== undefined || this.#lost !== undefined) return;
    if (answer === false) return this.#lose('its owner holds nothing for it (it ran out there, or the semaphore moved without it)');
    if (answer !== this.token) return this.#lose(`its owner answered with token ${answer}`);
    this.#until = until; // the owner renewed after this renewal was sent
    this.#schedule();
    this.#events?.emit('renewed', { expiresAt: until.wall });
  }
}
