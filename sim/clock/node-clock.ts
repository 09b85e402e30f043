// One simulated node's view of time: the world's virtual clock seen through a drift rate, wall
// jumps and pauses. A paused node is a stalled process (a GC pause, a throttled background tab):
// its timers that come due wait until it resumes.
import type { Clock, TimerHandle } from '../../lib/env/clock.js';
import type { VirtualClock } from './virtual-clock.js';

interface NodeTimer {
  inner: TimerHandle | undefined;
  fn: () => void;
  done: boolean;
}

/** A drifting, pausable {@link Clock} over a {@link VirtualClock}. */
export class NodeClock implements Clock {
  readonly #world: VirtualClock;
  /** Local ms per world ms: 1.01 runs 1 % fast. */
  #rate = 1;
  /** Local monotonic time at `#anchorWorld`. */
  #anchorLocal: number;
  #anchorWorld: number;
  #wallOffset = 0;
  #paused = false;
  #dead = false;
  readonly #held: NodeTimer[] = [];
  readonly #timers = new Set<NodeTimer>();

  constructor(world: VirtualClock) {
    this.#world = world;
    this.#anchorWorld = world.now();
    this.#anchorLocal = this.#anchorWorld;
  }

  now(): number {
    return this.#anchorLocal + (this.#world.now() - this.#anchorWorld) * this.#rate;
  }

  wallNow(): number {
    return this.#world.wallNow() + (this.now() - this.#world.now()) + this.#wallOffset;
  }

  /** Changes the drift rate from now on; timers already set keep their world deadlines. */
  setRate(rate: number): void {
    this.#anchorLocal = this.now();
    this.#anchorWorld = this.#world.now();
    this.#rate = rate;
  }

  /** The current drift rate. */
  get rate(): number {
    return this.#rate;
  }

  /** Jumps the wall clock (not the monotonic one) by `ms`. */
  jumpWall(ms: number): void {
    this.#wallOffset += ms;
  }

  /** Stalls the node: timers that come due are held until `resume()`. */
  pause(): void {
    this.#paused = true;
  }

  /** Runs the held timers, in the order they came due. */
  resume(): void {
    this.#paused = false;
    for (const t of this.#held.splice(0)) this.#fire(t);
  }

  get paused(): boolean {
    return this.#paused;
  }

  setTimer(delayMs: number, fn: () => void): TimerHandle {
    const t: NodeTimer = { inner: undefined, fn, done: this.#dead };
    if (this.#dead) return t as unknown as TimerHandle; // a dead process's late callbacks set nothing
    const local = Number.isFinite(delayMs) ? Math.max(0, delayMs) : 2 ** 31 - 1;
    t.inner = this.#world.setTimer(local / this.#rate, () => {
      t.inner = undefined;
      if (this.#paused) this.#held.push(t);
      else this.#fire(t);
    });
    this.#timers.add(t);
    return t as unknown as TimerHandle;
  }

  cancelTimer(handle: TimerHandle): void {
    const t = handle as unknown as NodeTimer;
    if (t.inner !== undefined) this.#world.cancelTimer(t.inner);
    t.done = true;
    this.#timers.delete(t);
  }

  /** The process is gone: every timer is cancelled and later ones never fire. */
  kill(): void {
    this.#dead = true;
    for (const t of this.#timers) this.cancelTimer(t as unknown as TimerHandle);
    this.#held.length = 0;
  }

  #fire(t: NodeTimer): void {
    if (t.done) return;
    t.done = true;
    this.#timers.delete(t);
    t.fn();
  }
}
