import {
  gossipFanoutDefault, gossipIntervalMsDefault, healIntervalMsDefault, indirectProbesDefault, probeIntervalMsDefault,
  autoRemoveAfterMsDefault, driftMaxDefault, leaseMsMaxDefault, ownershipLeaseMsDefault, probeTimeoutMsDefault, ringIdLengthMax, ringVnodesPerWeightDefault,
  ringWeightMax, suspicionMultDefault, tombstoneTtlMsDefault, tombstonesMax, viewChangeTimeoutMsDefault,
} from '../constants.js';
import type { View, ViewChange } from '../core/view.js';
import type { Storage } from '../env/storage.js';
import type { MemberEntry, MemberStatus } from '../core/membership.js';
import type { NodeId } from '../core/node-id.js';
import { invalidArgument } from '../env/errors.js';
import type { GenServerOptions } from '../kernel/gen-server.js';
import { checkInteger, checkNonNegative, checkPositive } from '../env/check.js';

/** Options of a {@link GossipRing}. Every duration is in milliseconds of the injected clock. */
export interface GossipRingOptions extends GenServerOptions {
  /** Ring to join when started; without it, call `join(ringId)` (or be met by a member). */
  readonly ringId?: string;
  /** Time between gossip rounds. @default 1000 */
  readonly intervalMs?: number;
  /** Members each gossip round sends its digest to. @default 3 */
  readonly fanout?: number;
  /** Time between failure-detector probes; one member is probed per interval. @default 1000 */
  readonly probeIntervalMs?: number;
  /**
   * How long a direct probe waits for its ack; at most half of `probeIntervalMs` (the indirect
   * probes get the rest of the interval). @default min(500, probeIntervalMs / 2)
   */
  readonly probeTimeoutMs?: number;
  /** Members asked to probe indirectly when a direct probe fails (SWIM's k). @default 3 */
  readonly indirectProbes?: number;
  /**
   * Suspicion lasts `suspicionMult × max(1, log10(N + 1)) × probeIntervalMs` (N: members on the
   * ring) before the member is declared down, as in memberlist. @default 4
   */
  readonly suspicionMult?: number;
  /**
   * A member down this long is proposed for removal from the view; a majority of the view decides
   * it (a minority side of a partition cannot). A member removed this way asks to be added again
   * once it hears from the others. `null`: never (an operator decides). @default 10000
   */
  readonly autoRemoveAfterMs?: number | null;
  /**
   * How long a confirmation "still on this view" from another member keeps this member serving as
   * owner (the ownership lease; see VIEWS.md in the design notes). @default 2000
   */
  readonly ownershipLeaseMs?: number;
  /** ρ: the most any clock's rate may differ from real time (0.01: 1 %). @default 0.01 */
  readonly driftMax?: number;
  /** How long one Paxos phase waits for its answers before the proposer backs off and retries. @default 1000 */
  readonly viewChangeTimeoutMs?: number;
  /**
   * The longest lease any service on this ring grants (the DSMServer's `leaseMsMax`): a key that
   * comes to this node without a handoff waits (leaseMsMax + ownershipLeaseMs)·(1+ρ)² (the
   * lock-delay). @default 60000
   */
  readonly leaseMsMax?: number;
  /**
   * `'clusterluck'` turns off the lock-delay and the drift bound (a key that moves is served at
   * once by its new owner; the ownership lease stays), so the simulator can show what they buy.
   * @default 'strict'
   */
  readonly safety?: 'strict' | 'clusterluck';
  /** Where the Paxos acceptor state is kept (it must survive restarts to vote again). @default kernel.env.storage */
  readonly storage?: Storage;
  /** Time between attempts to reach one down or failure-removed member, so partitions heal. @default 10000 */
  readonly healIntervalMs?: number;
  /** How long a tombstone (left/removed member) is kept. @default tombstoneTtlMsDefault (24 h) */
  readonly tombstoneTtlMs?: number;
  /** Most tombstones kept. @default tombstonesMax (1024) */
  readonly tombstonesMax?: number;
  /** This node's own weight when it joins. @default 1 */
  readonly weight?: number;
  /** Points per unit of weight of the derived hash ring. @default ringVnodesPerWeightDefault (1024) */
  readonly vnodesPerWeight?: number;
}

/** Options with every default filled in. */
export interface ResolvedGossipOptions {
  readonly ringId: string | undefined;
  readonly intervalMs: number;
  readonly fanout: number;
  readonly probeIntervalMs: number;
  readonly probeTimeoutMs: number;
  readonly indirectProbes: number;
  readonly suspicionMult: number;
  readonly autoRemoveAfterMs: number | undefined;
  readonly healIntervalMs: number;
  readonly tombstoneTtlMs: number;
  readonly tombstonesMax: number;
  readonly weight: number;
  readonly vnodesPerWeight: number;
  readonly ownershipLeaseMs: number;
  readonly driftMax: number;
  readonly viewChangeTimeoutMs: number;
  readonly leaseMsMax: number;
  /** False in Clusterluck mode. */
  readonly lockDelay: boolean;
}

/** A member's state change: `previous`/`status` are undefined when it was unknown/forgotten. */
export interface MemberEventDetail {
  readonly id: string;
  readonly node: NodeId;
  readonly previous: MemberStatus | undefined;
  readonly status: MemberStatus | undefined;
  readonly entry: MemberEntry | undefined;
}

/** The ring changed (members, weights or addresses): its new local version and members. */
export interface RingChangeDetail {
  readonly version: number;
  readonly members: readonly NodeId[];
}

/** Events of a {@link GossipRing} (on `gossip.events`). */
export interface GossipRingEvents {
  /** The derived hash ring changed. */
  change: CustomEvent<RingChangeDetail>;
  /** Any member's status changed (also fired as the status-named event below). */
  member: CustomEvent<MemberEventDetail>;
  alive: CustomEvent<MemberEventDetail>;
  suspect: CustomEvent<MemberEventDetail>;
  down: CustomEvent<MemberEventDetail>;
  removed: CustomEvent<MemberEventDetail>;
  left: CustomEvent<MemberEventDetail>;
  /** This node joined a ring (detail: the ring id). */
  join: CustomEvent<string>;
  /** This node left its ring gracefully. */
  leave: CustomEvent<NodeId>;
  /** A decided view was adopted. */
  view: CustomEvent<ViewEventDetail>;
}

/** A view this node adopted, and the one before it. */
export interface ViewEventDetail {
  readonly view: View;
  readonly previous: View | undefined;
}

/** One member as `GossipRing.inspect()` shows it. */
export interface MemberInfo extends MemberEntry {
  readonly status: MemberStatus;
}

/** Counters of a `GossipRing`; all only grow. */
export interface GossipStats {
  /** Checksum-only gossip messages sent (one per fanout target per round). */
  digestsSent: number;
  /** Whole tables sent (answers to differing digests, meets, suspicion notices). */
  tablesSent: number;
  pingsSent: number;
  pingReqsSent: number;
  /** Heal attempts and leave notices (calls carrying the table). */
  syncsSent: number;
  probes: number;
  probesFailed: number;
  /** Messages of another ring id, ignored. */
  foreign: number;
}

/** What `GossipRing.inspect()` returns, for the CLI and the demo. */
export interface GossipInspection {
  readonly self: NodeId;
  readonly ringId: string | undefined;
  /** Local count of ring changes since the ring was made (not comparable across nodes). */
  readonly ringVersion: number;
  /** `HashRing.checksum()` of the derived ring: equal on nodes that agree on the ring. */
  readonly ringChecksum: string;
  /** Checksum of the whole membership table, tombstones and liveness included. */
  readonly tableChecksum: string;
  readonly members: readonly MemberInfo[];
  readonly stats: Readonly<GossipStats>;
  /** The adopted view, if any. */
  readonly view: View | undefined;
  /** This process's incarnation. */
  readonly incarnation: string;
  /** True while this node may act as an owner (ownership lease held, no change pending). */
  readonly serving: boolean;
  /** When the ownership lease lapses without new confirmations (clock ms; Infinity: needs none). */
  readonly leaseExpiresAtMs: number;
  /** True while this node accepted a value for the next view that it has not seen decided. */
  readonly changePending: boolean;
  /** Changes asked for here and not yet decided. */
  readonly pendingChanges: readonly ViewChange[];
}

/** Validates options and fills in defaults (INVALID_ARGUMENT naming the bad field). */
export function resolveGossipOptions(options: GossipRingOptions): ResolvedGossipOptions {
  if (typeof options !== 'object' || options === null) throw invalidArgument('options', options, 'an object');
  const o = options;
  const probeIntervalMs = checkPositive('probeIntervalMs', o.probeIntervalMs ?? probeIntervalMsDefault);
  const probeTimeoutMs = checkPositive('probeTimeoutMs', o.probeTimeoutMs ?? Math.min(probeTimeoutMsDefault, probeIntervalMs / 2));
  if (probeTimeoutMs > probeIntervalMs / 2) throw invalidArgument('probeTimeoutMs', probeTimeoutMs, `at most probeIntervalMs / 2 (${probeIntervalMs / 2})`);
  return {
    ringId: o.ringId === undefined ? undefined : checkRingId(o.ringId),
    intervalMs: checkPositive('intervalMs', o.intervalMs ?? gossipIntervalMsDefault),
    fanout: checkInteger('fanout', o.fanout ?? gossipFanoutDefault, 1, 64),
    probeIntervalMs,
    probeTimeoutMs,
    indirectProbes: checkInteger('indirectProbes', o.indirectProbes ?? indirectProbesDefault, 0, 64),
    suspicionMult: checkPositive('suspicionMult', o.suspicionMult ?? suspicionMultDefault),
    autoRemoveAfterMs: o.autoRemoveAfterMs === null ? undefined : checkNonNegative('autoRemoveAfterMs', o.autoRemoveAfterMs ?? autoRemoveAfterMsDefault),
    healIntervalMs: checkPositive('healIntervalMs', o.healIntervalMs ?? healIntervalMsDefault),
    tombstoneTtlMs: checkNonNegative('tombstoneTtlMs', o.tombstoneTtlMs ?? tombstoneTtlMsDefault),
    tombstonesMax: checkInteger('tombstonesMax', o.tombstonesMax ?? tombstonesMax, 0, tombstonesMax),
    weight: checkInteger('weight', o.weight ?? 1, 1, ringWeightMax),
    vnodesPerWeight: checkInteger('vnodesPerWeight', o.vnodesPerWeight ?? ringVnodesPerWeightDefault, 1, Number.MAX_SAFE_INTEGER),
    ownershipLeaseMs: checkPositive('ownershipLeaseMs', o.ownershipLeaseMs ?? ownershipLeaseMsDefault),
    driftMax: driftMax(o.driftMax ?? driftMaxDefault),
    viewChangeTimeoutMs: checkPositive('viewChangeTimeoutMs', o.viewChangeTimeoutMs ?? viewChangeTimeoutMsDefault),
    leaseMsMax: checkPositive('leaseMsMax', o.leaseMsMax ?? leaseMsMaxDefault),
    lockDelay: safety(o.safety) === 'strict',
  };
}

/** Validates a ring id: a non-empty string of at most {@link ringIdLengthMax} chars. */
export function checkRingId(value: unknown, field = 'ringId'): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > ringIdLengthMax) {
    throw invalidArgument(field, value, `a non-empty string of at most ${ringIdLengthMax} chars`);
  }
  return value;
}

function safety(value: unknown): 'strict' | 'clusterluck' {
  if (value === undefined || value === 'strict' || value === 'clusterluck') return value ?? 'strict';
  throw invalidArgument('safety', value, "'strict' or 'clusterluck'");
}

function driftMax(value: unknown): number {
  if (typeof value !== 'number' || !(value >= 0 && value < 1)) throw invalidArgument('driftMax', value, 'a number in [0, 1)');
  return value;
}

