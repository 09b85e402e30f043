// FIFO, judged from outside: at one owner process, no acquire is granted while another acquire
// for the same number of permits that queued there earlier for the same semaphore still waits.
// It reads the owners' `waiting`, `waitEnded` and `grant` events (holders are unique per request
// in the simulator's workload, so a holder name is a waiter).
import type { Violation } from './checker.js';

interface Entry {
  readonly holder: string;
  readonly permits: number;
}

/** Follows every owner process's queues and reports grants out of order. */
export class FifoChecker {
  readonly violations: Violation[] = [];
  /** Grants of queued waiters checked. */
  grants = 0;
  readonly #queues = new Map<string, Entry[]>();

  /** `holder` queued at `process` for `permits` of `id` (again: it keeps its place). */
  waiting(process: string, id: string, holder: string, permits: number): void {
    const q = this.#queue(process, id);
    if (!q.some((e) => e.holder === holder)) q.push({ holder, permits });
  }

  /** `holder` stopped waiting at `process` without a grant. */
  ended(process: string, id: string, holder: string): void {
    const q = this.#queue(process, id);
    const at = q.findIndex((e) => e.holder === holder);
    if (at >= 0) q.splice(at, 1);
  }

  /** `process` granted `holder` a slot of `id` at `atMs`; a grant to a holder not queued there is not a queue's. */
  granted(process: string, id: string, holder: string, atMs: number): void {
    const q = this.#queue(process, id);
    const at = q.findIndex((e) => e.holder === holder);
    if (at < 0) return;
    this.grants++;
    const me = q[at] as Entry;
    const earlier = q.slice(0, at).find((e) => e.permits === me.permits);
    if (earlier !== undefined) {
      this.violations.push({ class: 'fifo', at: atMs, semaphore: id, holders: [earlier.holder, holder],
        message: `${process} granted ${id} to ${holder} while ${earlier.holder}, queued there earlier for ${me.permits} permit(s), still waited` });
    }
    q.splice(at, 1);
  }

  #queue(process: string, id: string): Entry[] {
    const k = `${process} ${id}`;
    return this.#queues.get(k) ?? this.#queues.set(k, []).get(k) as Entry[];
  }
}
