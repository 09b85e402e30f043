// Safety, judged from outside the nodes: at no simulated instant may more than `n` clients
// believe they hold a valid lease on one semaphore. A client that got ok for a post sent at s
// with timeout T believes from the reply until s + T, or until it sends its close.

/** One client's belief that it holds a slot. */
export interface Belief {
  readonly semaphore: string;
  readonly holder: string;
  readonly from: number;
  to: number;
}

/** More than `n` believers at once. */
export interface Violation {
  readonly semaphore: string;
  readonly at: number;
  readonly n: number;
  readonly holders: string[];
}

/** Every instant (the first of each overlap) where a semaphore had more than `n` believers. */
export function checkSafety(beliefs: readonly Belief[], limits: ReadonlyMap<string, number>): Violation[] {
  const bySem = new Map<string, Belief[]>();
  for (const b of beliefs) if (b.to > b.from) (bySem.get(b.semaphore) ?? bySem.set(b.semaphore, []).get(b.semaphore))?.push(b);
  const out: Violation[] = [];
  for (const [semaphore, list] of bySem) {
    const n = limits.get(semaphore) ?? Infinity;
    // Ends sort before starts at the same instant: [from, to) intervals.
    const events = list.flatMap((b) => [[b.from, 1, b] as const, [b.to, -1, b] as const]).sort((x, y) => x[0] - y[0] || x[1] - y[1]);
    const active = new Set<Belief>();
    let reported = false;
    for (const [at, kind, b] of events) {
      if (kind === -1) {
        active.delete(b);
        if (active.size <= n) reported = false;
        continue;
      }
      active.add(b);
      if (active.size > n && !reported) {
        reported = true;
        out.push({ semaphore, at, n, holders: [...active].map((x) => x.holder) });
      }
    }
  }
  return out;
}
