// How long may a request have waited at this node? The kernel stamps each frame when it reads it,
// but a stalled process (SIGSTOP, a GC pause, a frozen background tab) reads the frames that
// arrived meanwhile only when it runs again, stamped as if they had just come. A tick every
// `tickMs` that comes late by more than a tick shows such a stall; a request read during one, or
// within a tick after it, may have been waiting since the stall began. Pure: time is passed in.

/** Stalls remembered (older ones can no longer matter to a request that is still running). */
const stallsKept = 8;

/** Finds this process's stalls from a periodic tick, and bounds when a request may have arrived. */
export class StallWatch {
  readonly tickMs: number;
  #lastTick: number;
  readonly #stalls: { start: number; end: number }[] = [];

  constructor(tickMs: number, now: number) {
    this.tickMs = tickMs;
    this.#lastTick = now;
  }

  /** The tick ran (or anything ran) at `now`: a gap of more than two ticks since the last was a stall. */
  observe(now: number): void {
    if (now - this.#lastTick > 2 * this.tickMs) {
      this.#stalls.push({ start: this.#lastTick, end: now });
      if (this.#stalls.length > stallsKept) this.#stalls.shift();
    }
    this.#lastTick = Math.max(this.#lastTick, now);
  }

  /** The earliest moment a request read at `readAt` may have been waiting here, seen at `now`. */
  arrivedBy(readAt: number, now: number): number {
    this.observe(now);
    let earliest = readAt;
    for (const s of this.#stalls) if (s.start <= readAt && readAt <= s.end + this.tickMs) earliest = Math.min(earliest, s.start);
    return earliest;
  }
}
