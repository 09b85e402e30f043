// The checkers, judging from outside the nodes.
// Safety: at no simulated instant may more than `n` clients believe they hold a valid lease on one
// semaphore. A client that got ok for a post sent at s with timeout T believes from the reply until
// s + T, or until it sends its close. Liveness: after the faults heal, every post a live client
// sent ends. Convergence: after the faults heal, every node's ring agrees. Views and ownership:
// see view-checker.ts.

/** One client's belief that it holds a slot. */
export interface Belief {
  readonly semaphore: string;
  readonly holder: string;
  readonly from: number;
  to: number;
}

/** What a checker can find. */
export const violationClasses = ['safety', 'liveness', 'convergence', 'views', 'ownership'] as const;
/** One of {@link violationClasses}. */
export type ViolationClass = (typeof violationClasses)[number];

/** One finding of a checker. */
export interface Violation {
  readonly class: ViolationClass;
  /** Simulated ms of the first moment it was seen. */
  readonly at: number;
  /** One line for people. */
  readonly message: string;
  /** The semaphore, for safety and liveness. */
  readonly semaphore?: string;
  /** The believers at `at`, for safety. */
  readonly holders?: string[];
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
        const holders = [...active].map((x) => x.holder);
        out.push({ class: 'safety', at, semaphore, holders, message: `${holders.length} clients believe they hold ${semaphore} (n=${n}): ${holders.join(', ')}` });
      }
    }
  }
  return out.sort((a, b) => a.at - b.at);
}
