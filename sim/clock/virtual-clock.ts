import type { Clock, TimerHandle } from '../../lib/env/clock.js';
import { ClusterluckError, invalidArgument } from '../../lib/env/errors.js';
import { MinHeap } from '../../lib/core/min-heap.js';

/** The wall clock a {@link VirtualClock} starts at: 2025-01-01T00:00:00Z. */
export const virtualWallEpochMsDefault = Date.UTC(2025, 0, 1);

/** Timers one `advance` or `runUntilIdle` may fire; beyond it a timer loop is assumed and it throws. */
export const virtualTimersPerRunMax = 1_000_000;

/** Microtask turns {@link settle} yields: enough for a few hops of promise chains between timers. */
export const settleTurnsDefault = 50;

/** The longest delay `setTimeout` honours; {@link VirtualClock} maps non-finite delays to it, as the system clock does. */
const timeoutMsMax = 2 ** 31 - 1;

/** A settled promise: a reaction on it is queued at once, one microtask turn. */
const turned = Promise.resolve();
const nothing = (): undefined => undefined;

/**
 * Lets pending microtasks (promise continuations, queued deliveries) run for `turns` turns.
 * A chain of `turns` reactions from a settled promise: each is queued at the back when the one
 * before it runs, as `await Promise.resolve()` in a loop queued its continuation, so the turns
 * fall in the same places (the same runs and trace hashes) for about half the cost: no async
 * function to resume, and no closure made per call (under tsx, esbuild's keepNames names every
 * named closure as it is made, which cost as much again). The last one settles the result.
 */
export function settle(turns = settleTurnsDefault): Promise<void> {
  let p: Promise<undefined | void> = turned;
  for (let i = 0; i < turns; i++) p = p.then(nothing);
  return p as Promise<void>;
}

interface VirtualTimer {
  readonly deadline: number;
  readonly sequence: number;
  readonly fn: () => void;
  /** Set by {@link VirtualClock.setProbe}: no microtask turns after it. */
  readonly probe: boolean;
  live: boolean;
}

/** Options of a {@link VirtualClock}. */
export interface VirtualClockOptions {
  /** `wallNow()` when `now()` is 0. @default virtualWallEpochMsDefault (2025-01-01) */
  readonly wallEpochMs?: number;
}

/**
 * A {@link Clock} that only moves when told to. Timers fire in (deadline, sequence) order, so
 * equal deadlines keep the order they were set in, and a run is the same every time.
 */
export class VirtualClock implements Clock {
  #now = 0;
  #wallOffsetMs: number;
  #sequence = 0;
  #live = 0;
  /** Cancelled timers still in the heap; rebuilt without them when they outnumber the live ones. */
  #dead = 0;
  #running = false;
  /** By (deadline, sequence); cancelled timers stay until they reach the top. */
  readonly #heap = new MinHeap<VirtualTimer>(before);

  constructor(options: VirtualClockOptions = {}) {
    const epoch = options.wallEpochMs ?? virtualWallEpochMsDefault;
    if (!Number.isFinite(epoch)) throw invalidArgument('options.wallEpochMs', epoch, 'a finite number');
    this.#wallOffsetMs = epoch;
  }

  /** Virtual milliseconds since the clock was made. */
  now(): number {
    return this.#now;
  }

  /** The wall clock: its epoch offset plus `now()`, moved by {@link jumpWall}. */
  wallNow(): number {
    return this.#wallOffsetMs + this.#now;
  }

  /** Moves the wall clock (not the monotonic one) by `ms`, backwards when negative. */
  jumpWall(ms: number): void {
    if (!Number.isFinite(ms)) throw invalidArgument('ms', ms, 'a finite number');
    this.#wallOffsetMs += ms;
  }

  /** Calls `fn` when virtual time reaches now + `delayMs` (negative: at once; non-finite: 2^31−1, as the system clock). */
  setTimer(delayMs: number, fn: () => void): TimerHandle {
    return this.#set(delayMs, fn, false);
  }

  /**
   * A timer for code that only looks (a checker's sampler): it fires in order as any timer does,
   * but the run gives it no microtask turns after it, so the next timer fires as if it were not
   * there. Looking at any rate then leaves the run, and its trace, as it was. `fn` must not start
   * work that needs those turns; what it queues runs in the turns after the next timer.
   */
  setProbe(delayMs: number, fn: () => void): TimerHandle {
    return this.#set(delayMs, fn, true);
  }

  #set(delayMs: number, fn: () => void, probe: boolean): TimerHandle {
    if (typeof fn !== 'function') throw invalidArgument('fn', fn, 'a function');
    const delay = Number.isFinite(delayMs) ? Math.max(0, delayMs) : timeoutMsMax;
    const timer: VirtualTimer = { deadline: this.#now + delay, sequence: this.#sequence++, fn, probe, live: true };
    this.#heap.push(timer);
    this.#live++;
    return timer as unknown as TimerHandle;
  }

  /** Stops a timer from firing; a no-op when it already fired or was cancelled. */
  cancelTimer(handle: TimerHandle): void {
    const timer = handle as unknown as VirtualTimer;
    if (!timer.live) return;
    timer.live = false;
    this.#live--;
    if (++this.#dead > 1024 && this.#dead > this.#live) {
      this.#heap.rebuild(this.#heap.entries().filter((t) => t.live).sort((a, b) => (before(a, b) ? -1 : 1)));
      this.#dead = 0;
    }
  }

  /** Timers set and neither fired nor cancelled. */
  pending(): number {
    return this.#live;
  }

  /** The deadline of the next timer to fire, or undefined when none is pending. */
  nextDeadline(): number | undefined {
    return this.#peek()?.deadline;
  }

  /**
   * Moves time forward by exactly `ms`, firing every timer due on the way in order (timers they
   * set inside the window too), letting microtasks settle before and after each one.
   * A timer that throws stops the run there and rejects with its error.
   */
  async advance(ms: number): Promise<void> {
    if (!Number.isFinite(ms) || ms < 0) throw invalidArgument('ms', ms, 'a finite number ≥ 0');
    await this.#run(this.#now + ms, 'advance');
  }

  /** Advances time in `stepMs` steps until `p` settles; its outcome. For code that awaits network or timers. */
  async drive<T>(p: Promise<T>, stepMs = 5): Promise<T> {
    let done = false;
    const watched = p.finally(() => (done = true));
    watched.catch(() => undefined);
    while (!done) await this.advance(stepMs);
    return watched;
  }

  /**
   * Jumps from timer to timer while any is pending and due within `limitMs` of now; when timers
   * remain past the limit, time stops at the limit. Returns how many timers fired.
   */
  async runUntilIdle(limitMs = 86_400_000): Promise<number> {
    if (Number.isNaN(limitMs) || limitMs < 0) throw invalidArgument('limitMs', limitMs, 'a number ≥ 0');
    return this.#run(this.#now + limitMs, 'idle');
  }

  async #run(until: number, mode: 'advance' | 'idle'): Promise<number> {
    if (this.#running) throw new ClusterluckError('INTERNAL', 'VirtualClock is already advancing');
    this.#running = true;
    let fired = 0;
    try {
      await settle();
      for (let next = this.#peek(); next !== undefined && next.deadline <= until; next = this.#peek()) {
        if (++fired > virtualTimersPerRunMax) {
          throw new ClusterluckError('INTERNAL', `more than ${virtualTimersPerRunMax} timers in one run: a timer loop?`);
        }
        this.#heap.pop();
        next.live = false;
        this.#live--;
        this.#now = Math.max(this.#now, next.deadline);
        next.fn();
        if (!next.probe) await settle();
      }
      // `advance` always ends at `until`; `runUntilIdle` only when it stopped at its limit.
      if ((mode === 'advance' || this.#live > 0) && Number.isFinite(until)) {
        this.#now = Math.max(this.#now, until);
        await settle();
      }
      return fired;
    } finally {
      this.#running = false;
    }
  }

  /** The first live timer, dropping cancelled ones from the top. */
  #peek(): VirtualTimer | undefined {
    let top = this.#heap.peek();
    while (top !== undefined && !top.live) {
      this.#heap.pop();
      this.#dead--;
      top = this.#heap.peek();
    }
    return top;
  }
}

function before(a: VirtualTimer, b: VirtualTimer): boolean {
  return a.deadline < b.deadline || (a.deadline === b.deadline && a.sequence < b.sequence);
}
