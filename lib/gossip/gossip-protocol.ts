// What a gossip ring says and answers: the message handlers, the gossip and heal rounds, and the
// probes the failure detector runs. State (the table, the ring id) stays with the GossipRing,
// reached through a small host interface.
import type { MemberEntry, Membership, MembershipChange } from '../core/membership.js';
import type { NodeId } from '../core/node-id.js';
import { ClusterluckError } from '../env/errors.js';
import { randomInt, sample } from '../env/random.js';
import type { NetKernel } from '../kernel/net-kernel.js';
import type { ProbeHost } from './failure-detector.js';
import {
  GossipEvent, readGossip, readPing, readPingReqReply, writeGossip, writePing, writePingReq, writePingReqReply, type GossipMessage,
  type PingMessage, type PingReqMessage,
} from './gossip-codec.js';
import type { GossipStats, ResolvedGossipOptions } from './gossip-options.js';
import type { GossipSender } from './gossip-sender.js';

/** What the protocol needs of its ring. */
export interface ProtocolHost {
  readonly kernel: NetKernel;
  readonly stats: GossipStats;
  readonly send: GossipSender;
  readonly options: ResolvedGossipOptions;
  /** The joined ring id, or undefined. */
  ringId(): string | undefined;
  table(): Membership;
  /** Applies table changes: events, failure timers, refutation. */
  apply(changes: MembershipChange[]): void;
  /** Joins `ringId` because a member met this node. */
  joinByMeet(ringId: string): void;
  /** The view's probe body (cluster, number, pending), if this node has a view. */
  probeView(): PingMessage['view'];
  /** An ack to our probe sent at `sentAtMs`. */
  acked(from: NodeId, sentAtMs: number, view: PingMessage['view']): void;
  /** A probe arrived from `from`. */
  probed(from: NodeId, view: PingMessage['view']): void;
  /** True when `id` is a member of the adopted view (or there is none yet). */
  inView(id: string): boolean;
}

/** True for a member this node gossips with and probes: admitted, alive or suspect. */
export function reachable(e: MemberEntry): boolean {
  return e.admin === 'in' && (e.liveness === 'alive' || e.liveness === 'suspect');
}

/** Weight of the newest sample in the probe round-trip average (TCP's SRTT gain, RFC 6298). */
const rttWeight = 1 / 8;

/**
 * The gossip protocol. Rounds: every interval a digest (the table checksum) goes to `fanout`
 * random reachable members; a peer whose table differs answers with its whole table and asks
 * for ours back, so both end with the merge (push-pull, three messages at most). Every heal
 * interval one down or failure-removed member gets our table in a call, so it can refute and
 * partitions merge once the network heals.
 */
export class GossipProtocol {
  readonly #h: ProtocolHost;
  /** Round trip of probes to each member that answered one, ms (a moving average, as TCP's SRTT). */
  readonly rttMs = new Map<string, number>();

  /** The protocol of one ring. */
  constructor(host: ProtocolHost) {
    this.#h = host;
  }

  /**
   * A `gossip` cast: merge a table; the answer to a differing digest or table is our table, which
   * this returns (a `gossip` body) for the caller to cast back to the sender, or undefined for none.
   */
  onGossip(m: GossipMessage): unknown {
    const h = this.#h;
    if (m.ring !== h.ringId()) {
      if (!m.meet || h.ringId() !== undefined) return void h.stats.foreign++;
      h.joinByMeet(m.ring);
    }
    const table = h.table();
    if (m.members !== undefined) h.apply(table.merge(m.members));
    return (m.reply || m.members === undefined) && table.checksum() !== m.sum ? writeGossip(m.ring, table, true, m.members === undefined) : undefined;
  }

  /** A `sync` call (heal attempt, leave notice): merge, and reply with our table if it differs. */
  onSync(m: GossipMessage): unknown {
    this.#checkRing(m.ring);
    const table = this.#h.table();
    if (m.members !== undefined) this.#h.apply(table.merge(m.members));
    return m.reply && table.checksum() !== m.sum ? writeGossip(m.ring, table, true, false) : null;
  }

  /** A direct probe: ack with the ring id and our view. */
  onPing(m: PingMessage, from: NodeId): unknown {
    this.#checkRing(m.ring);
    this.#h.probed(from, m.view);
    return writePing(m.ring, this.#h.probeView());
  }

  /** An indirect probe request: probe the target ourselves and say whether it acked. */
  async onPingReq(m: PingReqMessage): Promise<unknown> {
    this.#checkRing(m.ring);
    return writePingReqReply({ ok: await this.ping(m.target, this.#h.options.probeTimeoutMs) });
  }

  /** A connection opened: if it is to a member we gave up on, exchange tables now so it can refute. */
  onConnect(node: NodeId): void {
    const ringId = this.#h.ringId();
    const e = this.#h.table().get(node.id);
    if (ringId === undefined || e === undefined || e.admin !== 'in' || (e.liveness !== 'down' && e.liveness !== 'removed')) return;
    this.#sendTable(node.id, writeGossip(ringId, this.#h.table(), true, true));
  }

  /** Sends our table to `node` (a meet, or a notice to a member we suspect). */
  sendTable(node: NodeId, meet: boolean): void {
    const ringId = this.#h.ringId();
    if (ringId !== undefined) this.#sendTable(node, writeGossip(ringId, this.#h.table(), true, meet, meet));
  }

  /** One gossip round: our digest to `fanout` random reachable members. */
  gossipRound(): void {
    const ringId = this.#h.ringId();
    if (ringId === undefined) return;
    const body = writeGossip(ringId, this.#h.table(), false, true);
    for (const p of sample(this.#h.kernel.env.random, this.live(), this.#h.options.fanout)) {
      if (this.#h.send.cast(p.node, GossipEvent.gossip, body)) this.#h.stats.digestsSent++;
    }
  }

  /** One heal round: prune tombstones, let go of unreachable peers, try one lost member. */
  healRound(): void {
    const h = this.#h;
    const ringId = h.ringId();
    if (ringId === undefined) return;
    const selfId = h.kernel.self.id;
    const pruned = h.table().prune(h.kernel.env.clock.now(), h.options).filter((c) => c.id !== selfId);
    h.apply(pruned);
    for (const c of pruned) this.#letGo(c.id);
    const others = h.table().entries().filter((e) => e.node.id !== selfId);
    // Stop the kernel re-dialling members we no longer talk to (late, so queued gossip got out).
    for (const e of others) if (!reachable(e)) this.#letGo(e.node.id);
    const lost = others.filter((e) => e.admin === 'in' && (e.liveness === 'down' || e.liveness === 'removed'));
    const target = lost[randomInt(h.kernel.env.random, lost.length)];
    if (target === undefined) return;
    h.stats.syncsSent++;
    const body = writeGossip(ringId, h.table(), true, true);
    void h.send.call(target.node, GossipEvent.sync, body, h.options.healIntervalMs / 2).then((reply) => {
      const m = reply === undefined || reply === null ? undefined : readGossip(reply);
      if (m !== undefined && !(m instanceof Error) && m.ring === h.ringId() && m.members !== undefined) h.apply(h.table().merge(m.members));
      const now = h.table().get(target.node.id);
      if (now === undefined || !reachable(now)) this.#letGo(target.node.id);
    });
  }

  /** Exchanges tables with `node` in one call; true once its answer is merged (or tables were equal), false on failure. */
  async exchange(node: NodeId, timeoutMs: number): Promise<boolean> {
    const ringId = this.#h.ringId();
    if (ringId === undefined) return false;
    this.#h.stats.syncsSent++;
    const reply = await this.#h.send.call(node, GossipEvent.sync, writeGossip(ringId, this.#h.table(), true, true), timeoutMs);
    if (reply === null) return true;
    const m = reply === undefined ? undefined : readGossip(reply);
    if (m === undefined || m instanceof Error || m.ring !== this.#h.ringId()) return false;
    if (m.members !== undefined) this.#h.apply(this.#h.table().merge(m.members));
    return true;
  }

  /** Tells up to `fanout` reachable members our table (after our leave), waiting at most `timeoutMs`. */
  async announce(timeoutMs: number): Promise<void> {
    const ringId = this.#h.ringId();
    if (ringId === undefined) return;
    const body = writeGossip(ringId, this.#h.table(), true, false);
    const peers = sample(this.#h.kernel.env.random, this.live(), this.#h.options.fanout);
    this.#h.stats.syncsSent += peers.length;
    await Promise.all(peers.map((p) => this.#h.send.call(p.node, GossipEvent.sync, body, timeoutMs)));
  }

  /** Members to gossip with and probe: reachable, not this node. */
  live(): MemberEntry[] {
    const selfId = this.#h.kernel.self.id;
    return this.#h.table().entries().filter((e) => reachable(e) && e.node.id !== selfId && this.#h.inView(e.node.id));
  }

  /** The failure detector's view of this ring. */
  probeHost(onSuspect: (id: string, incarnation: number) => void, onExpire: ProbeHost['expire']): ProbeHost {
    return {
      probeTargets: () => this.live(),
      relays: () => this.live().filter((e) => e.liveness === 'alive'),
      ping: (target, timeoutMs) => this.ping(target, timeoutMs),
      pingReq: async (relay, target, timeoutMs) => {
        this.#h.stats.pingReqsSent++;
        const reply = await this.#h.send.call(relay, GossipEvent.pingReq, writePingReq(this.#h.ringId(), target), timeoutMs);
        if (reply === undefined) return false; // the call failed: no error to make, none to read
        const answer = readPingReqReply(reply);
        return !(answer instanceof Error) && answer.ok;
      },
      suspect: onSuspect,
      expire: onExpire,
    };
  }

  /** Pings `target` with our view; its ack counts towards the ownership lease. Public for the lease's own confirmations. */
  async ping(target: NodeId, timeoutMs: number): Promise<boolean> {
    const ringId = this.#h.ringId();
    if (ringId === undefined) return false;
    this.#h.stats.pingsSent++;
    const sentAtMs = this.#h.kernel.env.clock.now();
    const reply = await this.#h.send.call(target, GossipEvent.ping, writePing(ringId, this.#h.probeView()), timeoutMs);
    if (reply === undefined) return false; // the call failed (most often a timeout): nothing to read
    const ack = readPing(reply);
    if (ack instanceof Error || ack.ring !== ringId) return false;
    const rtt = this.#h.kernel.env.clock.now() - sentAtMs;
    const before = this.rttMs.get(target.id);
    this.rttMs.set(target.id, before === undefined ? rtt : before + (rtt - before) * rttWeight);
    this.#h.acked(target, sentAtMs, ack.view);
    return true;
  }

  /** Casts a `gossip` body with our table to `node` (the answer {@link onGossip} returned, or a notice). */
  sendTableBody(node: NodeId | string, body: unknown): void {
    this.#sendTable(node, body);
  }

  #sendTable(node: NodeId | string, body: unknown): void {
    if (this.#h.send.cast(node, GossipEvent.gossip, body)) this.#h.stats.tablesSent++;
  }

  /** Stops re-dialling a node that has no open connection (a live link is left to its owner). */
  #letGo(id: string): void {
    if (!this.#h.kernel.isConnected(id)) this.#h.kernel.disconnect(id);
  }

  #checkRing(ring: string): void {
    if (ring === this.#h.ringId()) return;
    this.#h.stats.foreign++;
    throw new ClusterluckError('INVALID_ARGUMENT', 'not a member of that ring');
  }
}
