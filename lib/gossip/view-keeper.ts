// The decided-view side of a GossipRing: this member's Paxos acceptor (stored before it answers),
// the view it adopted, catch-up, joins and leaves, and the ownership lease. The protocol steps are
// the pure ones of core/view-paxos.ts; the proposer is view-proposer.ts, the stored state's codec
// view-state.ts, the messages view-codec.ts. Over 300 lines on purpose: the acceptor, the adopted
// view, its lease and what is stored are one state that every handler here reads and changes.
import type { HashRing } from '../core/hash-ring.js';
import type { NodeId } from '../core/node-id.js';
import { OwnershipLease, type Ownership, type PendingDelay } from '../core/ownership-lease.js';
import {
  applyChanges, confirmationsNeeded, describeChange, foundView, isVoter, memberNode, memberOf, viewRing, type RemovalReason, type View, type ViewChange, type ViewMember,
} from '../core/view.js';
import {
  acceptorOn, acceptorStep, adoptView, changePending, type AcceptorState, type PaxosReply, type PaxosRequest,
} from '../core/view-paxos.js';
import { toHex } from '../env/bytes.js';
import { ClusterluckError } from '../env/errors.js';
import type { Storage } from '../env/storage.js';
import type { NetKernel } from '../kernel/net-kernel.js';
import { GossipEvent } from './gossip-codec.js';
import {
  readViewReply, writeJoin, writeViewMessage, writeViewReply, type JoinMessage, type ViewMessage, type ViewReply,
} from './view-codec.js';
import type { ResolvedGossipOptions } from './gossip-options.js';
import type { GossipSender } from './gossip-sender.js';
import { ViewProposer } from './view-proposer.js';
import { checkViewState, decodeViewState, encodeViewState, viewStateKey, type StoredViewState } from './view-state.js';

export { decodeViewState, encodeViewState, viewStateKey, type StoredViewState } from './view-state.js';

/** What the keeper needs of its ring. */
export interface ViewHost {
  readonly kernel: NetKernel;
  readonly send: GossipSender;
  readonly storage: Storage | undefined;
  readonly ringId: () => string | undefined;
  readonly options: Pick<ResolvedGossipOptions, 'weight' | 'vnodesPerWeight' | 'ownershipLeaseMs' | 'driftMax' | 'viewChangeTimeoutMs' | 'leaseMsMax' | 'lockDelay'>;
  /** A decided view was adopted (`previous`: the view before, if any). */
  onView(view: View, previous: View | undefined): void;
  /** True when failure detection currently holds `id` down or suspect (not worth waiting for). */
  unreachable(id: string): boolean;
}

/** Counters for inspection and the bench. */
export interface ViewStats {
  proposals: number;
  decided: number;
  adopted: number;
  confirmPings: number;
}

/** The view state machine of one member. */
export class ViewKeeper {
  readonly #h: ViewHost;
  readonly lease: OwnershipLease;
  readonly stats: ViewStats = { proposals: 0, decided: 0, adopted: 0, confirmPings: 0 };
  #acceptor: AcceptorState | undefined;
  #incarnation: string;
  #ring: (() => HashRing) | undefined;
  /** The view adopted before the current one, when it was the one just before (told to joiners). */
  #previous: View | undefined;
  readonly #proposer: ViewProposer;
  /** When this member first saw its acceptor with an accepted value and no decision (for recovery). */
  #pendingSinceMs: number | undefined;
  /** Serialises acceptor steps and their writes. */
  #chain: Promise<unknown> = Promise.resolve();
  #running = false;

  constructor(host: ViewHost) {
    this.#h = host;
    const o = host.options;
    this.lease = new OwnershipLease(host.kernel.self.id, o.ownershipLeaseMs, o.driftMax, o.leaseMsMax, o.lockDelay);
    this.#incarnation = toHex(host.kernel.env.random.bytes(6));
    this.#proposer = new ViewProposer({
      kernel: host.kernel, send: host.send, options: o, stats: this.stats, ringId: host.ringId, running: () => this.#running,
      view: () => this.view, isMember: () => this.isMember(), acceptor: () => this.#acceptor, changePending: () => this.changePending,
      unreachable: host.unreachable, onPaxos: (req) => this.onPaxos(req), adopt: (view) => this.adopt(view), push: (nodes, view) => this.#push(nodes, view),
    });
  }

  /** The adopted view, if any. */
  get view(): View | undefined {
    return this.#acceptor?.view;
  }

  /** This process's incarnation (a new one after a restart without stored state). */
  get incarnation(): string {
    return this.#incarnation;
  }

  /** True once this member accepted a value for the next view and has not adopted a decision. */
  get changePending(): boolean {
    return this.#acceptor !== undefined && changePending(this.#acceptor);
  }

  /** Changes asked for and not yet in a decided view. */
  get pending(): readonly ViewChange[] {
    return this.#proposer.pending;
  }

  /** The ring of the adopted view (undefined without one), built on first use. */
  ring(): HashRing | undefined {
    return this.#ring?.();
  }

  /** This member as a view member. */
  selfMember(weight = this.#h.options.weight): ViewMember {
    const self = this.#h.kernel.self;
    return { id: self.id, address: self.address, weight, incarnation: this.#incarnation };
  }

  /** True when this process is a voting member of its adopted view. */
  isMember(): boolean {
    const v = this.view;
    return v !== undefined && isVoter(v, this.#h.kernel.self.id, this.#incarnation);
  }

  /**
   * Starts: restores the stored acceptor (then this process keeps its incarnation and votes), or,
   * with `found`, founds a singleton view of a new cluster. Without either it has no view until a
   * member adds it.
   */
  async start(found: boolean): Promise<void> {
    this.#running = true;
    // Without storage this runs to the founding in one turn, so the ring is there when join() returns.
    const stored = this.#h.storage === undefined ? undefined : await this.#load();
    const now = this.#h.kernel.env.clock.now();
    if (stored?.state !== undefined) {
      this.#acceptor = stored.state;
      this.#incarnation = stored.incarnation;
      this.#installRing(stored.state.view, now, 'restore', stored.delays);
      return;
    }
    // The incarnation is durable before anyone can name it in a view: a joiner whose process dies
    // after asking to join but before it hears the view that adds it comes back as that same
    // member, instead of leaving behind a voter nobody will ever answer for (with two members,
    // a view no majority can change again). It has promised nothing yet (every promise is saved
    // before it is sent), so voting as it from an empty acceptor is safe.
    if (stored !== undefined) this.#incarnation = stored.incarnation;
    if (!found) {
      if (stored === undefined) await this.#save();
      return;
    }
    const cluster = toHex(this.#h.kernel.env.random.bytes(8));
    const view = foundView(cluster, this.selfMember());
    this.#acceptor = acceptorOn(view);
    this.#installRing(view, now, 'found');
    await this.#save();
  }

  /** No view yet, or alone in the one it founded: free to join any cluster. */
  isUnattached(): boolean {
    const v = this.view;
    return v === undefined || (v.members.length === 1 && v.members[0]?.id === this.#h.kernel.self.id);
  }

  /**
   * The cluster a join must stay in: the one of our view, unless we are unattached. A process that
   * was in a cluster of several never pairs up with another cluster by itself (it might be a wiped
   * restart's lone one at a member's address); an operator's invitation can still move it
   * (`joinVia(seed, ms, weight, null)`).
   */
  #ownCluster(): string | null {
    return this.isUnattached() ? null : (this.view as View).cluster;
  }

  /** True when this process is alone: unattached, or not a member of its view. */
  isAlone(): boolean {
    return this.isUnattached() || !this.isMember();
  }

  /**
   * `from` handed off what it owned as of view `number`: lifts our delays, and stores that (a
   * restart re-arms only what is still held back). Resolves once it is stored; rejects when the
   * write failed (the handoff is then not acknowledged, and its sender sends it again).
   */
  release(from: string, number: number, remainingMs: number, movedOn = false): Promise<void> {
    this.lease.release(from, number, remainingMs, this.#h.kernel.env.clock.now(), movedOn);
    return this.#saveQueued();
  }

  /** Resolves once every state write queued so far is done (or failed and logged). */
  flushed(): Promise<void> {
    return this.#chain.then(() => undefined);
  }

  /** Stops timers and fails every waiter. */
  stop(): void {
    this.#running = false;
    this.#proposer.stop();
  }

  /** Where `key` stands on this member now. */
  ownership(key: string): Ownership {
    return this.lease.ownership(key, this.#h.kernel.env.clock.now(), this.changePending);
  }

  /** True while this member may act as an owner in its view. */
  isServing(): boolean {
    return this.isMember() && this.lease.serving(this.#h.kernel.env.clock.now(), this.changePending);
  }

  /** What a probe carries and what its ack answers: the view number and whether a change is pending here. */
  probeBody(): { cluster: string; view: number; pending: boolean } | undefined {
    const v = this.view;
    return v === undefined ? undefined : { cluster: v.cluster, view: v.number, pending: this.changePending };
  }

  /**
   * An ack to our probe sent at `sentAtMs` said `id` is on `view` (`pending`: it accepted a value
   * for the next). Counts towards the ownership lease; a newer view makes us catch up from it.
   */
  onAck(node: NodeId, sentAtMs: number, ack: { cluster: string; view: number; pending: boolean }): void {
    const v = this.view;
    if (v === undefined || ack.cluster !== v.cluster) return;
    if (ack.view > v.number) void this.catchUp(node);
    else if (ack.view === v.number && !ack.pending) this.lease.confirm(node.id, ack.view, sentAtMs);
  }

  /** A probe from `node` said it is on `number`: if that is older than ours, push our view to it. */
  onProbe(node: NodeId, probe: { cluster: string; view: number } | undefined): void {
    const v = this.view;
    if (v === undefined || probe === undefined) return;
    if (probe.cluster === v.cluster && probe.view < v.number) this.#push([node], v);
  }

  /** Fetches `node`'s view and adopts it when newer. */
  async catchUp(node: NodeId): Promise<void> {
    const ring = this.#h.ringId();
    if (ring === undefined) return;
    const reply = await this.#h.send.call(node, GossipEvent.view, writeViewMessage({ ring, view: this.view, previous: undefined }), this.#h.options.viewChangeTimeoutMs);
    const got = readViewReply(reply);
    if (!(got instanceof Error)) this.adopt(got.view, got.previous);
  }

  /** A `view` message: adopt a pushed view if newer; answer with ours if it is newer than the sender's. */
  onViewMessage(data: ViewMessage): unknown {
    if (data.view !== undefined) this.adopt(data.view, data.previous);
    const mine = this.view;
    if (mine === undefined) return null;
    return data.view === undefined || data.view.cluster !== mine.cluster || data.view.number < mine.number ? writeViewReply(this.#viewBody(mine)) : null;
  }

  /** A view with the one before it, when known (so a receiver that missed it still knows who owned what). */
  #viewBody(view: View): ViewReply {
    const p = this.#previous;
    return { view, previous: p !== undefined && view === this.view && p.number === view.number - 1 ? p : undefined };
  }

  /** A `paxos` call: this member's acceptor step, stored before it answers. */
  onPaxos(req: PaxosRequest): Promise<PaxosReply> {
    const step = this.#chain.then(async (): Promise<PaxosReply> => {
      const a = this.#acceptor;
      if (a === undefined) return { type: 'not-voter' };
      const self = this.#h.kernel.self.id;
      const out = acceptorStep(a, { id: self, incarnation: this.#incarnation }, req);
      if (!out.changed) return out.reply;
      this.#acceptor = out.state;
      await this.#save();
      if (changePending(out.state)) this.#pendingSinceMs ??= this.#h.kernel.env.clock.now();
      return out.reply;
    });
    this.#chain = step.catch(() => undefined);
    return step;
  }

  /**
   * A `join` call: adds `member` by a view change and answers with the decided view holding it
   * (or the current one, if it already does). TIMEOUT when no view with it was decided in time.
   */
  async onJoin(m: JoinMessage): Promise<unknown> {
    const { member, cluster } = m;
    const v = this.view;
    // A member of another cluster asking back into its own: taking it would start a second cluster
    // (we may be a wiped process at its old member's address).
    if (cluster !== undefined && v?.cluster !== cluster) throw new ClusterluckError('NOT_A_MEMBER', `not a member of cluster ${cluster}`);
    if (v !== undefined && !this.isMember()) {
      // Not a member ourselves (removed, or left), but the decided view we know already holds the
      // joiner as it is now: that view is the answer (a restarted member that never heard it).
      if (isVoter(v, member.id, member.incarnation)) return writeViewReply(this.#viewBody(v));
      // Otherwise pass the request to a member of that view: the ones we are linked to and do not
      // hold down first, then the rest, until one answers (some may be gone for good).
      const kernel = this.#h.kernel;
      const self = kernel.self.id;
      const rank = (x: ViewMember): number => (kernel.isConnected(x.id) ? 0 : 1) + (kernel.isDown(x.id) ? 2 : 0);
      const vias = v.members.filter((x) => x.id !== self && x.id !== member.id).sort((a, b) => rank(a) - rank(b));
      if (vias.length === 0) throw new ClusterluckError('NOT_A_MEMBER', 'not a member of a view');
      let last: unknown;
      for (const via of vias) {
        try {
          return await this.#h.send.call(memberNode(via), GossipEvent.join, writeJoin(m), this.#h.options.viewChangeTimeoutMs * 4);
        } catch (err) {
          last = err;
        }
      }
      throw last;
    }
    // A joiner that gave up (its start timed out, its process died) asks again under a new
    // request, maybe a new id: its addition is withdrawn with the answer, not left to be decided
    // later for a process that is gone.
    const view = await this.change({ kind: 'add', member }, this.#h.options.viewChangeTimeoutMs * 4, true);
    return writeViewReply(this.#viewBody(view));
  }

  /**
   * Asks for `change` and resolves with the first decided view that satisfies it; TIMEOUT after
   * `timeoutMs` (the change stays pending and is proposed again until it is decided or superseded,
   * unless `withdrawOnTimeout`).
   */
  change(change: ViewChange, timeoutMs: number, withdrawOnTimeout = false): Promise<View> {
    return this.#proposer.change(change, timeoutMs, withdrawOnTimeout);
  }

  /** Drops a pending removal of `id` for `reason` (the member was heard from again). */
  forget(id: string, reason: RemovalReason): void {
    this.#proposer.forget(id, reason);
  }

  /** Asks `seed` to add this process to its cluster's view and adopts the answer. */
  async joinVia(seed: NodeId, timeoutMs: number, weight?: number, cluster: string | null = this.#ownCluster()): Promise<boolean> {
    const ring = this.#h.ringId();
    if (ring === undefined) return false;
    const member = this.selfMember(weight ?? (this.view === undefined ? undefined : memberOf(this.view, this.#h.kernel.self.id)?.weight));
    const reply = await this.#h.send.call(seed, GossipEvent.join, writeJoin({ ring, member, ...(cluster === null ? {} : { cluster }) }), timeoutMs);
    const got = readViewReply(reply);
    if (got instanceof Error || (cluster !== null && got.view.cluster !== cluster)) return false;
    const mine = this.view;
    // The seed is behind us (it answered from a view we are past): catch it up, and try again later.
    if (mine !== undefined && got.view.cluster === mine.cluster && got.view.number < mine.number) this.#push([seed], mine);
    this.adopt(got.view, got.previous);
    return this.isMember();
  }

  /**
   * Adopts a decided view: a later one of our cluster, or any view of another cluster that holds
   * this process when we have none or are alone in ours (a founder joining an existing cluster).
   */
  adopt(view: View, told?: View): void {
    const a = this.#acceptor;
    const now = this.#h.kernel.env.clock.now();
    const selfId = this.#h.kernel.self.id;
    // The view just before, if we had it or were told it: who owned what until this one.
    const before = a !== undefined && a.view.cluster === view.cluster && a.view.number === view.number - 1 ? a.view
      : told !== undefined && told.cluster === view.cluster && told.number === view.number - 1 ? told : undefined;
    if (a !== undefined && view.cluster === a.view.cluster) {
      if (view.number <= a.view.number) return;
      this.#acceptor = adoptView(a, view);
    } else {
      if (!this.isAlone() || !isVoter(view, selfId, this.#incarnation)) return;
      this.#acceptor = acceptorOn(view);
    }
    this.#previous = before;
    this.#installRing(view, now, before ?? null);
    this.#pendingSinceMs = undefined;
    this.stats.adopted++;
    this.#saveQueued();
    this.#h.onView(view, a?.view);
    this.#proposer.settle(view);
  }

  /**
   * Installs `view` with no vote (the operator's escape when a majority is gone for good, e.g. one
   * of two members dead). Unsafe: members cut off from this one may decide another view under the
   * same number. Logged as an error.
   */
  force(changes: readonly ViewChange[]): View {
    const current = this.view;
    if (current === undefined) throw new ClusterluckError('NOT_RUNNING', 'no view to change');
    const next = applyChanges(current, changes);
    if (next === undefined) return current;
    this.#h.kernel.env.logger.error('view forced without a majority: safety is not guaranteed for this change', { view: next.number, changes: changes.map(describeChange) });
    this.adopt(next);
    this.#push(next.members.map(memberNode), next);
    return next;
  }

  /** One tick of the keeper: asks members for lease confirmations when needed, retries, recovers. */
  tick(confirm: (node: NodeId) => void): void {
    const v = this.view;
    if (!this.#running || v === undefined || !this.isMember()) return;
    const now = this.#h.kernel.env.clock.now();
    const leaseMs = this.#h.options.ownershipLeaseMs;
    // Keep the lease: enough confirmations must still be fresh a third of a lease from now (one
    // spare); ask for the deficit, oldest confirmations first. Probe acks count too.
    const need = confirmationsNeeded(v);
    const deficit = need === 0 ? 0 : need + 1 - this.lease.fresh(now, leaseMs * 2 / 3);
    if (deficit > 0) {
      const stale = this.lease.stale(now, leaseMs / 3).filter((id) => !this.#h.unreachable(id));
      for (const id of stale.slice(0, deficit)) {
        const m = memberOf(v, id);
        if (m === undefined) continue;
        this.stats.confirmPings++;
        confirm(memberNode(m));
      }
    }
    // An accepted value with no decision for a while: finish the instance ourselves.
    if (this.changePending && this.#pendingSinceMs !== undefined && now - this.#pendingSinceMs > this.#h.options.viewChangeTimeoutMs * 2) {
      this.#pendingSinceMs = now;
      this.#proposer.drive(true);
    }
    if (this.#proposer.pending.length > 0) this.#proposer.drive();
  }

  #installRing(view: View, now: number, previous: View | null | 'found' | 'restore', pending: readonly PendingDelay[] = []): void {
    this.#ring = this.#ringOf(view);
    if (isVoter(view, this.#h.kernel.self.id, this.#incarnation)) this.lease.adopt(view, this.#ring, now, previous, (v) => this.#ringOf(v), pending);
    else this.lease.clear();
  }

  /** The ring of `view`, built on first use (a ring of 200 members holds 400,000 points). */
  #ringOf(view: View): () => HashRing {
    let built: HashRing | undefined;
    const vnodesPerWeight = this.#h.options.vnodesPerWeight;
    return () => (built ??= viewRing(view, { vnodesPerWeight }));
  }

  #push(nodes: readonly NodeId[], view: View): void {
    const ring = this.#h.ringId();
    if (ring === undefined) return;
    const body = writeViewMessage({ ring, ...this.#viewBody(view) });
    for (const n of nodes) if (n.id !== this.#h.kernel.self.id) this.#h.send.cast(n, GossipEvent.view, body);
  }

  async #load(): Promise<StoredViewState | undefined> {
    const storage = this.#h.storage;
    if (storage === undefined) return undefined;
    const bytes = await storage.read(viewStateKey);
    return bytes === undefined ? undefined : decodeViewState(bytes);
  }

  /** Saves after every acceptor step already queued (so an older state never overwrites a newer one); resolves once saved. */
  #saveQueued(): Promise<void> {
    const saved = this.#chain.then(() => this.#save());
    this.#chain = saved.catch((err: unknown) => this.#h.kernel.env.logger.error('view state not saved', { error: String(err) }));
    return saved;
  }

  async #save(): Promise<void> {
    const storage = this.#h.storage;
    const a = this.#acceptor;
    if (storage === undefined) return;
    const state: StoredViewState = a === undefined ? { state: undefined, incarnation: this.#incarnation, delays: [] }
      : { state: a, incarnation: this.#incarnation, delays: this.lease.pending(this.#h.kernel.env.clock.now()) };
    const bytes = encodeViewState(state);
    if (this.#h.kernel.checkCodecs) checkViewState(state, bytes);
    await storage.write(viewStateKey, bytes);
    await storage.sync(viewStateKey);
  }
}
