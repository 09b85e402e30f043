import type { Clock, TimerHandle } from '../env/clock.js';

/** A timer armed on demand: `arm()` while it is pending does nothing, so work is coalesced. */
export class OneShot {
  readonly #clock: Clock;
  readonly #ms: number;
  readonly #fn: () => void;
  #handle: TimerHandle | undefined;

  constructor(clock: Clock, ms: number, fn: () => void) {
    this.#clock = clock;
    this.#ms = ms;
    this.#fn = fn;
  }

  /** Calls `fn` once, `ms` from now, unless already pending. */
  arm(): void {
    if (this.#handle !== undefined) return;
    this.#handle = this.#clock.setTimer(this.#ms, () => {
      this.#handle = undefined;
      this.#fn();
    });
  }

  /** Cancels the pending call, if any. */
  cancel(): void {
    if (this.#handle !== undefined) this.#clock.cancelTimer(this.#handle);
    this.#handle = undefined;
  }
}
