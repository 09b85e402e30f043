// The clients' beliefs, read from the run's events (grant, renew, release), for the safety and
// fencing checkers; and the same safety rule judged live, step by step, so a run (or the demo
// page) can stop at the first double grant instead of finding it at the end.
import type { SimEvent } from '../world/sim-event.js';
import type { Belief, Violation } from './checker.js';

/** Every belief of a run, built from its events. */
export class BeliefLog {
  readonly beliefs: Belief[] = [];
  /** Every belief by semaphore and holder (a holder name is never reused). */
  readonly #byKey = new Map<string, Belief>();
  /** Beliefs the live check still looks at. */
  readonly #live = new Set<Belief>();

  /** Feeds one event (others than grant, renew and release are ignored). */
  readonly onEvent = (e: SimEvent): void => {
    if (e.type === 'grant') {
      const b: Belief = { semaphore: e.semaphore, holder: e.holder, sentAt: e.sentAt, from: e.at, to: e.until, token: e.token, ...(e.permits === undefined ? {} : { permits: e.permits }) };
      this.beliefs.push(b);
      this.#byKey.set(`${e.semaphore}\n${e.holder}`, b);
      this.#live.add(b);
    } else if (e.type === 'renew' || e.type === 'release') {
      const b = this.#byKey.get(`${e.semaphore}\n${e.holder}`);
      if (b === undefined) return;
      b.to = e.type === 'renew' ? Math.max(b.to, e.until) : Math.min(b.to, e.at);
    }
  };

  /** Beliefs that may still matter at or after `at` (the rest are final and leave the live set). */
  open(at: number): Belief[] {
    const out: Belief[] = [];
    for (const b of this.#live) {
      if (b.to <= at) this.#live.delete(b);
      else out.push(b);
    }
    return out;
  }
}

/**
 * The safety rule judged over `[from, to)` windows as a run goes: a belief only ever shortens to
 * "now" or lengthens beyond it, so what it covered before now is final, and a window's finding is
 * the one the whole-run checker makes for that instant.
 */
export class LiveSafety {
  readonly #log: BeliefLog;
  readonly #limits: ReadonlyMap<string, number>;
  readonly #over = new Set<string>();
  readonly #told = new Set<string>();
  #from = 0;

  constructor(log: BeliefLog, limits: ReadonlyMap<string, number>) {
    this.#log = log;
    this.#limits = limits;
  }

  /** Marks a violation as already told to the run's listeners. */
  told(v: Violation): void {
    this.#told.add(`${v.class} ${v.at} ${v.message}`);
  }

  /** Whether {@link told} saw it (the whole-run checker finds the live check's violations again). */
  reported(v: Violation): boolean {
    return this.#told.has(`${v.class} ${v.at} ${v.message}`);
  }

  /** Judges the time since the last call up to `now`; the overlaps that began in it. */
  check(now: number): Violation[] {
    const from = this.#from;
    this.#from = now;
    const bySem = new Map<string, Belief[]>();
    for (const b of this.#log.open(from)) if (b.from < now && b.to > b.from) (bySem.get(b.semaphore) ?? bySem.set(b.semaphore, []).get(b.semaphore))?.push(b);
    const out: Violation[] = [];
    for (const [semaphore, list] of bySem) {
      const n = this.#limits.get(semaphore) ?? Infinity;
      // Slots that fit all at once cannot overlap beyond n (the usual case: no points to sort).
      let slots = 0;
      for (const b of list) slots += b.permits ?? 1;
      if (slots <= n) {
        this.#over.delete(semaphore);
        continue;
      }
      // Beliefs still held at `now` do not end in this window: the next one carries them on.
      const points = list.flatMap((b) => (b.to < now ? [[Math.max(b.from, from), 1, b] as const, [b.to, -1, b] as const] : [[Math.max(b.from, from), 1, b] as const])).sort((x, y) => x[0] - y[0] || x[1] - y[1]);
      const active = new Set<Belief>();
      let held = 0;
      for (const [at, kind, b] of points) {
        if (kind === -1) {
          active.delete(b);
          held -= b.permits ?? 1;
          if (held <= n) this.#over.delete(semaphore);
          continue;
        }
        active.add(b);
        held += b.permits ?? 1;
        if (held > n && !this.#over.has(semaphore)) {
          this.#over.add(semaphore);
          const holders = [...active].map((x) => (x.permits ?? 1) === 1 ? x.holder : `${x.holder}×${x.permits}`);
          out.push({ class: 'safety', at, semaphore, holders, message: `${held} slots of ${semaphore} (n=${n}) are believed held by ${holders.join(', ')}` });
        }
      }
      if (held <= n) this.#over.delete(semaphore);
    }
    for (const s of this.#over) if (!bySem.has(s)) this.#over.delete(s);
    return out;
  }
}
