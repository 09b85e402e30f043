// What a live member has seen, in the shapes the ring and the lanes draw: the members of its
// decided view and how its failure detector sees them, each semaphore's owner on its ring, and
// lease bars built from the holders its owner reported at each poll. Pure: time comes in as `at`.
import type { MemberStatus, SemaphoreState } from '../lib/index.js';
import type { LaneScene } from './lanes-view.js';
import type { Bar, NodeView } from './replay.js';
import type { RingScene } from './ring-view.js';

/** A member id as drawn (inside a node's circle): long random ids cut to their first 4 characters. */
export function shortId(id: string): string {
  return id.length > 6 ? id.slice(0, 4) : id;
}

/** One member of the view as this tab sees it. */
export interface LiveMember {
  readonly id: string;
  readonly status: MemberStatus | undefined;
}

export class LiveScene implements RingScene, LaneScene {
  at = 0;
  view = 0;
  readonly phase = 'live' as const;
  caption = '';
  readonly owners = new Map<string, string>();
  readonly nodes = new Map<string, NodeView>();
  readonly bars = new Map<string, Bar[]>();
  readonly waiting = new Map<string, Map<string, string>>();
  /** Bars still held at the last poll, by semaphore and `holder~lease#token`. */
  readonly #open = new Map<string, Map<string, Bar>>();

  /** The view `view` with `members`, seen by `self`; `owners` by semaphore (member ids). */
  membership(at: number, self: string, view: number, members: readonly LiveMember[], owners: ReadonlyMap<string, string>): void {
    this.at = at;
    this.view = view;
    const ids = new Set(members.map((m) => shortId(m.id)));
    for (const host of this.nodes.keys()) if (!ids.has(host)) this.nodes.delete(host);
    for (const m of members) {
      const host = shortId(m.id);
      const seenAs = m.status === 'suspect' ? 'suspect' : m.status === 'down' ? 'down' : undefined;
      const life = m.status === 'left' || m.status === 'removed' ? 'leaving' : 'alive';
      this.nodes.set(host, { host, nodeId: m.id, life, seenAs, side: undefined, view: m.id === self ? view : undefined, drift: undefined, jumpedMs: 0 });
    }
    this.owners.clear();
    for (const [sem, owner] of owners) this.owners.set(sem, shortId(owner));
  }

  /** What semaphore `id`'s owner reported at `at`: bars open, are extended, or end. */
  holders(at: number, id: string, state: SemaphoreState): void {
    this.at = at;
    const open = this.#open.get(id) ?? this.#open.set(id, new Map()).get(id) as Map<string, Bar>;
    const bars = this.bars.get(id) ?? this.bars.set(id, []).get(id) as Bar[];
    const keyOf = (h: SemaphoreState['holders'][number]): string => `${h.holder}~${h.lease}#${h.token}`;
    const seen = new Set(state.holders.map(keyOf));
    // Ended bars first, so a slot handed on in one poll's interval keeps its lane (no false "over n").
    for (const [key, bar] of open) {
      if (seen.has(key)) continue;
      bar.endedAt = at;
      open.delete(key);
    }
    for (const h of state.holders) {
      const key = keyOf(h);
      const bar = open.get(key);
      if (bar !== undefined) {
        bar.until = at + h.remainingMs;
        continue;
      }
      const used = new Set([...open.values()].map((b) => b.lane));
      let lane = 0;
      while (used.has(lane)) lane++;
      const made: Bar = { semaphore: id, holder: shortId(h.holder), host: shortId(h.holder), token: h.token, permits: h.permits, from: at, until: at + h.remainingMs, endedAt: undefined, lane };
      open.set(key, made);
      bars.push(made);
    }
    // Bars that ended over a minute ago are not drawn again.
    while (bars.length > 0 && (bars[0]?.endedAt ?? Infinity) < at - 60_000) bars.shift();
    this.waiting.set(id, new Map(state.waiters.map((w) => [shortId(w.holder), shortId(w.node)])));
  }

  /** Holders of `semaphore` at the last poll, lowest lane first. */
  heldAt(semaphore: string): Bar[] {
    return [...(this.#open.get(semaphore)?.values() ?? [])].sort((a, b) => a.lane - b.lane);
  }
}
