// Handoff: when a view change moves semaphores away from this node, it sends each one's state
// (n, every holder with the time it still has) to its new owner, with a release that lets the new
// owner serve what this node owned without waiting out the lock-delay. This node has stopped
// serving them (they are not its own in the view it adopted). The new owner merges, syncs, and
// acknowledges; only then does this node forget them. Without a handoff (this node crashed, is cut
// off, or lost its table) the new owner waits the lock-delay instead (see ownership-lease.ts).
//
// Over 300 lines on purpose: the sending and the receiving side share the message, its parser and
// the ordering rule (no release ahead of a state it covers), which is easier to check in one file.
import type { NodeId } from '../core/node-id.js';
import { viewRing, type View } from '../core/view.js';
import { handedWaitersMax, type HolderRecord, type WaiterRecord } from '../core/semaphore.js';
import { holderLengthMax, leaseMsMax, nodeIdLengthMax } from '../constants.js';
import { ClusterluckError, invalidArgument, show } from '../env/errors.js';
import type { TimerHandle } from '../env/clock.js';
import type { NetKernel } from '../kernel/net-kernel.js';
import type { SemaphoreSnapshot, SemaphoreStore } from './semaphores.js';

/** The DSM event name of a handoff. */
export const handoffEvent = 'handoff';

/** Most semaphores in one handoff message. */
export const handoffBatchMax = 512;

/**
 * Most bytes of semaphore states in one handoff message (as JSON), well under the kernel's frame
 * limit: a batch of semaphores with many holders or waiters is cut short here (one state always goes).
 */
export const handoffBatchBytesMax = 256 * 1024;

/**
 * A handoff: the sender's view, the states it sends, each with what the sender's delay still held
 * it back (0 when the sender was serving it), whether these are the last states it holds for the
 * receiver, and then what its own lock-delays still had to run (the release, for keys it sends no
 * state of; 0 and unused unless `last`).
 */
export interface HandoffMessage {
  readonly cluster: string;
  readonly number: number;
  readonly remainingMs: number;
  readonly last: boolean;
  readonly items: readonly (readonly [string, SemaphoreSnapshot, number])[];
  /**
   * With `last`: the sender hands, on this view, the state of a key the receiver owned in the view
   * before to a third member (see OwnershipLease.remainingDelayMs). Absent: it does not.
   */
  readonly movedOn?: true;
}

/** What the handoff needs of its server and ring. */
export interface HandoffHost {
  readonly kernel: NetKernel;
  readonly store: SemaphoreStore;
  /** The server's registered name, or undefined when stopped. */
  name(): string | undefined;
  view(): View | undefined;
  /** The owner of `id` in the current view. */
  owner(id: string): string;
  /** Whether this node serves `id` right now. */
  serving(id: string): boolean;
  /** `from` handed off what it owned as of view `number`, its own delay still running `remainingMs`; resolves once stored. */
  release(from: string, number: number, remainingMs: number, movedOn: boolean): Promise<void> | void;
  /** `from` handed over `id` with its state as of view `number`; its delay held it back `remainingMs` more. */
  releaseKey(id: string, from: string, number: number, remainingMs: number): void;
  /** How long this node's own delays still hold `id` back (0 when not). */
  heldMs(id: string): number;
  /** How long this node's own lock-delays still run. */
  remainingDelayMs(): number;
  /** Resolves once every change so far is durable. */
  synced(): Promise<void>;
  /** A handoff was stored: its states and release may let requests waiting for ownership through now. */
  settled(): void;
  /** Time between attempts to reach a new owner. */
  readonly retryMs: number;
}

/** What this node still owes one member: the states planned for it and not yet taken, and a release. */
interface Target {
  node: NodeId;
  /** Planned for it in the current view and not yet taken (or declined). */
  ids: string[];
  /** Bumped with every plan. */
  plan: number;
  /** Owed a release until one with nothing left to wait for (remainingMs 0) got through. */
  owed: boolean;
  /** A call to it is in flight: sends to one member go one at a time, so none overtakes another. */
  busy: boolean;
  /** Send again once the call in flight ends (the plan or the delays changed meanwhile). */
  again: boolean;
  timer: TimerHandle | undefined;
}

/**
 * Sends and receives handoffs for one DSMServer.
 *
 * A release lifts the receiver's lock-delay on every key the sender owned, so it must never arrive
 * before a state it covers: a message carries the release only when it also carries every state
 * still planned for its receiver (`last`), and the sends to one member go one at a time. Before
 * this, a release re-sent while the states were on their way overtook them, the heir served the
 * keys empty, and then skipped the states as a stale copy (fuzz seed 797: three holders of an n=2
 * semaphore).
 */
export class Handoff {
  readonly #h: HandoffHost;
  #stopped = false;
  /** The view the current plan was made in, and the one before it (if known). */
  #view: View | undefined;
  #previous: View | undefined;
  readonly #targets = new Map<string, Target>();
  readonly #inFlight = new Set<Promise<unknown>>();

  constructor(host: HandoffHost) {
    this.#h = host;
  }

  /** Members owed a release by views adopted while the server was not serving (see {@link missed}). */
  readonly #missed = new Set<string>();

  /**
   * This node adopted `view` (after `previous`) while its server was still loading its table at
   * start: the members that may have taken keys from it then are owed a release when it starts
   * (the table it loaded holds every grant it acknowledged). Before, a member that joined a founder
   * still loading its table (two tabs started at once) waited out the whole lock-delay for the
   * founder's keys. After a stop nothing is owed: the server dropped its state.
   */
  missed(view: View, previous: View | undefined): void {
    if (this.#stopped) return;
    for (const id of owedBy(view, previous, this.#h.kernel.self.id)) this.#missed.add(id);
  }

  /**
   * This node adopted `view` (after `previous`). Semaphores it holds but no longer owns go to
   * their owners; members that may have taken keys from it (joiners, or everyone when it left or
   * weights changed, and those of views it {@link missed}) get a release even when it held
   * nothing for them.
   */
  onView(view: View, previous: View | undefined): void {
    this.#stopped = false;
    this.#view = view;
    this.#previous = previous;
    const selfId = this.#h.kernel.self.id;
    const plannedBefore = new Map<string, string>();
    for (const [to, t] of this.#targets) for (const id of t.ids) plannedBefore.set(id, to);
    const byOwner = new Map<string, string[]>();
    for (const id of this.#h.store.ids()) {
      // '' once this node left (its ring is gone): what was planned stays planned.
      const owner = this.#h.owner(id) || (plannedBefore.get(id) ?? '');
      if (owner !== selfId && owner !== '') (byOwner.get(owner) ?? byOwner.set(owner, []).get(owner))?.push(id);
    }
    const owedTo = owedBy(view, previous, selfId);
    for (const id of this.#missed) owedTo.add(id);
    this.#missed.clear();
    for (const [to, t] of this.#targets) {
      if (view.members.some((m) => m.id === to)) continue;
      if (t.timer !== undefined) this.#h.kernel.env.clock.cancelTimer(t.timer);
      this.#targets.delete(to);
    }
    for (const m of view.members) {
      if (m.id === selfId) continue;
      const owed = owedTo.has(m.id);
      const ids = byOwner.get(m.id) ?? [];
      let t = this.#targets.get(m.id);
      if (t === undefined && ids.length === 0 && !owed) continue;
      t ??= { node: { id: m.id, address: m.address }, ids: [], plan: 0, owed: false, busy: false, again: false, timer: undefined };
      this.#targets.set(m.id, t);
      t.ids = ids;
      t.plan++;
      t.owed ||= owed;
      this.#pump(t);
    }
  }

  /** True while semaphore states are on their way to new owners (sent or due again, not yet taken). */
  sending(): boolean {
    for (const t of this.#targets.values()) if (t.ids.length > 0) return true;
    return false;
  }

  /** Resolves when no semaphore state is on its way any more (or after `timeoutMs`). */
  async drain(timeoutMs: number): Promise<void> {
    const clock = this.#h.kernel.env.clock;
    const deadline = clock.now() + timeoutMs;
    while (this.sending() && clock.now() < deadline) {
      await Promise.race([...this.#inFlight, new Promise<void>((resolve) => clock.setTimer(Math.max(1, Math.min(deadline - clock.now(), this.#h.retryMs)), () => resolve()))]);
    }
  }

  /** Stops sending. */
  stop(): void {
    this.#stopped = true;
    for (const t of this.#targets.values()) if (t.timer !== undefined) this.#h.kernel.env.clock.cancelTimer(t.timer);
    this.#targets.clear();
  }

  /**
   * A handoff from `from`: merge what is ours to serve and not yet served, lift the delay on what
   * `from` owned once its last message says no state of it is still on its way, sync, then answer
   * which ids were taken (the rest stay with the sender).
   */
  async receive(m: HandoffMessage, from: string): Promise<{ taken: string[] }> {
    // The sender adopted the view first; ours is usually on its way: wait for it a little.
    const clock = this.#h.kernel.env.clock;
    const deadline = clock.now() + this.#h.retryMs / 2;
    while ((this.#h.view()?.number ?? 0) < m.number && clock.now() < deadline) await new Promise<void>((resolve) => clock.setTimer(10, () => resolve()));
    const view = this.#h.view();
    if (view === undefined || view.cluster !== m.cluster) throw new ClusterluckError('NOT_OWNER', 'not in the sender\'s cluster');
    // On an older view we cannot tell which of our delays the release covers: the sender retries.
    if (view.number < m.number) throw new ClusterluckError('NOT_OWNER', `on view ${view.number}, behind the sender's ${m.number}`);
    const selfId = this.#h.kernel.self.id;
    const taken: string[] = [];
    for (const [id, state, heldMs] of m.items) {
      if (this.#h.owner(id) !== selfId) continue;
      // Already serving it: a copy re-sent after a crash or a timed-out call; what we have is newer.
      // (Nothing else lets us serve it first: its sender's release comes with its last state.)
      if (!this.#h.serving(id)) {
        this.#h.store.install(id, state);
        this.#h.releaseKey(id, from, m.number, heldMs);
      }
      taken.push(id);
    }
    // Answered only once the states and the release are stored: the sender forgets them when we
    // answer, and a release lost in a crash would make our restart wait out the whole lock-delay.
    const stored = m.last ? this.#h.release(from, m.number, m.remainingMs, m.movedOn === true) : undefined;
    await this.#h.synced();
    await stored;
    // A release cut our own delays short: whoever we passed the longer one on to hears again.
    if (clock.now() + this.#h.remainingDelayMs() < this.#passedOnUntil - 1) {
      for (const t of this.#targets.values()) if (t.owed) this.#pump(t);
    }
    this.#h.settled();
    return { taken };
  }

  /** When the longest delay we passed on in a release runs out (on our clock). */
  #passedOnUntil = 0;

  /** Sends `t` what is planned for it (at most a batch), with the release when that is all of it; one call at a time. */
  #pump(t: Target): void {
    if (t.busy) {
      t.again = true;
      return;
    }
    const clock = this.#h.kernel.env.clock;
    if (t.timer !== undefined) clock.cancelTimer(t.timer);
    t.timer = undefined;
    t.again = false;
    const name = this.#h.name();
    const view = this.#view;
    if (this.#stopped || name === undefined || view === undefined || this.#targets.get(t.node.id) !== t) return;
    const items: (readonly [string, SemaphoreSnapshot, number])[] = [];
    const gone = new Set<string>();
    let bytes = 0;
    for (const id of t.ids) {
      if (items.length === handoffBatchMax) break;
      const state = this.#h.store.snapshot(id);
      if (state === undefined) {
        gone.add(id);
        continue;
      }
      const size = id.length + JSON.stringify(state).length + 32;
      if (items.length > 0 && bytes + size > handoffBatchBytesMax) break;
      bytes += size;
      items.push([id, state, this.#h.heldMs(id)]);
    }
    if (gone.size > 0) t.ids = t.ids.filter((id) => !gone.has(id));
    const last = items.length === t.ids.length;
    if (!last || t.owed || items.length > 0) {
      this.#send(t, view, name, items, last);
    } else {
      this.#targets.delete(t.node.id);
    }
  }

  /**
   * Whether this node holds the state of a key that `to` owned in the view before and that now goes
   * to a third member (neither `to` nor this node). Without that view, any state going to a third
   * member counts.
   */
  #movedOn(to: string): boolean {
    const self = this.#h.kernel.self.id;
    const previous = this.#previous;
    const before = previous === undefined || previous.members.length === 0 ? undefined : viewRing(previous);
    for (const id of this.#h.store.ids()) {
      const now = this.#h.owner(id);
      if (now === to || now === self || now === '') continue;
      if (before === undefined || before.find(id).id === to) return true;
    }
    return false;
  }

  #send(t: Target, view: View, name: string, items: readonly (readonly [string, SemaphoreSnapshot, number])[], last: boolean): void {
    const clock = this.#h.kernel.env.clock;
    const movedOn = last && this.#movedOn(t.node.id);
    const body: HandoffMessage = { cluster: view.cluster, number: view.number, remainingMs: last ? this.#h.remainingDelayMs() : 0, last, items, ...(movedOn ? { movedOn: true } : {}) };
    if (last) this.#passedOnUntil = clock.now() + body.remainingMs;
    t.busy = true;
    const plan = t.plan;
    const call = this.#h.kernel.call({ node: t.node, name }, handoffEvent, body, { timeoutMs: this.#h.retryMs }).then((reply) => {
      t.busy = false;
      const taken = new Set(readTaken(reply));
      for (const id of taken) if (this.#h.owner(id) !== this.#h.kernel.self.id) this.#h.store.handedOver(id);
      // Sent and not taken: the receiver does not own it in its view; the next view plans it again.
      const done = plan === t.plan ? new Set(items.map(([id]) => id)) : taken;
      t.ids = t.ids.filter((id) => !done.has(id));
      if (last && body.number === this.#view?.number && body.remainingMs === 0) t.owed = false;
      if (![...this.#targets.values()].some((o) => o.owed)) this.#passedOnUntil = 0;
      // More states, or a change meanwhile: send again. A release that went through with a delay
      // still to run is sent again only when that delay is cut short (see receive).
      if (t.again || t.ids.length > 0) this.#pump(t);
      else if (!t.owed) this.#targets.delete(t.node.id);
    }, () => {
      // Unreachable or behind: try again while it is planned (a later view re-plans everything).
      t.busy = false;
      if (t.again) this.#pump(t);
      else if (!this.#stopped && this.#targets.get(t.node.id) === t) t.timer = clock.setTimer(this.#h.retryMs, () => this.#pump(t));
    });
    this.#inFlight.add(call);
    void call.finally(() => this.#inFlight.delete(call));
  }
}

/**
 * The members of `view` that may have taken keys from `self` in the change from `previous`: the
 * joiners, or every other member when `self` left or weights changed; none when `self` was not
 * in `previous` (it owned nothing there) or `previous` is unknown.
 */
function owedBy(view: View, previous: View | undefined, self: string): Set<string> {
  const owed = new Set<string>();
  if (previous === undefined || !previous.members.some((m) => m.id === self)) return owed;
  const stillIn = view.members.some((m) => m.id === self);
  const weightsMoved = view.members.some((m) => {
    const before = previous.members.find((p) => p.id === m.id);
    return before !== undefined && before.weight !== m.weight;
  });
  for (const m of view.members) {
    if (m.id === self) continue;
    const joined = !previous.members.some((p) => p.id === m.id);
    if (joined || !stillIn || weightsMoved) owed.add(m.id);
  }
  return owed;
}

/** Validates a handoff body; INVALID_ARGUMENT naming the bad field. */
export function parseHandoff(data: unknown): HandoffMessage {
  const o = obj(data, 'handoff');
  const cluster = o['cluster'];
  if (typeof cluster !== 'string' || cluster.length === 0 || cluster.length > 256) throw invalidArgument('cluster', cluster, 'a cluster id');
  const number = o['number'];
  if (typeof number !== 'number' || !Number.isSafeInteger(number) || number < 1) throw invalidArgument('number', number, 'a view number');
  const remainingMs = o['remainingMs'];
  if (typeof remainingMs !== 'number' || !(remainingMs >= 0) || !Number.isFinite(remainingMs)) throw invalidArgument('remainingMs', remainingMs, 'ms ≥ 0');
  const last = o['last'];
  if (typeof last !== 'boolean') throw invalidArgument('last', last, 'a boolean');
  const list = o['items'];
  if (!Array.isArray(list) || list.length > handoffBatchMax) throw invalidArgument('items', list, `an array of at most ${handoffBatchMax}`);
  const movedOn = o['movedOn'];
  if (movedOn !== undefined && movedOn !== true) throw invalidArgument('movedOn', movedOn, 'true or absent');
  const items = list.map((item: unknown, i): readonly [string, SemaphoreSnapshot, number] => {
    if (!Array.isArray(item) || item.length !== 3 || typeof item[0] !== 'string') throw invalidArgument(`items[${i}]`, item, '[id, state, heldMs]');
    const heldMs = item[2];
    if (typeof heldMs !== 'number' || !(heldMs >= 0) || !Number.isFinite(heldMs)) throw invalidArgument(`items[${i}][2]`, heldMs, 'ms ≥ 0');
    const st = obj(item[1], `items[${i}][1]`);
    const n = st['n'];
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) throw invalidArgument(`items[${i}].n`, n, 'an integer ≥ 1');
    const lastToken = st['lastToken'];
    if (typeof lastToken !== 'number' || !Number.isSafeInteger(lastToken) || lastToken < 0) throw invalidArgument(`items[${i}].lastToken`, lastToken, 'a token ≥ 0');
    const capValue = st['cap'];
    if (capValue !== undefined && !(typeof capValue === 'number' && Number.isSafeInteger(capValue) && capValue > n)) throw invalidArgument(`items[${i}].cap`, capValue, `an integer above n (${n}), or absent`);
    const cap = capValue ?? n;
    const hs = st['holders'];
    if (!Array.isArray(hs) || hs.length > cap) throw invalidArgument(`items[${i}].holders`, hs, `at most ${cap} [holder, ms, token, permits?] records`);
    let used = 0;
    const holders = hs.map((h: unknown, j): HolderRecord => {
      if (!Array.isArray(h) || (h.length !== 3 && h.length !== 4) || typeof h[0] !== 'string' || typeof h[1] !== 'number' || !(h[1] > 0) || !Number.isFinite(h[1])
        || typeof h[2] !== 'number' || !Number.isSafeInteger(h[2]) || h[2] < 1 || h[2] > lastToken
        || (h.length === 4 && !(typeof h[3] === 'number' && Number.isSafeInteger(h[3]) && h[3] >= 1))) {
        throw invalidArgument(`items[${i}].holders[${j}]`, h, `[holder, ms > 0, token from 1 to lastToken (${lastToken}), permits ≥ 1 or absent]`);
      }
      used += (h[3] as number | undefined) ?? 1;
      return h.length === 4 ? [h[0], h[1], h[2], h[3] as number] : [h[0], h[1], h[2]];
    });
    if (used > cap) throw invalidArgument(`items[${i}].holders`, hs, `holders of at most ${cap} slots in all`);
    const ws = st['waiters'];
    if (ws !== undefined && (!Array.isArray(ws) || ws.length > handedWaitersMax)) throw invalidArgument(`items[${i}].waiters`, ws, `at most ${handedWaitersMax} waiter records, or absent`);
    const waiters = ws?.map((w: unknown, j): WaiterRecord => {
      if (!Array.isArray(w) || w.length !== 5 || typeof w[0] !== 'string' || w[0].length === 0 || w[0].length > holderLengthMax
        || typeof w[1] !== 'string' || w[1].length === 0 || w[1].length > nodeIdLengthMax
        || !(typeof w[2] === 'number' && Number.isSafeInteger(w[2]) && w[2] >= 1 && w[2] <= n)
        || !(typeof w[3] === 'number' && w[3] > 0 && w[3] <= leaseMsMax)
        || !(w[4] === null || (typeof w[4] === 'number' && w[4] >= 0 && Number.isFinite(w[4])))) {
        throw invalidArgument(`items[${i}].waiters[${j}]`, w, `[key, caller, permits from 1 to n (${n}), leaseMs, ms ≥ 0 or null]`);
      }
      return [w[0], w[1], w[2], w[3], w[4] as number | null];
    });
    const state: SemaphoreSnapshot = cap > n ? { n, lastToken, holders, cap } : { n, lastToken, holders };
    return [item[0], waiters === undefined ? state : { ...state, waiters }, heldMs];
  });
  return { cluster, number, remainingMs, last, items, ...(movedOn === true ? { movedOn: true } : {}) };
}

function readTaken(reply: unknown): string[] {
  const taken = typeof reply === 'object' && reply !== null ? (reply as Record<string, unknown>)['taken'] : undefined;
  return Array.isArray(taken) ? taken.filter((t): t is string => typeof t === 'string') : [];
}

function obj(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidArgument(field, value, `an object, got ${show(value)}`);
  return value as Record<string, unknown>;
}
