// The semaphores one owner serves, as a pure state machine: no timers, no clock, no storage. Every
// method takes `now` (the owner's monotonic ms) and first lets the leases that are over at `now`
// go. What changes is told to `onChange` (the server journals it), and the caller arms one timer
// for `nextExpiry()`.
//
// Fencing tokens: every new grant gets a token greater than any token granted before for that
// semaphore, by any owner in any view. A token is `view · tokenSpan + k`: the counter carries on
// from the last token (kept with the semaphore, on disk and in a handoff) and never starts below
// the current view's base, so an owner that took a semaphore over without its state (after the
// lock-delay, in a later view) still grants larger tokens than every earlier owner did, as long as
// no owner granted `tokenSpan` tokens of one semaphore within one view (it refuses to).
import { ClusterluckError, show } from '../env/errors.js';

/** Tokens one view may grant per semaphore. */
export const tokenSpan = 2 ** 32;
/** The largest view number whose tokens are safe integers. */
export const tokenViewMax = Math.floor(Number.MAX_SAFE_INTEGER / tokenSpan) - 1;

/** The least token a grant in view `number` may carry. */
export function tokenBase(number: number): number {
  if (!(Number.isSafeInteger(number) && number >= 0 && number <= tokenViewMax)) {
    throw new ClusterluckError('INTERNAL', `view number ${number} is beyond the fencing tokens' range (at most ${tokenViewMax})`);
  }
  return number * tokenSpan;
}

/** One holder's slot. */
export interface Lease {
  readonly token: number;
  /** When the slot frees, on the owner's monotonic clock. */
  readonly expiresAt: number;
  /** The post attempt that granted or last refreshed it, when the caller named one (not kept by a handoff or a restart). */
  readonly attempt?: string;
}

/** What a semaphore looks like from outside: its limit and how many hold it now. */
export interface SemaphoreInfo {
  readonly n: number;
  readonly active: number;
}

/** A semaphore as one owner hands it to the next. */
export interface SemaphoreSnapshot {
  readonly n: number;
  /** The largest token granted so far (0: none). */
  readonly lastToken: number;
  /** `[holder, ms the sender would still keep the slot, token]`. */
  readonly holders: readonly (readonly [string, number, number])[];
}

/** A semaphore as stored: its holders' expiries are on the restoring owner's clock. */
export interface StoredSemaphoreState {
  readonly n: number;
  readonly lastToken: number;
  /** `[holder, expiresAt, token]`. */
  readonly leases: readonly (readonly [string, number, number])[];
}

/** A change, as the journal needs it. */
export type SemaphoreChange =
  | { readonly type: 'created'; readonly id: string; readonly n: number; readonly lastToken: number }
  | { readonly type: 'granted'; readonly id: string; readonly holder: string; readonly lease: Lease; readonly n: number; readonly fresh: boolean }
  | { readonly type: 'released'; readonly id: string; readonly holder: string }
  | { readonly type: 'destroyed'; readonly id: string; readonly holders: readonly string[] };

interface Semaphore {
  readonly n: number;
  lastToken: number;
  /** Created on first grant: most idle semaphores never pay for a Map. */
  holders: Map<string, Lease> | undefined;
}

interface Due {
  readonly at: number;
  readonly id: string;
  readonly holder: string;
  readonly lease: Lease;
}

/** Options of {@link Semaphores}. */
export interface SemaphoresOptions {
  /** How many semaphores may exist at once (QUEUE_FULL beyond). */
  readonly max: number;
  /** A slot is kept `timeout · stretch` (the drift bound's (1+ρ)²). @default 1 */
  readonly stretch?: number;
  readonly onChange?: (change: SemaphoreChange) => void;
}

/** Every semaphore one owner serves, with its holders, their deadlines and fencing tokens. */
export class Semaphores {
  readonly #max: number;
  readonly #stretch: number;
  readonly #onChange: (change: SemaphoreChange) => void;
  readonly #semaphores = new Map<string, Semaphore>();
  /** Leases by deadline, a binary min-heap; entries of leases since refreshed or released are skipped when they surface. */
  #due: Due[] = [];
  #leases = 0;

  constructor(opts: SemaphoresOptions) {
    this.#max = opts.max;
    this.#stretch = opts.stretch ?? 1;
    this.#onChange = opts.onChange ?? (() => undefined);
  }

  /** Semaphores held. */
  get size(): number {
    return this.#semaphores.size;
  }

  /** Every semaphore id. */
  ids(): IterableIterator<string> {
    return this.#semaphores.keys();
  }

  /** Creates `id` with limit `n`; a no-op for the same `n`, ALREADY_EXISTS for another. */
  create(id: string, n: number, now: number): void {
    this.expire(now);
    const existing = this.#semaphores.get(id);
    if (existing !== undefined) {
      if (existing.n === n) return;
      throw new ClusterluckError('ALREADY_EXISTS', `semaphore ${show(id)} exists with n=${existing.n}, not ${n}`);
    }
    this.#room();
    this.#semaphores.set(id, { n, lastToken: 0, holders: undefined });
    this.#onChange({ type: 'created', id, n, lastToken: 0 });
  }

  /** The limit and holders of `id` at `now`; NOT_FOUND when unknown. */
  read(id: string, now: number): SemaphoreInfo {
    this.expire(now);
    const s = this.#get(id);
    return { n: s.n, active: s.holders?.size ?? 0 };
  }

  /** The holders of `id` at `now` with their leases. */
  holders(id: string, now: number): ReadonlyMap<string, Lease> {
    this.expire(now);
    return this.#get(id).holders ?? new Map();
  }

  /** Drops `id` with its holders; an unknown id is fine. */
  destroy(id: string, now: number): void {
    this.expire(now);
    this.#drop(id);
  }

  /**
   * Gives `holder` a slot of `id` for `timeoutMs · stretch` from `now`, if it holds one already (a
   * refresh: it keeps its token) or fewer than `n` hold. A new grant's token is larger than every
   * earlier one and at least `base` (see {@link tokenBase}). @returns the lease, or undefined when full.
   */
  post(id: string, holder: string, timeoutMs: number, now: number, base: number, attempt?: string): Lease | undefined {
    this.expire(now);
    const s = this.#get(id);
    const held = s.holders?.get(holder);
    if (held === undefined && (s.holders?.size ?? 0) >= s.n) return undefined;
    let token = held?.token;
    if (token === undefined) {
      token = Math.max(s.lastToken + 1, base);
      if (token - base >= tokenSpan) {
        throw new ClusterluckError('INTERNAL', `semaphore ${show(id)} granted ${tokenSpan} fencing tokens in this view; the next view renews them`);
      }
      s.lastToken = token;
    }
    const lease = this.#hold(id, s, holder, token, now + timeoutMs * this.#stretch, attempt);
    this.#onChange({ type: 'granted', id, holder, lease, n: s.n, fresh: held === undefined });
    return lease;
  }

  /**
   * Releases `holder`'s slot; not holding is fine, an unknown semaphore is NOT_FOUND. With
   * `attempt` (a caller undoing a post whose answer it did not get), only a lease that attempt
   * granted or last refreshed is released: a late undo never takes a later grant. @returns whether it released.
   */
  close(id: string, holder: string, now: number, attempt?: string): boolean {
    this.expire(now);
    const s = this.#get(id);
    const lease = s.holders?.get(holder);
    if (lease === undefined || (attempt !== undefined && lease.attempt !== attempt)) return false;
    this.#release(id, s, holder);
    return true;
  }

  /** Lets every lease that is over at `now` go. */
  expire(now: number): void {
    for (let d = this.#due[0]; d !== undefined && d.at <= now; d = this.#due[0]) {
      this.#pop();
      const s = this.#semaphores.get(d.id);
      if (s !== undefined && s.holders?.get(d.holder) === d.lease) this.#release(d.id, s, d.holder);
    }
  }

  /** When the next lease ends, or undefined when none is held. */
  nextExpiry(): number | undefined {
    while (this.#due.length > 0) {
      const d = this.#due[0] as Due;
      if (this.#semaphores.get(d.id)?.holders?.get(d.holder) === d.lease) return d.at;
      this.#pop();
    }
    return undefined;
  }

  /** The state of `id` to hand to its next owner, each holder with the time it still has at `now`. */
  snapshot(id: string, now: number): SemaphoreSnapshot | undefined {
    this.expire(now);
    const s = this.#semaphores.get(id);
    if (s === undefined) return undefined;
    const holders: [string, number, number][] = [];
    for (const [holder, lease] of s.holders ?? []) holders.push([holder, lease.expiresAt - now, lease.token]);
    return { n: s.n, lastToken: s.lastToken, holders };
  }

  /**
   * Installs `id` as stored (a restart): leases over at `now` go. More holders than `n`, or a
   * token above `lastToken`, cannot have been written by this machine: STORAGE_CORRUPT.
   */
  restore(id: string, state: StoredSemaphoreState, now: number): void {
    if (state.leases.length > state.n) {
      throw new ClusterluckError('STORAGE_CORRUPT', `stored semaphore ${show(id)} has ${state.leases.length} holders for n=${state.n}`);
    }
    const top = Math.max(0, ...state.leases.map((l) => l[2]));
    if (top > state.lastToken) throw new ClusterluckError('STORAGE_CORRUPT', `stored semaphore ${show(id)} has token ${top} above its last token ${state.lastToken}`);
    this.#replace(id, state.n, state.lastToken, false);
    const s = this.#semaphores.get(id) as Semaphore;
    for (const [holder, expiresAt, token] of state.leases) {
      if (expiresAt > now) this.#hold(id, s, holder, token, expiresAt);
      else this.#onChange({ type: 'released', id, holder });
    }
  }

  /**
   * Installs the state a previous owner handed over. Two copies of one semaphore can meet here (a
   * former owner restored from its disk may send a stale one after the fresh one came), so the
   * copy with the later grant wins: ours when its last token is larger (the incoming one is
   * dropped), the incoming one when its is (ours is replaced, its counter kept, since tokens only
   * grow). With the same last grant, both copies' holders held at that grant (so at most `n`): each
   * keeps the later of its two deadlines. An incoming holder keeps its slot `remaining · stretch`
   * from `now` (the two owners' clocks may differ by that much). More holders than `n` is
   * INVALID_ARGUMENT.
   */
  merge(id: string, state: SemaphoreSnapshot, now: number): void {
    this.expire(now);
    if (state.holders.length > state.n) {
      throw new ClusterluckError('INVALID_ARGUMENT', `handoff of ${show(id)} has ${state.holders.length} holders for n=${state.n}`);
    }
    const incoming = Math.max(state.lastToken, ...state.holders.map((h) => h[2]));
    const ours = this.#semaphores.get(id);
    if (ours !== undefined && ours.lastToken > incoming) return;
    const same = ours !== undefined && ours.lastToken === incoming && ours.n === state.n;
    if (!same) this.#replace(id, state.n, Math.max(ours?.lastToken ?? 0, incoming));
    const s = this.#semaphores.get(id) as Semaphore;
    for (const [holder, remainingMs, token] of state.holders) {
      const expiresAt = now + remainingMs * this.#stretch;
      const have = s.holders?.get(holder);
      if (have !== undefined && have.expiresAt >= expiresAt) continue;
      const lease = this.#hold(id, s, holder, token, expiresAt);
      this.#onChange({ type: 'granted', id, holder, lease, n: s.n, fresh: false });
    }
  }

  /** Forgets `id` (its next owner has it); told as a destroy so a restart does not bring it back. */
  handedOver(id: string): void {
    this.#drop(id);
  }

  /** Forgets everything, telling nobody (storage keeps what it has). */
  clear(): void {
    this.#semaphores.clear();
    this.#due = [];
    this.#leases = 0;
  }

  #room(): void {
    if (this.#semaphores.size >= this.#max) throw new ClusterluckError('QUEUE_FULL', `this node already owns ${this.#max} semaphores`);
  }

  /** A fresh, empty `id` in place of what was there (whose holders are told released). */
  #replace(id: string, n: number, lastToken: number, tell = true): void {
    const old = this.#semaphores.get(id);
    if (old === undefined) this.#room();
    for (const holder of old?.holders?.keys() ?? []) this.#release(id, old as Semaphore, holder);
    this.#semaphores.set(id, { n, lastToken, holders: undefined });
    if (tell) this.#onChange({ type: 'created', id, n, lastToken });
  }

  #get(id: string): Semaphore {
    const s = this.#semaphores.get(id);
    if (s === undefined) throw new ClusterluckError('NOT_FOUND', `semaphore ${show(id)} does not exist`);
    return s;
  }

  #drop(id: string): void {
    const s = this.#semaphores.get(id);
    if (s === undefined) return;
    this.#semaphores.delete(id);
    this.#leases -= s.holders?.size ?? 0;
    this.#onChange({ type: 'destroyed', id, holders: [...(s.holders?.keys() ?? [])] });
  }

  #hold(id: string, s: Semaphore, holder: string, token: number, expiresAt: number, attempt?: string): Lease {
    const holders = (s.holders ??= new Map());
    if (!holders.has(holder)) this.#leases++;
    const lease: Lease = attempt === undefined ? { token, expiresAt } : { token, expiresAt, attempt };
    holders.set(holder, lease);
    if (holders.size > s.n) throw new ClusterluckError('INTERNAL', `semaphore ${show(id)} would have ${holders.size} holders for n=${s.n}`);
    this.#push({ at: expiresAt, id, holder, lease });
    return lease;
  }

  #release(id: string, s: Semaphore, holder: string): void {
    s.holders?.delete(holder);
    this.#leases--;
    if (s.holders?.size === 0) s.holders = undefined;
    this.#onChange({ type: 'released', id, holder });
  }

  #push(d: Due): void {
    // Entries of refreshed and released leases pile up under a steady refresher: rebuild from the live ones.
    if (this.#due.length > 2 * this.#leases + 1024) this.#rebuild();
    const heap = this.#due;
    let i = heap.push(d) - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if ((heap[p] as Due).at <= d.at) break;
      heap[i] = heap[p] as Due;
      i = p;
    }
    heap[i] = d;
  }

  #pop(): void {
    const heap = this.#due;
    const last = heap.pop() as Due;
    if (heap.length === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= heap.length) break;
      const r = l + 1;
      const c = r < heap.length && (heap[r] as Due).at < (heap[l] as Due).at ? r : l;
      if ((heap[c] as Due).at >= last.at) break;
      heap[i] = heap[c] as Due;
      i = c;
    }
    heap[i] = last;
  }

  #rebuild(): void {
    const live: Due[] = [];
    for (const [id, s] of this.#semaphores) for (const [holder, lease] of s.holders ?? []) live.push({ at: lease.expiresAt, id, holder, lease });
    this.#due = [];
    for (const d of live) this.#push(d);
  }
}
