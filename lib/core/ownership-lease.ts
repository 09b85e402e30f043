// When may a member act as owner in its view? Pure bookkeeping, time passed in (see VIEWS.md,
// "Ownership lease", and the argument in the README's "Consistent membership" section).
//
// 1. The lease: member m serves in view v at time t only while it holds confirmations "still on v,
//    nothing accepted for v+1" from a set S of other members of v, each the reply to a request m
//    sent at s_i with t − s_i < ownershipLeaseMs, and |S| ≥ |v| − majority(v). Any view decided
//    without m (or moving a key away from m) was accepted by a majority Q of v that excludes m;
//    |S| + |Q| ≥ |v| so S and Q share a member x, which confirmed before it accepted, so m stops
//    at the latest ownershipLeaseMs (m's clock) after the decision.
// 2. The hand-over delay: a member that adopts a view in which it owns a key it did not own in
//    the view just before (or that jumped over views, or started from storage or a join) does not
//    serve that key for ownershipLeaseMs·(1+ρ)² from the adoption, its own clock: the previous
//    owner may serve that long after the decision, and the two clocks run at rates within (1+ρ)
//    of real time each. A founder of a new cluster waits for nothing: nobody served before it.
import type { HashRing } from './hash-ring.js';
import { confirmationsNeeded, type View } from './view.js';

/** Where a key stands on this member now. */
export type Ownership =
  | { readonly state: 'owner' }
  /** Another member owns it in this member's view. */
  | { readonly state: 'not-owner'; readonly owner: string }
  /** This member owns it but must not serve yet (hand-over delay) or now (lease lapsed, change pending, no view). */
  | { readonly state: 'waiting'; readonly reason: 'delay' | 'lease' | 'pending' | 'no-view'; readonly untilMs: number | undefined };

interface Delay {
  /** The ring of the view adopted just before, or undefined: every key this member owns waits. */
  readonly previous: (() => HashRing) | undefined;
  readonly untilMs: number;
}

/** The ownership lease and hand-over delays of one member. */
export class OwnershipLease {
  readonly #self: string;
  readonly #leaseMs: number;
  readonly #delayMs: number;
  #view: View | undefined;
  /** The ring of `#view`, built on first use (a ring of 200 members holds 400,000 points). */
  #ring: (() => HashRing) | undefined;
  /** Per member of the view: when the request was sent whose reply confirmed the view. */
  readonly #confirmed = new Map<string, number>();
  #delays: Delay[] = [];

  /** `leaseMs` is ownershipLeaseMs; `driftMax` is ρ. */
  constructor(self: string, leaseMs: number, driftMax: number) {
    this.#self = self;
    this.#leaseMs = leaseMs;
    this.#delayMs = leaseMs * (1 + driftMax) ** 2;
  }

  /** The hand-over delay, ownershipLeaseMs·(1+ρ)². */
  get delayMs(): number {
    return this.#delayMs;
  }

  /** The view in force, if any. */
  get view(): View | undefined {
    return this.#view;
  }

  /**
   * Moves to `view` (with its ring) at `nowMs`. `how`: `next` when it follows the view in force
   * directly, `jump` when views were missed or this process starts from storage or joins, `found`
   * for a founder's first view.
   */
  adopt(view: View, ring: () => HashRing, nowMs: number, how: 'next' | 'jump' | 'found'): void {
    if (how !== 'found') {
      const previous = how === 'next' ? this.#ring : undefined;
      this.#delays = this.#delays.filter((d) => d.untilMs > nowMs);
      this.#delays.push({ previous, untilMs: nowMs + this.#delayMs });
    }
    this.#view = view;
    this.#ring = ring;
    this.#confirmed.clear();
  }

  /** Drops the view (this member left or was removed). */
  clear(): void {
    this.#view = undefined;
    this.#ring = undefined;
    this.#confirmed.clear();
    this.#delays = [];
  }

  /** Member `id` confirmed view `number` in reply to a request sent at `sentAtMs`. */
  confirm(id: string, number: number, sentAtMs: number): void {
    if (this.#view === undefined || number !== this.#view.number || id === this.#self) return;
    if (!this.#view.members.some((m) => m.id === id)) return;
    if ((this.#confirmed.get(id) ?? -Infinity) < sentAtMs) this.#confirmed.set(id, sentAtMs);
  }

  /** When the lease lapses without new confirmations (−Infinity: not serving; Infinity: needs none). */
  expiresAtMs(): number {
    const view = this.#view;
    if (view === undefined || !view.members.some((m) => m.id === this.#self)) return -Infinity;
    const need = confirmationsNeeded(view);
    if (need === 0) return Infinity;
    const sent = [...this.#confirmed.values()].sort((a, b) => b - a);
    const nth = sent[need - 1];
    return nth === undefined ? -Infinity : nth + this.#leaseMs;
  }

  /** True while this member may act as an owner in its view (`pending`: it accepted a value for the next view). */
  serving(nowMs: number, pending: boolean): boolean {
    return !pending && nowMs < this.expiresAtMs();
  }

  /** Members whose confirmation is older than `ageMs` at `nowMs` (or missing), oldest first: whom to ask again. */
  stale(nowMs: number, ageMs: number): string[] {
    const view = this.#view;
    if (view === undefined) return [];
    const at = (id: string): number => this.#confirmed.get(id) ?? -Infinity;
    return view.members.filter((m) => m.id !== this.#self && nowMs - at(m.id) >= ageMs).map((m) => m.id).sort((a, b) => at(a) - at(b));
  }

  /** Fresh confirmations at `nowMs` (sent less than `ageMs` ago). */
  fresh(nowMs: number, ageMs: number): number {
    let n = 0;
    for (const s of this.#confirmed.values()) if (nowMs - s < ageMs) n++;
    return n;
  }

  /** Where `key` stands at `nowMs`. */
  ownership(key: string, nowMs: number, pending: boolean): Ownership {
    const ring = this.#ring?.();
    if (ring === undefined || ring.size() === 0) return { state: 'waiting', reason: 'no-view', untilMs: undefined };
    const owner = ring.find(key).id;
    if (owner !== this.#self) return { state: 'not-owner', owner };
    if (pending) return { state: 'waiting', reason: 'pending', untilMs: undefined };
    if (!(nowMs < this.expiresAtMs())) return { state: 'waiting', reason: 'lease', untilMs: undefined };
    let untilMs = -Infinity;
    for (const d of this.#delays) {
      if (d.untilMs <= nowMs) continue;
      const previous = d.previous?.();
      if (previous === undefined || previous.size() === 0 || previous.find(key).id !== this.#self) untilMs = Math.max(untilMs, d.untilMs);
    }
    return untilMs > nowMs ? { state: 'waiting', reason: 'delay', untilMs } : { state: 'owner' };
  }
}
