// Handoff: when a view change moves semaphores away from this node, it sends each one's state
// (n, every holder with the time it still has) to its new owner, with a release that lets the new
// owner serve what this node owned without waiting out the lock-delay. This node has stopped
// serving them (they are not its own in the view it adopted). The new owner merges, syncs, and
// acknowledges; only then does this node forget them. Without a handoff (this node crashed, is cut
// off, or lost its table) the new owner waits the lock-delay instead (see ownership-lease.ts).
import type { NodeId } from '../core/node-id.js';
import type { View } from '../core/view.js';
import { ClusterluckError, invalidArgument, show } from '../env/errors.js';
import type { TimerHandle } from '../env/clock.js';
import type { NetKernel } from '../kernel/net-kernel.js';
import type { SemaphoreSnapshot, SemaphoreStore } from './semaphores.js';

/** The DSM event name of a handoff. */
export const handoffEvent = 'handoff';

/** Most semaphores in one handoff message. */
export const handoffBatchMax = 512;

/**
 * A handoff: the sender's view, what its own lock-delays still had to run (for keys it sends no
 * state of), and the states it sends, each with what the sender's delay still held it back (0 when
 * the sender was serving it).
 */
export interface HandoffMessage {
  readonly cluster: string;
  readonly number: number;
  readonly remainingMs: number;
  readonly items: readonly (readonly [string, SemaphoreSnapshot, number])[];
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
  /** `from` handed off what it owned as of view `number`, its own delay still running `remainingMs`. */
  release(from: string, number: number, remainingMs: number): void;
  /** `from` handed over `id` with its state as of view `number`; its delay held it back `remainingMs` more. */
  releaseKey(id: string, from: string, number: number, remainingMs: number): void;
  /** How long this node's own delays still hold `id` back (0 when not). */
  heldMs(id: string): number;
  /** How long this node's own lock-delays still run. */
  remainingDelayMs(): number;
  /** Resolves once every change so far is durable. */
  synced(): Promise<void>;
  /** Time between attempts to reach a new owner. */
  readonly retryMs: number;
}

/** Sends and receives handoffs for one DSMServer. */
export class Handoff {
  readonly #h: HandoffHost;
  /** Bumped on every view: an older round's retries stop. */
  #round = 0;
  readonly #inFlight = new Set<Promise<unknown>>();
  /** Members owed a release (it is cumulative: one for a later view covers the earlier ones), until one is acknowledged. */
  readonly #owed = new Map<string, NodeId>();
  readonly #timers = new Set<TimerHandle>();

  constructor(host: HandoffHost) {
    this.#h = host;
  }

  /**
   * This node adopted `view` (after `previous`). Semaphores it holds but no longer owns go to
   * their owners; members that may have taken keys from it (joiners, or everyone when it left or
   * weights changed) get a release even when it held nothing for them.
   */
  onView(view: View, previous: View | undefined): void {
    const round = ++this.#round;
    this.#sendingIds.clear(); // re-planned below from what the store holds
    const selfId = this.#h.kernel.self.id;
    const targets = new Map<string, NodeId>();
    const byOwner = new Map<string, string[]>();
    for (const id of this.#h.store.ids()) {
      const owner = this.#h.owner(id);
      if (owner !== selfId) (byOwner.get(owner) ?? byOwner.set(owner, []).get(owner))?.push(id);
    }
    const wasIn = previous?.members.find((m) => m.id === selfId);
    const stillIn = view.members.find((m) => m.id === selfId);
    const weightsMoved = previous !== undefined && view.members.some((m) => {
      const before = previous.members.find((p) => p.id === m.id);
      return before !== undefined && before.weight !== m.weight;
    });
    for (const m of view.members) {
      if (m.id === selfId) continue;
      const joined = previous !== undefined && !previous.members.some((p) => p.id === m.id);
      if (byOwner.has(m.id) || (wasIn !== undefined && (joined || stillIn === undefined || weightsMoved))) this.#owed.set(m.id, { id: m.id, address: m.address });
    }
    for (const [id, node] of this.#owed) {
      if (view.members.some((m) => m.id === id)) targets.set(id, node);
      else this.#owed.delete(id);
    }
    for (const node of targets.values()) this.#send(round, view, node, byOwner.get(node.id) ?? []);
  }

  /** True while semaphore states are on their way to new owners (sent or due again, not yet taken). */
  sending(): boolean {
    return this.#sendingIds.size > 0;
  }

  /** Ids sent (or to be sent again) and not yet acknowledged. */
  readonly #sendingIds = new Set<string>();

  /** Resolves when no semaphore state is on its way any more (or after `timeoutMs`). */
  async drain(timeoutMs: number): Promise<void> {
    const clock = this.#h.kernel.env.clock;
    const deadline = clock.now() + timeoutMs;
    while (this.#sendingIds.size > 0 && clock.now() < deadline) {
      await Promise.race([...this.#inFlight, new Promise<void>((resolve) => clock.setTimer(Math.max(1, Math.min(deadline - clock.now(), this.#h.retryMs)), () => resolve()))]);
    }
  }

  /** Stops retrying. */
  stop(): void {
    this.#round++;
    this.#sendingIds.clear();
    for (const t of this.#timers) this.#h.kernel.env.clock.cancelTimer(t);
    this.#timers.clear();
  }

  /**
   * A handoff from `from`: merge what is ours to serve and not yet served, lift the delay on what
   * `from` owned, sync, then answer which ids were taken (the rest stay with the sender).
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
      // Already serving it (a stale copy, re-sent after a crash): what we have is newer.
      if (!this.#h.serving(id)) {
        this.#h.store.install(id, state);
        this.#h.releaseKey(id, from, m.number, heldMs);
      }
      taken.push(id);
    }
    this.#h.release(from, m.number, m.remainingMs);
    await this.#h.synced();
    // A release cut our own delays short: whoever we passed the longer one on to hears again.
    if (clock.now() + this.#h.remainingDelayMs() < this.#passedOnUntil - 1) this.#resend();
    return { taken };
  }

  /** When the longest delay we passed on in a release runs out (on our clock). */
  #passedOnUntil = 0;

  /** Sends a fresh release (and anything still held for them) to every member still owed one. */
  #resend(): void {
    const view = this.#h.view();
    if (view === undefined) return;
    const byOwner = new Map<string, string[]>();
    for (const id of this.#h.store.ids()) {
      const owner = this.#h.owner(id);
      (byOwner.get(owner) ?? byOwner.set(owner, []).get(owner))?.push(id);
    }
    for (const node of this.#owed.values()) this.#send(this.#round, view, node, byOwner.get(node.id) ?? []);
  }

  #send(round: number, view: View, node: NodeId, ids: readonly string[]): void {
    const clock = this.#h.kernel.env.clock;
    const name = this.#h.name();
    if (name === undefined || round !== this.#round) return;
    const batch = ids.slice(0, handoffBatchMax);
    const items = batch.flatMap((id) => {
      const state = this.#h.store.snapshot(id);
      return state === undefined ? [] : [[id, state, this.#h.heldMs(id)] as const];
    });
    const body: HandoffMessage = { cluster: view.cluster, number: view.number, remainingMs: this.#h.remainingDelayMs(), items };
    this.#passedOnUntil = clock.now() + body.remainingMs;
    for (const [id] of items) this.#sendingIds.add(id);
    const call = this.#h.kernel.call({ node, name }, handoffEvent, body, { timeoutMs: this.#h.retryMs }).then((reply) => {
      for (const id of readTaken(reply)) {
        this.#sendingIds.delete(id);
        if (this.#h.owner(id) !== this.#h.kernel.self.id) this.#h.store.handedOver(id);
      }
      const rest = ids.slice(batch.length);
      if (rest.length > 0) this.#send(round, view, node, rest);
      // Owed until a release with nothing left to wait for got through.
      else if (round === this.#round && body.remainingMs === 0) this.#owed.delete(node.id);
      if (this.#owed.size === 0) this.#passedOnUntil = 0;
    }, () => {
      // Unreachable or behind: try again while this view lasts (a later view re-plans everything).
      const timer = clock.setTimer(this.#h.retryMs, () => {
        this.#timers.delete(timer);
        this.#send(round, view, node, ids.filter((id) => this.#h.owner(id) === node.id));
      });
      this.#timers.add(timer);
    });
    this.#inFlight.add(call);
    void call.finally(() => this.#inFlight.delete(call));
  }
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
  const list = o['items'];
  if (!Array.isArray(list) || list.length > handoffBatchMax) throw invalidArgument('items', list, `an array of at most ${handoffBatchMax}`);
  const items = list.map((item: unknown, i): readonly [string, SemaphoreSnapshot, number] => {
    if (!Array.isArray(item) || item.length !== 3 || typeof item[0] !== 'string') throw invalidArgument(`items[${i}]`, item, '[id, state, heldMs]');
    const heldMs = item[2];
    if (typeof heldMs !== 'number' || !(heldMs >= 0) || !Number.isFinite(heldMs)) throw invalidArgument(`items[${i}][2]`, heldMs, 'ms ≥ 0');
    const st = obj(item[1], `items[${i}][1]`);
    const n = st['n'];
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) throw invalidArgument(`items[${i}].n`, n, 'an integer ≥ 1');
    const lastToken = st['lastToken'];
    if (typeof lastToken !== 'number' || !Number.isSafeInteger(lastToken) || lastToken < 0) throw invalidArgument(`items[${i}].lastToken`, lastToken, 'a token ≥ 0');
    const hs = st['holders'];
    if (!Array.isArray(hs) || hs.length > n) throw invalidArgument(`items[${i}].holders`, hs, `at most n (${n}) [holder, ms, token] triples`);
    const holders = hs.map((h: unknown, j): readonly [string, number, number] => {
      if (!Array.isArray(h) || h.length !== 3 || typeof h[0] !== 'string' || typeof h[1] !== 'number' || !(h[1] > 0) || !Number.isFinite(h[1])
        || typeof h[2] !== 'number' || !Number.isSafeInteger(h[2]) || h[2] < 1 || h[2] > lastToken) {
        throw invalidArgument(`items[${i}].holders[${j}]`, h, `[holder, ms > 0, token from 1 to lastToken (${lastToken})]`);
      }
      return [h[0], h[1], h[2]];
    });
    return [item[0], { n, lastToken, holders }, heldMs];
  });
  return { cluster, number, remainingMs, items };
}

function readTaken(reply: unknown): string[] {
  const taken = typeof reply === 'object' && reply !== null ? (reply as Record<string, unknown>)['taken'] : undefined;
  return Array.isArray(taken) ? taken.filter((t): t is string => typeof t === 'string') : [];
}

function obj(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidArgument(field, value, `an object, got ${show(value)}`);
  return value as Record<string, unknown>;
}
