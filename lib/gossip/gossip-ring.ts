import type { HashRing } from '../core/hash-ring.js';
import { inRing, memberStatus, Membership, type MembershipChange } from '../core/membership.js';
import { parseNodeId, type NodeId } from '../core/node-id.js';
import type { TimerHandle } from '../env/clock.js';
import { ClusterluckError, invalidArgument, show } from '../env/errors.js';
import { TypedEventTarget } from '../env/events.js';
import { GenServer, type Job } from '../kernel/gen-server.js';
import type { NetKernel } from '../kernel/net-kernel.js';
import { FailureDetector } from './failure-detector.js';
import { GossipEvent, readGossip, readPing, readPingReq, type GossipMessage, type PingReqMessage } from './gossip-codec.js';
import {
  checkRingId, resolveGossipOptions, type GossipInspection, type GossipRingEvents, type GossipRingOptions, type GossipStats,
  type ResolvedGossipOptions,
} from './gossip-options.js';
import { GossipProtocol } from './gossip-protocol.js';
import { GossipSender } from './gossip-sender.js';
import { summarizeChanges } from './member-changes.js';

/**
 * Clusterluck's GossipRing: cluster membership spread by gossip, SWIM failure detection, and a
 * consistent-hash ring derived from the members that are alive, suspect or down (not left or
 * removed). The table merges per member ({@link Membership}); see {@link GossipProtocol} for
 * the rounds and {@link FailureDetector} for probing and its bound.
 *
 * Every member registers under the same name (default `ring`). Messages of another ring id are
 * ignored (calls get an error); frames with a wrong cookie never get past the kernel.
 */
export class GossipRing extends GenServer {
  /** Ring changes, member state changes, join and leave. */
  readonly events = new TypedEventTarget<GossipRingEvents>();
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
  #ring: HashRing | undefined;
  #ringVersion = 0;
  #timers: TimerHandle[] = [];

  /** A gossip ring on `kernel`; `start(name?)` registers it. */
  constructor(kernel: NetKernel, options: GossipRingOptions = {}) {
    super(kernel, options);
    const o = (this.#o = resolveGossipOptions(options));
    this.#protocol = new GossipProtocol({
      kernel, stats: this.stats, send: this.#send, options: o,
      ringId: () => this.#ringId, table: () => this.#table, apply: (c) => this.#apply(c), joinByMeet: (id) => this.join(id),
    });
    const host = this.#protocol.probeHost((id, incarnation) => this.#suspect(id, incarnation),
      (id, incarnation, next) => this.#apply(one(this.#table.setLiveness(id, incarnation, next))));
    this.#detector = new FailureDetector(host, kernel.env.clock, kernel.env.random, o);
    this.handle(GossipEvent.gossip, (data, from) => this.#protocol.onGossip(data as GossipMessage, from.node));
    this.handle(GossipEvent.sync, (data) => this.#protocol.onSync(data as GossipMessage));
    this.handle(GossipEvent.ping, (data) => this.#protocol.onPing(data as { ring: string }));
    this.handle(GossipEvent.pingReq, (data) => this.#protocol.onPingReq(data as PingReqMessage));
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

  /** Joins ring `ringId`, admitting this node, and starts gossip; ALREADY_EXISTS when in another ring. */
  join(ringId: string): this {
    checkRingId(ringId);
    if (this.name === undefined) throw new ClusterluckError('NOT_RUNNING', 'start() the gossip ring before join()');
    if (this.#ringId === ringId) return this;
    if (this.#ringId !== undefined) throw new ClusterluckError('ALREADY_EXISTS', `already in ring ${show(this.#ringId)}`);
    this.#ringId = ringId;
    this.#leaving = false;
    const self = this.kernel.self;
    this.#detector.start();
    this.#every(this.#o.intervalMs, () => this.#protocol.gossipRound());
    this.#every(this.#o.healIntervalMs, () => this.#protocol.healRound());
    this.#apply(one(this.#table.insert(self, this.#table.get(self.id)?.weight ?? this.#o.weight, self.id)));
    const ringSize = this.#ringSize();
    for (const e of this.#table.entries()) if (e.node.id !== self.id) this.#detector.track(e.node.id, e, ringSize);
    this.events.emit('join', ringId);
    return this;
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
    this.#apply(one(this.#table.leave(self.id)));
    await this.#protocol.announce(this.#o.probeIntervalMs);
    this.#halt();
    const mine = this.#table.get(self.id);
    this.#table = new Membership();
    if (mine !== undefined) this.#table.merge([mine]);
    this.#ring = undefined;
    this.#ringVersion++;
    this.events.emit('leave', self);
  }

  /** Introduces `node`: admits it unless it is a member, and sends it our table (a node in no ring joins ours). */
  meet(node: NodeId): this {
    const n = parseNodeId(node);
    this.#joined();
    if (n.id === this.kernel.self.id) return this;
    this.#apply(one(this.#table.insert(n, this.#table.get(n.id)?.weight ?? 1, this.kernel.self.id)));
    this.#protocol.sendTable(n, true);
    return this;
  }

  /**
   * Meets `node` and exchanges whole tables with it in one call, so this node knows the cluster's
   * ring when it resolves true; false when the call failed or timed out (try again).
   */
  async sync(node: NodeId, timeoutMs: number): Promise<boolean> {
    this.meet(node);
    if (parseNodeId(node).id === this.kernel.self.id) return true;
    return this.#protocol.exchange(node, timeoutMs);
  }

  /** Admits `node` with `weight` (an operator change, spread by gossip). @default weight 1 */
  insert(node: NodeId, weight = 1): this {
    return this.minsert([node], weight);
  }

  /** Admits several nodes, each with `weight`. @default weight 1 */
  minsert(nodes: readonly NodeId[], weight = 1): this {
    this.#joined();
    if (!Array.isArray(nodes)) throw invalidArgument('nodes', nodes, 'an array of NodeIds');
    const parsed = nodes.map((n, i) => parseNodeId(n, `nodes[${i}]`));
    this.#apply(parsed.flatMap((n) => one(this.#table.insert(n, weight, this.kernel.self.id))));
    return this;
  }

  /** Sets a member's weight; NOT_FOUND for a non-member. */
  update(node: NodeId | string, weight: number): this {
    this.#joined();
    this.#apply(one(this.#table.update(idOf(node), weight, this.kernel.self.id)));
    return this;
  }

  /** Removes a member for good, until re-inserted or met again; unknown ids are ignored. */
  remove(node: NodeId | string): this {
    return this.mremove([node]);
  }

  /** Removes several members. */
  mremove(nodes: readonly (NodeId | string)[]): this {
    this.#joined();
    if (!Array.isArray(nodes)) throw invalidArgument('nodes', nodes, 'an array of NodeIds or ids');
    const ids = nodes.map(idOf);
    this.#apply(ids.flatMap((id) => one(this.#table.remove(id, this.kernel.self.id))));
    return this;
  }

  /**
   * The hash ring of the current members, built lazily. A new instance replaces it on every
   * change, so it is safe to hold; treat it as read-only (`clone()` it to experiment).
   */
  ring(): HashRing {
    this.#ring ??= this.#table.toRing({ vnodesPerWeight: this.#o.vnodesPerWeight });
    return this.#ring;
  }

  /** The member that owns `key` on the ring (NOT_FOUND when the ring is empty). */
  find(key: string): NodeId {
    return this.ring().find(key);
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
      stats: { ...this.stats, probes: this.#detector.stats.probes, probesFailed: this.#detector.stats.failed },
    };
  }

  /** Checks every field of each message before any handler runs; a malformed one gets BAD_MESSAGE and changes nothing. */
  override decodeSingleton(job: Job): Job | Error {
    const read = job.event === GossipEvent.gossip || job.event === GossipEvent.sync ? readGossip
      : job.event === GossipEvent.ping ? readPing : job.event === GossipEvent.pingReq ? readPingReq : undefined;
    if (read === undefined) return new ClusterluckError('NOT_FOUND', `no gossip event ${show(job.event)}`);
    const data = read(job.data);
    return data instanceof Error ? data : { event: job.event, data };
  }

  /** Emits events, arms failure timers and refutes rumours about this node, for a batch of changes. */
  #apply(changes: MembershipChange[]): void {
    if (changes.length === 0) return;
    const selfId = this.kernel.self.id;
    const { ringChanged, events } = summarizeChanges(changes);
    const ringSize = this.#ringSize();
    for (const c of changes) if (c.id !== selfId) this.#detector.track(c.id, c.after, ringSize);
    if (ringChanged) {
      this.#ring = undefined;
      this.#ringVersion++;
      this.events.emit('change', { version: this.#ringVersion, members: this.#table.entries().filter(inRing).map((e) => e.node) });
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
    this.#send.abortAll();
    this.#detector.stop();
    for (const t of this.#timers) this.kernel.env.clock.cancelTimer(t);
    this.#timers = [];
    this.#ringId = undefined;
  }
}

function one(c: MembershipChange | undefined): MembershipChange[] {
  return c === undefined ? [] : [c];
}

function idOf(node: NodeId | string): string {
  return typeof node === 'string' ? node : parseNodeId(node).id;
}
