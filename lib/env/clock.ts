/** An opaque handle for a pending timer. */
export interface TimerHandle {
  readonly __timer: unique symbol;
}

/**
 * Time, injected. The real one lives in `lib/platform/`; the simulator has a virtual one.
 * Timers with equal deadlines fire in the order they were set.
 */
export interface Clock {
  /** Monotonic milliseconds since an arbitrary origin; never goes backwards. */
  now(): number;
  /** Wall-clock milliseconds since the Unix epoch; may jump. */
  wallNow(): number;
  /** Calls `fn` once after `delayMs` (clamped to ≥ 0; any finite length, even past 2^31−1). */
  setTimer(delayMs: number, fn: () => void): TimerHandle;
  /** Cancels a timer; a no-op when it already fired or was cancelled. */
  cancelTimer(handle: TimerHandle): void;
}
