// When may a member act as owner in its view? Pure bookkeeping, time passed in (see VIEWS.md,
// "Ownership lease", and the argument in the README's "Consistent membership" section).
//
// 1. The lease: member m serves in view v at time t only while it holds confirmations "still on v,
//    nothing accepted for v+1" from a set S of other members of v, each the reply to a request m
//    sent at s_i with t − s_i < ownershipLeaseMs, and |S| ≥ |v| − majority(v). Any view decided
//    without m (or moving a key away from m) was accepted by a majority Q of v that excludes m;
//    |S| + |Q| ≥ |v| so S and Q share a member x, which confirmed before it accepted, so m stops
//    at the latest ownershipLeaseMs (m's clock) after the decision.
// 2. The lock-delay (Chubby's): a member that adopts a view in which it owns a key it did not own
//    in the view just before (or that jumped over views, or started from storage or a join) does
//    not serve that key for (leaseMsMax + ownershipLeaseMs)·(1+ρ)² from the adoption, on its own
//    clock: the previous owner may serve for ownershipLeaseMs after the decision and a lease it
//    granted just before may last leaseMsMax more, and each of the clocks involved (old owner,
//    client, new owner) runs within (1+ρ) of real time. A founder of a new cluster waits for
//    nothing: nobody served before it.
// 3. Handoff: the previous owner p, once on a view at or after the one that moved the key, has
//    stopped serving it; its handoff `release(p, number, remainingMs)` lifts the delay of keys p
//    owned (down to what p's own delay still had to run).
import type { HashRing } from './hash-ring.js';
import { confirmationsNeeded, type View } from './view.js';

/** Where a key stands on this member now. */
export type Ownership =
  | { readonly state: 'owner' }
  /** Another member owns it in this member's view. */
  | { readonly state: 'not-owner'; readonly owner: string }
  /** This member owns it but must not serve yet (hand-over delay) or now (lease lapsed, change pending, no view). */
  | { readonly state: 'waiting'; readonly reason: 'delay' | 'lease' | 'pending' | 'no-view'; readonly untilMs: number | undefined };

/** A delay to keep across a restart: the view adopted and the one before it (null: unknown). */
export interface PendingDelay {
  readonly view: number;
  readonly previous: View | null;
}

interface Delay extends PendingDelay {
  /** The ring of `previous`, built on first use; undefined: every key this member owns waits. */
  readonly ring: (() => HashRing) | undefined;
  /** The previous owners of the keys this delay holds back (undefined: unknown, any). */
  readonly from: readonly string[] | undefined;
  /** This process (this id under this incarnation) was a member of `previous`: keys it owned there need no delay. */
  readonly wasSelf: boolean;
  readonly untilMs: number;
  /** Previous owners that handed off, and until when their own delay still ran. */
  readonly released: Map<string, Released>;
}

/** A previous owner's handoff as one delay sees it. */
interface Released {
  /** Until when the sender's own delay still held its keys back (on our clock). */
  readonly untilMs: number;
  /**
   * It covers every key of the delay, so this member may pass on that the delay is over: it was
   * sent on the delay's own view, or its sender handed no state of a key that had been ours to a
   * third member (fuzz seed 3896; see {@link OwnershipLease.remainingDelayMs}).
   */
  readonly covers: boolean;
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

  /**
   * `leaseMs` is ownershipLeaseMs; `driftMax` is ρ; `grantMsMax` the longest lease a service on the
   * ring may grant (leaseMsMax). `lockDelay: false` (Clusterluck mode) serves moved keys at once.
   */
  constructor(self: string, leaseMs: number, driftMax: number, grantMsMax: number, lockDelay = true) {
    this.#self = self;
    this.#leaseMs = leaseMs;
    this.#stretch = (1 + driftMax) ** 2;
    this.#delayMs = lockDelay ? (grantMsMax + leaseMs) * this.#stretch : 0;
  }

  readonly #stretch: number;

  /** The lock-delay, (leaseMsMax + ownershipLeaseMs)·(1+ρ)². */
  get delayMs(): number {
    return this.#delayMs;
  }

  /**
   * How long this member's own delays still run at `nowMs` (0 when none): a handoff passes it on,
   * and its receiver serves the keys this member owned once it has run out. A release counts here
   * only when it covers every key of the delay. Fuzz seed 3896: n5 joined in view 7 and took a key
   * from n0, whose state had not come when view 8 gave that key to n4; n0's release to n5 on view 8
   * (rightly with no state for n5) ended n5's delay, n5 passed on 0 ms, and n4 served the key empty
   * while n0's holder still held it. n0 now says it handed such a state on (`movedOn`).
   */
  remainingDelayMs(nowMs: number): number {
    let until = nowMs;
    for (const d of this.#delays) until = Math.max(until, Math.min(effectiveUntil(d, true), d.untilMs));
    return until - nowMs;
  }

  /** Per key handed over with its state: who handed it, as of which view, and until when its own delay held it back. */
  readonly #keyReleases = new Map<string, { readonly from: string; readonly number: number; readonly untilMs: number }>();

  /**
   * `from`, on view `number`, handed over `key` with its state; its own delay held the key back
   * `remainingMs` more (0 when it was serving it). More precise than {@link release}.
   */
  releaseKey(key: string, from: string, number: number, remainingMs: number, nowMs: number): void {
    this.#keyReleases.set(key, { from, number, untilMs: nowMs + remainingMs * this.#stretch });
  }

  /** Until when this member's own delays hold `key` back (−Infinity: they do not), whoever owns it now. */
  heldUntilMs(key: string, nowMs: number): number {
    let untilMs = -Infinity;
    for (const d of this.#delays) {
      if (d.untilMs <= nowMs) continue;
      const previous = d.ring?.();
      const owner = previous === undefined || previous.size() === 0 ? undefined : previous.find(key).id;
      // Ours there, unless an earlier incarnation of ours owned it (a restart without its state).
      if (owner === this.#self && d.wasSelf) continue;
      let released = owner === undefined ? undefined : d.released.get(owner)?.untilMs;
      const k = this.#keyReleases.get(key);
      if (k !== undefined && k.from === owner && d.view <= k.number) released = Math.min(released ?? Infinity, k.untilMs);
      untilMs = Math.max(untilMs, released === undefined ? d.untilMs : Math.min(released, d.untilMs));
    }
    return untilMs;
  }

  /**
   * `from`, on view `number` or later, handed off what it owned: keys it owned in the view before
   * any of our adoptions up to `number` wait only for what `from`'s own delay still had to run
   * (`remainingMs` on its clock, stretched by (1+ρ)² for ours). `movedOn`: `from` handed the state
   * of a key that had been ours to a third member, so a release on a later view than a delay's does
   * not cover that delay's keys for what we pass on.
   */
  release(from: string, number: number, remainingMs: number, nowMs: number, movedOn = false): void {
    const untilMs = nowMs + remainingMs * this.#stretch;
    for (const d of this.#delays) {
      if (d.view > number) continue;
      const before = d.released.get(from);
      d.released.set(from, { untilMs: Math.min(before?.untilMs ?? Infinity, untilMs), covers: (before?.covers ?? false) || d.view === number || !movedOn });
    }
  }

  /** The view in force, if any. */
  get view(): View | undefined {
    return this.#view;
  }

  /**
   * Moves to `view` (with its ring) at `nowMs`. `previous` is the view adopted just before (keys
   * this member owned there need no delay), or null when unknown (views were missed, or this
   * process joined, or it was a view of another cluster): then every key it owns waits. `found` (a founder's first view) and
   * `restore` (a restart on stored state, whose table holds every grant it acknowledged) add no
   * delay of their own; `pending` re-arms, in full, the delays that were running when it stopped.
   */
  adopt(view: View, ring: () => HashRing, nowMs: number, previous: View | null | 'found' | 'restore',
    ringOf: (v: View) => () => HashRing, pending: readonly PendingDelay[] = []): void {
    this.#delays = this.#delays.filter((d) => d.untilMs > nowMs);
    if (this.#delays.length === 0) this.#keyReleases.clear();
    const arm = (d: PendingDelay): void => {
      const from = d.previous === null ? undefined : movers(d.previous, view, this.#self);
      if (from?.length === 0) return; // nothing came to this member: nothing to wait for
      const wasSelf = d.previous !== null && sameIncarnation(d.previous, view, this.#self);
      this.#delays.push({ ...d, ring: d.previous === null ? undefined : ringOf(d.previous), from, wasSelf, untilMs: nowMs + this.#delayMs, released: new Map() });
    };
    // A view of another cluster (our own lone one, founded before we joined this) tells nothing
    // about who served here: every key we own waits.
    if (previous !== 'found' && previous !== 'restore') arm({ view: view.number, previous: previous !== null && previous.cluster !== view.cluster ? null : previous });
    for (const d of pending) arm(d);
    this.#view = view;
    this.#ring = ring;
    this.#confirmed.clear();
    this.#expiresAtMs = undefined;
  }

  /**
   * The delays still holding some key back at `nowMs`, to store with the view (a restart re-arms
   * them in full): not those every previous owner released with nothing left to run.
   */
  pending(nowMs: number): PendingDelay[] {
    return this.#delays.filter((d) => Math.min(effectiveUntil(d), d.untilMs) > nowMs).map((d) => ({ view: d.view, previous: d.previous }));
  }

  /**
   * Drops the view (this member left or was removed). Running delays stay: a handoff this member
   * still sends must pass on how long they had to run.
   */
  clear(): void {
    this.#view = undefined;
    this.#ring = undefined;
    this.#confirmed.clear();
    this.#expiresAtMs = undefined;
  }

  /** Member `id` confirmed view `number` in reply to a request sent at `sentAtMs`. */
  confirm(id: string, number: number, sentAtMs: number): void {
    if (this.#view === undefined || number !== this.#view.number || id === this.#self) return;
    if (!this.#view.members.some((m) => m.id === id)) return;
    if ((this.#confirmed.get(id) ?? -Infinity) < sentAtMs) {
      this.#confirmed.set(id, sentAtMs);
      this.#expiresAtMs = undefined;
    }
  }

  /** When the lease lapses without new confirmations (−Infinity: not serving; Infinity: needs none). Cached: it is read on every request. */
  expiresAtMs(): number {
    this.#expiresAtMs ??= this.#computeExpiry();
    return this.#expiresAtMs;
  }

  #expiresAtMs: number | undefined;

  #computeExpiry(): number {
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
    // No named closure here: this runs every gossip tick, and a dev build (tsx, esbuild's keepNames)
    // names each one it makes, which cost more than the rest of this method in the simulator.
    const confirmed = this.#confirmed;
    return view.members.filter((m) => m.id !== this.#self && nowMs - (confirmed.get(m.id) ?? -Infinity) >= ageMs).map((m) => m.id)
      .sort((a, b) => (confirmed.get(a) ?? -Infinity) - (confirmed.get(b) ?? -Infinity));
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
    const untilMs = this.heldUntilMs(key, nowMs);
    return untilMs > nowMs ? { state: 'waiting', reason: 'delay', untilMs } : { state: 'owner' };
  }
}

/**
 * Who may have owned keys that `self` owns in `view` but did not own in `previous`: nobody when
 * `self` (this incarnation) was in `previous` and only members joined (consistent hashing gives a join's keys to the
 * joiner alone); the members that left when some did; every previous member when `self` is new or
 * a weight changed.
 */
function movers(previous: View, view: View, self: string): string[] {
  const was = sameIncarnation(previous, view, self);
  const weightChanged = view.members.some((m) => {
    const p = previous.members.find((x) => x.id === m.id);
    return p !== undefined && p.weight !== m.weight;
  });
  if (!was || weightChanged) return previous.members.filter((m) => m.id !== self).map((m) => m.id);
  return previous.members.filter((m) => !view.members.some((x) => x.id === m.id)).map((m) => m.id);
}

/** Whether `self` is a member of `previous` under the incarnation it has in `view` (a restart without its state comes back under a new one). */
function sameIncarnation(previous: View, view: View, self: string): boolean {
  const now = view.members.find((m) => m.id === self);
  return previous.members.some((m) => m.id === self && m.incarnation === now?.incarnation);
}

/**
 * When a delay stops holding any key back: once every previous owner released, the latest of what
 * their own delays still ran. `passOn`: only releases that cover every key of the delay count.
 */
function effectiveUntil(d: Delay, passOn = false): number {
  const counted = (o: string): Released | undefined => {
    const r = d.released.get(o);
    return r === undefined || (passOn && !r.covers) ? undefined : r;
  };
  if (d.from === undefined || !d.from.every((o) => counted(o) !== undefined)) return d.untilMs;
  return Math.max(-Infinity, ...d.from.map((o) => counted(o)?.untilMs ?? d.untilMs));
}
