// The GossipRing: membership, views and ownership for a user, as one actor. Over 300 lines on
// purpose: it is the public surface (join, leave, meet, sync, insert, remove, the ownership
// queries), mostly short delegations, plus the table that follows each adopted view. The protocol
// is gossip-protocol.ts, failure detection failure-detector.ts, the views view-keeper.ts and
// view-proposer.ts, the messages gossip-codec.ts and view-codec.ts.
import { HashRing } from '../core/hash-ring.js';
import { inRing, memberStatus, Membership, type MembershipChange } from '../core/membership.js';
import type { Ownership } from '../core/ownership-lease.js';
import { memberOf, type View, type ViewChange } from '../core/view.js';
import { parseNodeId, type NodeId } from '../core/node-id.js';
import type { TimerHandle } from '../env/clock.js';
import { ClusterluckError, invalidArgument, show } from '../env/errors.js';
import { TypedEventTarget } from '../env/events.js';
import { GenServer, type Job } from '../kernel/gen-server.js';
import type { NetKernel } from '../kernel/net-kernel.js';
import { FailureDetector } from './failure-detector.js';
import { GossipEvent, readGossip, readPing, readPingReq, type GossipMessage, type PingMessage, type PingReqMessage } from './gossip-codec.js';
import {
  readInvite, readJoin, readPaxos, readViewMessage, writeInvite, type InviteMessage, type JoinMessage, type PaxosMessage, type ViewMessage,
} from './view-codec.js';
import {
  checkRingId, resolveGossipOptions, type GossipInspection, type GossipRingEvents, type GossipRingOptions, type GossipStats,
  type ResolvedGossipOptions,
} from './gossip-options.js';
import { GossipProtocol } from './gossip-protocol.js';
import { GossipSender } from './gossip-sender.js';
import { summarizeChanges } from './member-changes.js';
import { ViewKeeper, type ViewStats } from './view-keeper.js';

/**
 * Clusterluck's GossipRing, over decided views: the hash ring is the ring of the members of the
 * latest *view* this node adopted, and view v+1 exists only once a majority of view v accepted it
 * (single-decree Paxos per view number, {@link ViewKeeper}). Joins, leaves, operator changes and
 * auto-removals all go through it, so a minority side of a partition can never change who owns
 * what. Gossip spreads the member table (addresses, SWIM liveness) and views; SWIM failure
 * detection feeds removal *proposals*. A node serves as owner only under its ownership lease
 * ({@link GossipRing.ownership}). See {@link GossipProtocol} for the rounds and
 * {@link FailureDetector} for probing and its bound.
 *
 * Every member registers under the same name (default `ring`). Messages of another ring id are
 * ignored (calls get an error); frames with a wrong cookie never get past the kernel.
 */
export class GossipRing extends GenServer {
  /** Ring changes, member state changes, join and leave. */
  readonly events = new TypedEventTarget<GossipRingEvents>();
  /** Whether this ring keeps its view in storage across a restart (it does when it has storage). */
  readonly viewStored: boolean;
  /** Message and probe counters. */
  readonly stats: GossipStats = { digestsSent: 0, tablesSent: 0, pingsSent: 0, pingReqsSent: 0, syncsSent: 0, probes: 0, probesFailed: 0, foreign: 0 };
  readonly #o: ResolvedGossipOptions;
  readonly #send = new GossipSender(this);
  readonly #protocol: GossipProtocol;
  readonly #detector: FailureDetector;
  #table = new Membership();
  #ringId: string | undefined;
  /** Between the start of `leave()` and the next `join()`: our own left entry is then no rumour. */
  #leaving = false;
  #ringVersion = 0;
  #timers: TimerHandle[] = [];
  readonly #keeper: ViewKeeper;
  #ready: Promise<void> = Promise.resolve();
  /** Set when failure detection removed us: ask a member to add us back. */
  #rejoin = false;
  /** Nodes an operator inserted that are not in our view yet: invited again every heal round, for a while. */
  readonly #invited = new Map<string, { node: NodeId; weight: number; untilMs: number }>();
  /** The number of the view whose removal of us we last acted on. */
  #removalSeen = 0;

  /** A gossip ring on `kernel`; `start(name?)` registers it. */
  constructor(kernel: NetKernel, options: GossipRingOptions = {}) {
    super(kernel, options);
    const o = (this.#o = resolveGossipOptions(options));
    this.#protocol = new GossipProtocol({
      kernel, stats: this.stats, send: this.#send, options: o,
      ringId: () => this.#ringId, table: () => this.#table, apply: (c) => this.#apply(c), joinByMeet: (id) => this.join(id),
      probeView: () => this.#keeper.probeBody(),
      acked: (from, sentAtMs, view) => view !== undefined && this.#keeper.onAck(from, sentAtMs, view),
      probed: (from, view) => this.#keeper.onProbe(from, view),
      inView: (id) => this.#keeper.view === undefined || memberOf(this.#keeper.view, id) !== undefined,
    });
    const storage = options.storage ?? (kernel.env as { storage?: import('../env/storage.js').Storage }).storage;
    this.viewStored = storage !== undefined;
    this.#keeper = new ViewKeeper({
      kernel, send: this.#send, storage,
      ringId: () => this.#ringId, options: o,
      onView: (view, previous) => this.#onView(view, previous),
      unreachable: (id) => { const l = this.#table.get(id)?.liveness; return l === 'down' || l === 'removed'; },
    });
    const host = this.#protocol.probeHost((id, incarnation) => this.#suspect(id, incarnation), (id, incarnation, next) => {
      if (next === 'down') this.#apply(one(this.#table.setLiveness(id, incarnation, next)));
      else this.#proposeRemoval(id);
    });
    this.#detector = new FailureDetector(host, kernel.env.clock, kernel.env.random, o);
    // The probe counters are the detector's (they were a copy nobody updated: the metrics said 0).
    const detector = this.#detector;
    Object.defineProperties(this.stats, {
      probes: { get: () => detector.stats.probes, enumerable: true },
      probesFailed: { get: () => detector.stats.failed, enumerable: true },
    });
    this.handle(GossipEvent.gossip, (data, from) => {
      const answer = this.#protocol.onGossip(data as GossipMessage);
      if (answer !== undefined) this.#protocol.sendTableBody(from.node.id, answer);
    });
    this.handle(GossipEvent.sync, (data) => this.#protocol.onSync(data as GossipMessage));
    this.handle(GossipEvent.ping, (data, from) => this.#protocol.onPing(data as PingMessage, from.node));
    this.handle(GossipEvent.pingReq, (data) => this.#protocol.onPingReq(data as PingReqMessage));
    this.handle(GossipEvent.paxos, (data) => {
      const m = data as PaxosMessage;
      this.#checkRing(m.ring);
      return this.#keeper.onPaxos(m);
    });
    this.handle(GossipEvent.view, (data) => {
      const m = data as ViewMessage;
      this.#checkRing(m.ring);
      return this.#keeper.onViewMessage(m);
    });
    this.handle(GossipEvent.join, (data) => {
      const m = data as JoinMessage;
      this.#checkRing(m.ring);
      return this.#keeper.onJoin(m);
    });
    this.handle(GossipEvent.invite, (data, from) => {
      const m = data as InviteMessage;
      if (m.ring === this.#ringId) void this.#met(from.node, m.weight, m.alone);
      else this.stats.foreign++;
      return null;
    });
    kernel.addEventListener('connect', (e) => this.#protocol.onConnect(e.detail));
  }

  /** The ring id joined, or undefined. */
  get ringId(): string | undefined {
    return this.#ringId;
  }

  /** Registers as `name` (every member must use the same one) and joins `options.ringId` if set. @default name 'ring' */
  override start(name = 'ring'): this {
    super.start(name);
    if (this.#o.ringId !== undefined) this.join(this.#o.ringId);
    return this;
  }

  /** Stops gossip and probing without leaving (the others will detect it down), then the server. */
  override async stop(): Promise<void> {
    this.#halt();
    await super.stop();
  }

  /** Resolves once the view state writes queued so far are done: after `stop()` and the kernel's, nothing writes after it. */
  flushed(): Promise<void> {
    return this.#keeper.flushed();
  }

  /**
   * Joins ring `ringId`, admitting this node, and starts gossip; ALREADY_EXISTS when in another
   * ring. Without stored state it founds a new cluster, unless `found` is false (a node told to
   * join through a seed: it waits to be added, so it never serves a cluster of its own).
   */
  join(ringId: string, options: { readonly found?: boolean } = {}): this {
    checkRingId(ringId);
    if (this.name === undefined) throw new ClusterluckError('NOT_RUNNING', 'start() the gossip ring before join()');
    if (this.#ringId === ringId) return this;
    if (this.#ringId !== undefined) throw new ClusterluckError('ALREADY_EXISTS', `already in ring ${show(this.#ringId)}`);
    this.#ringId = ringId;
    this.#leaving = false;
    const self = this.kernel.self;
    this.#detector.start();
    this.#every(this.#o.intervalMs, () => this.#protocol.gossipRound());
    this.#every(this.#o.healIntervalMs, () => this.#healRound());
    this.#every(this.#o.ownershipLeaseMs / 3, () => this.#tick());
    this.#apply(one(this.#table.insert(self, this.#table.get(self.id)?.weight ?? this.#o.weight, self.id)));
    const ringSize = this.#ringSize();
    for (const e of this.#table.entries()) if (e.node.id !== self.id) this.#detector.track(e.node.id, e, ringSize);
    // Restore the stored acceptor (same incarnation, votes again), or found a singleton view.
    this.#ready = this.#keeper.start(options.found ?? true).then(() => {
      const v = this.#keeper.view;
      if (v !== undefined) this.#onView(v, undefined);
    });
    this.#ready.catch(() => undefined);
    this.events.emit('join', ringId);
    return this;
  }

  /** Resolves once `join` has restored or founded this node's view; rejects (STORAGE_CORRUPT) when the stored one is unreadable. */
  ready(): Promise<void> {
    return this.#ready;
  }

  /**
   * Leaves gracefully: marks this node left, hands that to up to `fanout` members (waiting at
   * most one probe interval), stops gossip, forgets the others and emits `leave`. Another
   * member may re-insert it, or it may `join` again.
   */
  async leave(): Promise<void> {
    const self = this.kernel.self;
    if (this.#ringId === undefined) return;
    this.#leaving = true;
    this.#rejoin = false;
    // The view without us, decided by a majority of the current one (our own vote counts).
    if (this.#keeper.isMember() && (this.#keeper.view?.members.length ?? 0) > 1) {
      await this.#keeper.change({ kind: 'remove', id: self.id, incarnation: this.#keeper.incarnation, reason: 'left' }, this.#o.viewChangeTimeoutMs * 4)
        .catch((err: unknown) => this.kernel.env.logger.warn('leave: no view without this node was decided; the others will remove it', { error: String(err) }));
    }
    this.#apply(one(this.#table.leave(self.id)));
    await this.#protocol.announce(this.#o.probeIntervalMs);
    this.#halt();
    const mine = this.#table.get(self.id);
    this.#table = new Membership();
    if (mine !== undefined) this.#table.merge([mine]);
    this.#ringVersion++;
    this.events.emit('leave', self);
  }

  /**
   * Introduces `node`: sends it our table; a node alone in its own view (or in none) then asks us
   * to add it to ours, by a view change. An invitation: two lone nodes that meet each other at the
   * same moment may each join the other's cluster, so have one side meet (or use `sync`).
   */
  meet(node: NodeId): this {
    const n = parseNodeId(node);
    this.#joined();
    if (n.id === this.kernel.self.id) return this;
    this.#apply(one(this.#table.insert(n, this.#table.get(n.id)?.weight ?? 1, this.kernel.self.id)));
    this.#protocol.sendTable(n, true);
    this.#invite(n, 1);
    return this;
  }

  /**
   * Exchanges whole tables with `node` and asks it to add this node to its view (a view change its
   * cluster decides), so this node is a member of that cluster's view when it resolves true; false
   * when a call failed or timed out (try again: the change stays pending on `node`).
   */
  async sync(node: NodeId, timeoutMs: number): Promise<boolean> {
    const n = parseNodeId(node);
    this.#joined();
    if (n.id === this.kernel.self.id) return true;
    this.#apply(one(this.#table.insert(n, this.#table.get(n.id)?.weight ?? 1, this.kernel.self.id)));
    if (!(await this.#protocol.exchange(n, timeoutMs))) return false;
    await this.#ready;
    return this.#keeper.joinVia(n, timeoutMs);
  }

  /** Invites `node` to join our view with `weight` (it asks to be added; a majority decides). @default weight 1 */
  insert(node: NodeId, weight = 1): this {
    return this.minsert([node], weight);
  }

  /** Admits several nodes, each with `weight`. @default weight 1 */
  minsert(nodes: readonly NodeId[], weight = 1): this {
    this.#joined();
    if (!Array.isArray(nodes)) throw invalidArgument('nodes', nodes, 'an array of NodeIds');
    const parsed = nodes.map((n, i) => parseNodeId(n, `nodes[${i}]`));
    this.#joined();
    const view = this.#keeper.view;
    for (const n of parsed) {
      if (n.id === this.kernel.self.id) continue;
      this.#apply(one(this.#table.insert(n, weight, this.kernel.self.id)));
      // The operator changed their mind about a removal not decided yet; or re-admits a member
      // removed recently, whose incarnation the view remembers: add it back directly.
      this.#keeper.forget(n.id, 'operator');
      const gone = view?.removed.find((r) => r.id === n.id);
      if (gone !== undefined && view !== undefined && memberOf(view, n.id) === undefined) {
        this.#change({ kind: 'add', member: { id: n.id, address: n.address, weight, incarnation: gone.incarnation } });
      }
      this.#invite(n, weight);
      this.#invited.set(n.id, { node: n, weight, untilMs: this.kernel.env.clock.now() + inviteRetryMs });
    }
    return this;
  }

  /** Sets a member's weight by a view change; NOT_FOUND for a non-member. */
  update(node: NodeId | string, weight: number): this {
    this.#joined();
    const id = idOf(node);
    if (this.#keeper.view === undefined || memberOf(this.#keeper.view, id) === undefined) throw new ClusterluckError('NOT_FOUND', `${show(id)} is not a member`);
    if (!Number.isSafeInteger(weight) || weight < 1 || weight > 64) throw invalidArgument('weight', weight, 'an integer in [1, 64]');
    this.#change({ kind: 'weight', id, weight });
    return this;
  }

  /** Removes a member by a view change, until invited again; unknown ids are ignored. */
  remove(node: NodeId | string): this {
    return this.mremove([node]);
  }

  /** Removes several members. */
  mremove(nodes: readonly (NodeId | string)[]): this {
    this.#joined();
    if (!Array.isArray(nodes)) throw invalidArgument('nodes', nodes, 'an array of NodeIds or ids');
    const ids = nodes.map(idOf);
    for (const id of ids) this.#change({ kind: 'remove', id, reason: 'operator' });
    return this;
  }

  /**
   * The operator's escape when a majority of the view is gone for good (one of two members dead):
   * installs the view without `ids` with no vote. Unsafe if the removed members are in fact alive
   * and cut off (they may still serve what they own); logged as an error. Prefer a third member.
   */
  forceRemove(ids: readonly (NodeId | string)[]): View {
    this.#joined();
    return this.#keeper.force(ids.map((n) => ({ kind: 'remove', id: idOf(n), reason: 'operator' })));
  }

  /** Asks for a view change and resolves with the decided view that holds it; TIMEOUT when none is decided in `timeoutMs`. */
  changeView(change: ViewChange, timeoutMs = this.#o.viewChangeTimeoutMs * 4): Promise<View> {
    this.#joined();
    return this.#keeper.change(change, timeoutMs);
  }

  /** The view this node adopted, if any. */
  view(): View | undefined {
    return this.#keeper.view;
  }

  /** True when this process is a voting member of the view it adopted (a restart on stored state is, until removed). */
  isMember(): boolean {
    return this.#ringId !== undefined && this.#keeper.isMember();
  }

  /** True while this node may act as an owner: a voting member of its view, ownership lease held, no change pending. */
  isServing(): boolean {
    return this.#ringId !== undefined && this.#keeper.isServing();
  }

  /** Where `key` stands here now: owner (serve it), not-owner (who is), or waiting (why, and until when if known). */
  ownership(key: string): Ownership {
    return this.#ringId === undefined ? { state: 'waiting', reason: 'no-view', untilMs: undefined } : this.#keeper.ownership(key);
  }

  /** How long a request may wait here for ownership to settle (a lease renewal, a handoff): two ownership leases. */
  ownershipWaitMs(): number {
    return 2 * this.#o.ownershipLeaseMs;
  }

  /** The lock-delay a key that comes here without a handoff waits: (leaseMsMax + ownershipLeaseMs)·(1+ρ)². */
  lockDelayMs(): number {
    return this.#keeper.lease.delayMs;
  }

  /** `from` handed off what it owned as of view `number`; its own lock-delay still ran `remainingMs`. Resolves once that is stored. */
  release(from: string, number: number, remainingMs: number, movedOn = false): Promise<void> {
    return this.#keeper.release(from, number, remainingMs, movedOn);
  }

  /** `from` handed over `key` with its state as of view `number`; its own delay held it back `remainingMs` more. */
  releaseKey(key: string, from: string, number: number, remainingMs: number): void {
    this.#keeper.lease.releaseKey(key, from, number, remainingMs, this.kernel.env.clock.now());
  }

  /** How long this node's own lock-delays still hold `key` back, ms (0 when not). */
  heldMs(key: string): number {
    const now = this.kernel.env.clock.now();
    return Math.max(0, this.#keeper.lease.heldUntilMs(key, now) - now);
  }

  /** How long this node's own lock-delays still run, ms (0 when none). */
  remainingDelayMs(): number {
    return this.#keeper.lease.remainingDelayMs(this.kernel.env.clock.now());
  }

  /**
   * The hash ring of the current members, built lazily. A new instance replaces it on every
   * change, so it is safe to hold; treat it as read-only (`clone()` it to experiment).
   */
  ring(): HashRing {
    return (this.#ringId === undefined ? undefined : this.#keeper.ring()) ?? (this.#empty ??= new HashRing({ vnodesPerWeight: this.#o.vnodesPerWeight }));
  }

  #empty: HashRing | undefined;

  /** The member that owns `key` on the ring (NOT_A_MEMBER when this node is in no view: its ring is empty). */
  find(key: string): NodeId {
    const ring = this.ring();
    if (ring.size() === 0) throw new ClusterluckError('NOT_A_MEMBER', `node ${show(this.kernel.self.id)} is in no view: its ring is empty`);
    return ring.find(key);
  }

  /** Round trip of probes to each member that answered one, ms (a moving average). */
  peerRttMs(): ReadonlyMap<string, number> {
    return this.#protocol.rttMs;
  }

  /** View changes: proposals made, decided by this node, views adopted, lease confirmations asked. */
  get viewStats(): Readonly<ViewStats> {
    return this.#keeper.stats;
  }

  /** A copy of the membership table. */
  membership(): Membership {
    return this.#table.clone();
  }

  /** Members with their state, incarnation and weight; the ring's version and checksums; counters. */
  inspect(): GossipInspection {
    return {
      self: this.kernel.self, ringId: this.#ringId, ringVersion: this.#ringVersion,
      ringChecksum: this.ring().checksum(), tableChecksum: this.#table.checksum(),
      members: this.#table.entries().map((e) => ({ ...e, status: memberStatus(e) })),
      stats: { ...this.stats },
      view: this.#keeper.view, incarnation: this.#keeper.incarnation, serving: this.isServing(),
      leaseExpiresAtMs: this.#keeper.lease.expiresAtMs(), changePending: this.#keeper.changePending, pendingChanges: this.#keeper.pending,
    };
  }

  /** Checks every field of each message before any handler runs; a malformed one gets BAD_MESSAGE and changes nothing. */
  override decodeSingleton(job: Job): Job | Error {
    const read = job.event === GossipEvent.gossip || job.event === GossipEvent.sync ? readGossip
      : job.event === GossipEvent.ping ? readPing : job.event === GossipEvent.pingReq ? readPingReq
      : job.event === GossipEvent.paxos ? readPaxos : job.event === GossipEvent.view ? readViewMessage
      : job.event === GossipEvent.join ? readJoin : job.event === GossipEvent.invite ? readInvite : undefined;
    if (read === undefined) return new ClusterluckError('BAD_MESSAGE', `no gossip event ${show(job.event)}`);
    const data = read(job.data);
    return data instanceof Error ? data : { event: job.event, data };
  }

  /** Emits events, arms failure timers and refutes rumours about this node, for a batch of changes. */
  #apply(changes: MembershipChange[]): void {
    if (changes.length === 0) return;
    const selfId = this.kernel.self.id;
    const { events } = summarizeChanges(changes);
    const ringSize = this.#ringSize();
    for (const c of changes) {
      if (c.id === selfId) continue;
      this.#detector.track(c.id, c.after, ringSize);
      // Calls to a member held down, or out of the view, fail fast (UNREACHABLE) instead of waiting
      // for a re-dial; any news of it alive (gossip, a probe ack) resets the re-dial backoff. A
      // forgotten entry drops the mark with it.
      const down = c.after !== undefined && (c.after.liveness === 'down' || c.after.liveness === 'removed' || c.after.admin !== 'in');
      if (down) this.kernel.markDown(c.id);
      else this.kernel.markUp(c.id);
      // Heard from again: a removal for being down is no longer wanted.
      if (c.after?.liveness === 'alive') this.#keeper.forget(c.id, 'down');
    }
    for (const detail of events) {
      this.events.emit('member', detail);
      if (detail.status !== undefined) this.events.emit(detail.status, detail);
    }
    // A rumour of our own failure: refute it with a higher incarnation (SWIM).
    const mine = this.#table.get(selfId);
    if (this.#ringId !== undefined && mine !== undefined && mine.liveness !== 'alive') this.#apply(one(this.#table.refute(selfId)));
    // Our own leave, written by an earlier process of ours: this one has joined since, so it joins over it.
    else if (this.#ringId !== undefined && !this.#leaving && mine?.admin === 'left') this.#apply(one(this.#table.insert(this.kernel.self, mine.weight, selfId)));
  }

  /** A decided view was adopted: the table follows it (addresses, probing), listeners hear of it. */
  #onView(view: View, previous: View | undefined): void {
    const selfId = this.kernel.self.id;
    const inView = new Set(view.members.map((m) => m.id));
    // An invited node is in: the invitation is done (a later removal must stick).
    for (const id of inView) this.#invited.delete(id);
    const changes: MembershipChange[] = [];
    for (const m of view.members) {
      const e = this.#table.get(m.id);
      if (e === undefined || e.admin !== 'in' || e.weight !== m.weight || e.node.address !== m.address) {
        changes.push(...one(this.#table.insert({ id: m.id, address: m.address }, m.weight, selfId)));
      }
    }
    for (const e of this.#table.entries()) {
      if (e.admin !== 'in' || inView.has(e.node.id) || e.node.id === selfId) continue;
      const left = view.removed.some((r) => r.id === e.node.id && r.reason === 'left');
      changes.push(...one(left ? this.#table.leave(e.node.id) : this.#table.remove(e.node.id, selfId)));
    }
    this.#apply(changes);
    const wasMember = previous !== undefined && memberOf(previous, selfId) !== undefined;
    if (!this.#keeper.isMember() && !this.#leaving) {
      // Removed, by this view or by one we missed (we may jump several views): for being down we
      // ask to come back, and for a leave too, since this process did not leave (it is a restart
      // whose disk missed the view its predecessor left by, started again to serve); by an
      // operator we wait to be invited. A removal acts once, so an invitation after it stands.
      const removal = view.removed.find((r) => r.id === selfId && r.incarnation === this.#keeper.incarnation);
      if (removal !== undefined ? removal.view > this.#removalSeen : wasMember) {
        this.#removalSeen = removal?.view ?? view.number;
        this.#rejoin = removal?.reason === 'down' || removal?.reason === 'left';
        this.kernel.env.logger.warn('removed from the view', { view: view.number, reason: removal?.reason ?? 'unknown', rejoin: this.#rejoin });
      }
    }
    this.#ringVersion++;
    this.events.emit('view', { view, previous });
    this.events.emit('change', { version: this.#ringVersion, members: view.members.map((m) => ({ id: m.id, address: m.address })) });
    this.#tick();
  }

  /** Every third of an ownership lease: lease confirmations, view-change retries. */
  #tick(): void {
    this.#keeper.tick((node) => void this.#protocol.ping(node, this.#o.probeTimeoutMs));
  }

  #healRound(): void {
    this.#protocol.healRound();
    const now = this.kernel.env.clock.now();
    for (const [id, i] of this.#invited) {
      if (now > i.untilMs) this.#invited.delete(id);
      else this.#invite(i.node, i.weight);
    }
    const v = this.#keeper.view;
    if (!this.#rejoin || v === undefined || this.#keeper.isMember()) return;
    const others = v.members.filter((m) => m.id !== this.kernel.self.id);
    const via = others[Math.floor(this.kernel.env.random.next() * others.length)];
    // Back into our own cluster only: the process at a member's address may be a new one that founded another.
    if (via !== undefined) void this.#keeper.joinVia({ id: via.id, address: via.address }, this.#o.healIntervalMs / 2, undefined, v.cluster).then((ok) => { if (ok) this.#rejoin = false; });
  }

  #invite(node: NodeId, weight: number): void {
    const ring = this.#ringId;
    if (ring !== undefined) this.#send.cast(node, GossipEvent.invite, writeInvite({ ring, weight, alone: this.#keeper.isAlone() }));
  }

  /**
   * A member met or invited us. Whoever is alone in its view joins the other's cluster; of two lone
   * founders the one with the larger id joins the smaller's (so two that meet each other at once
   * agree); two clusters of several members never merge (remove and re-add members instead). A
   * member removed from a cluster of several is not a lone founder: it joins another cluster only
   * when a member of one invites it (an operator's meet or insert), never by pairing up with a
   * lone node (a restarted, wiped process whose seed it happens to be), which would start a second
   * cluster serving the same semaphores.
   */
  async #met(from: NodeId, weight: number, senderAlone: boolean): Promise<void> {
    await this.#ready.catch(() => undefined);
    const selfId = this.kernel.self.id;
    const alone = this.#keeper.isAlone();
    const view = this.#keeper.view;
    // Removed from the cluster (by an operator, or after a leave) and invited back by a member: ask
    // to be added until a view has us again, through any member (the inviter may go meanwhile).
    if (view !== undefined && !this.#keeper.isMember() && !this.#leaving && memberOf(view, from.id) !== undefined) this.#rejoin = true;
    if (alone && (!senderAlone || (this.#keeper.isUnattached() && from.id < selfId))) {
      // A few tries: the inviter may be behind and catch up from our answer.
      for (let attempt = 0; attempt < 5 && this.#ringId !== undefined && this.#keeper.isAlone(); attempt++) {
        // Invited: into the inviter's cluster, whichever it is.
        if (await this.#keeper.joinVia(from, this.#o.viewChangeTimeoutMs * 4, weight, null)) return;
        await new Promise<void>((resolve) => this.kernel.env.clock.setTimer(this.#o.viewChangeTimeoutMs, () => resolve()));
      }
    }
    else if (senderAlone && this.#keeper.isMember()) this.#invite(from, 1);
    else if (!alone && (this.#keeper.view === undefined || memberOf(this.#keeper.view, from.id) === undefined)) {
      this.kernel.env.logger.warn('met a member of another cluster; clusters of several members do not merge', { from: from.id });
    }
  }

  #proposeRemoval(id: string): void {
    const m = this.#keeper.view === undefined ? undefined : memberOf(this.#keeper.view, id);
    if (m === undefined || !this.#keeper.isMember()) return;
    this.kernel.env.logger.info('proposing the removal of a member down too long', { id, autoRemoveAfterMs: this.#o.autoRemoveAfterMs });
    this.#change({ kind: 'remove', id, incarnation: m.incarnation, reason: 'down' }, this.#o.autoRemoveAfterMs ?? this.#o.viewChangeTimeoutMs * 4);
  }

  /** Asks for a change without waiting; a TIMEOUT is logged (the change stays pending and is retried). */
  #change(change: ViewChange, timeoutMs = this.#o.viewChangeTimeoutMs * 4): void {
    this.#keeper.change(change, timeoutMs).catch((err: unknown) => this.kernel.env.logger.debug('view change not decided yet', { error: String(err) }));
  }

  #checkRing(ring: string): void {
    if (ring !== this.#ringId) throw new ClusterluckError('INVALID_ARGUMENT', 'not a member of that ring');
  }

  #suspect(id: string, incarnation: number): void {
    const change = this.#table.setLiveness(id, incarnation, 'suspect');
    this.#apply(one(change));
    // Tell the suspect at once, so that if it is alive it can refute before the timeout.
    if (change?.after !== undefined) this.#protocol.sendTable(change.after.node, false);
  }

  #ringSize(): number {
    let n = 0;
    for (const e of this.#table.entries()) if (inRing(e)) n++;
    return n;
  }

  #joined(): string {
    if (this.#ringId === undefined) throw new ClusterluckError('NOT_RUNNING', 'join() a ring first');
    return this.#ringId;
  }

  /** Runs `fn` every `periodMs`, first after a random fraction of it (so nodes do not act in step). */
  #every(periodMs: number, fn: () => void): void {
    const at = this.#timers.length;
    const arm = (delayMs: number): void => {
      this.#timers[at] = this.kernel.env.clock.setTimer(delayMs, () => {
        arm(periodMs);
        fn();
      });
    };
    arm(this.kernel.env.random.next() * periodMs);
  }

  #halt(): void {
    this.#keeper.stop();
    this.#send.abortAll();
    this.#detector.stop();
    for (const t of this.#timers) this.kernel.env.clock.cancelTimer(t);
    this.#timers = [];
    this.#ringId = undefined;
  }
}

/** How long an operator's insert keeps inviting a node that has not joined yet. */
const inviteRetryMs = 5 * 60_000;

function one(c: MembershipChange | undefined): MembershipChange[] {
  return c === undefined ? [] : [c];
}

function idOf(node: NodeId | string): string {
  return typeof node === 'string' ? node : parseNodeId(node).id;
}
