// The checkers, judging from outside the nodes.
// Safety: at no simulated instant may more than `n` slots of one semaphore be believed held. A
// client that got ok for a post sent at s with timeout T believes from the reply until s + T, or
// until it sends its close; a client holding an `acquire` lease of k slots believes in k slots
// from the grant until the lease says it no longer holds (its time ran out on the client's clocks
// with no renewal back, it was lost, or it was released). Liveness: after the faults heal, every post a live client
// sent ends. Convergence: after the faults heal, every node's ring agrees. Fencing: a grant a
// client asked for after it saw another grant of the semaphore carries a larger token, and two
// overlapping beliefs never share one. Views and ownership: see view-checker.ts.

/** One client's belief that it holds a slot. */
export interface Belief {
  readonly semaphore: string;
  readonly holder: string;
  /** When the client sent the post. */
  readonly sentAt: number;
  readonly from: number;
  to: number;
  /** The grant's fencing token. */
  readonly token: number;
  /** Slots it holds. @default 1 */
  readonly permits?: number;
}

/** What a checker can find. */
export const violationClasses = ['safety', 'fencing', 'fifo', 'liveness', 'convergence', 'views', 'ownership', 'invariant'] as const;
/** One of {@link violationClasses}. */
export type ViolationClass = (typeof violationClasses)[number];

/** One finding of a checker. */
export interface Violation {
  readonly class: ViolationClass;
  /** Simulated ms of the first moment it was seen. */
  readonly at: number;
  /** One line for people. */
  readonly message: string;
  /** The semaphore, for safety, fencing and liveness. */
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
    let held = 0;
    let reported = false;
    for (const [at, kind, b] of events) {
      if (kind === -1) {
        active.delete(b);
        held -= b.permits ?? 1;
        if (held <= n) reported = false;
        continue;
      }
      active.add(b);
      held += b.permits ?? 1;
      if (held > n && !reported) {
        reported = true;
        const holders = [...active].map((x) => (x.permits ?? 1) === 1 ? x.holder : `${x.holder}×${x.permits}`);
        out.push({ class: 'safety', at, semaphore, holders, message: `${held} slots of ${semaphore} (n=${n}) are believed held by ${holders.join(', ')}` });
      }
    }
  }
  return out.sort((a, b) => a.at - b.at);
}

/**
 * Fencing: for each semaphore, a grant whose post was sent after the client of another grant had
 * its answer (so the second was surely granted later) carries a larger token; and no two beliefs
 * that overlap in time share a token. Every belief is its own grant (holders are never reused).
 */
export function checkFencing(beliefs: readonly Belief[]): Violation[] {
  const bySem = new Map<string, Belief[]>();
  for (const b of beliefs) (bySem.get(b.semaphore) ?? bySem.set(b.semaphore, []).get(b.semaphore))?.push(b);
  const out: Violation[] = [];
  for (const [semaphore, list] of bySem) {
    const byFrom = [...list].sort((x, y) => x.from - y.from);
    const bySent = [...list].sort((x, y) => x.sentAt - y.sentAt);
    let i = 0;
    // The two largest tokens seen so far: a grant answered at once (from = sentAt) is not compared with itself.
    let top: Belief | undefined;
    let second: Belief | undefined;
    for (const b of bySent) {
      for (; i < byFrom.length && (byFrom[i] as Belief).from <= b.sentAt; i++) {
        const a = byFrom[i] as Belief;
        if (top === undefined || a.token > top.token) [top, second] = [a, top];
        else if (second === undefined || a.token > second.token) second = a;
      }
      const before = top === b ? second : top;
      if (before !== undefined && b.token <= before.token) {
        out.push({ class: 'fencing', at: b.from, semaphore, holders: [before.holder, b.holder],
          message: `${b.holder} got token ${b.token} for ${semaphore} after ${before.holder} had been granted ${before.token}` });
      }
    }
    const byToken = new Map<number, Belief[]>();
    for (const b of list) (byToken.get(b.token) ?? byToken.set(b.token, []).get(b.token))?.push(b);
    for (const [token, same] of byToken) {
      for (let x = 0; x < same.length; x++) {
        for (let y = x + 1; y < same.length; y++) {
          const a = same[x] as Belief;
          const c = same[y] as Belief;
          if (a.from < c.to && c.from < a.to) {
            out.push({ class: 'fencing', at: Math.max(a.from, c.from), semaphore, holders: [a.holder, c.holder],
              message: `${a.holder} and ${c.holder} both hold ${semaphore} with token ${token}` });
          }
        }
      }
    }
  }
  return out.sort((a, b) => a.at - b.at);
}
