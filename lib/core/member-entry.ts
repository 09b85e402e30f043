// One member's entry in the membership table: its two registers (operator and liveness), their
// orders, the merge rule, and its validation. The table is membership.ts.
import { nodeIdLengthMax, ringWeightMax } from '../constants.js';
import { assert } from '../env/assert.js';
import { checkInteger } from '../env/check.js';
import { invalidArgument } from '../env/errors.js';
import { parseNodeId, type NodeId } from './node-id.js';

/** What operators decided about a member: in the ring, removed by an operator, or left by itself. */
export type AdminStatus = 'in' | 'removed' | 'left';

/**
 * What failure detection believes (SWIM). At equal incarnation the later state in this list
 * wins; `removed` is the auto-remove of a member down for too long.
 */
export type Liveness = 'alive' | 'suspect' | 'down' | 'removed';

/** A member's state as the ring and the events see it: `left`/`removed` are out of the ring. */
export type MemberStatus = 'alive' | 'suspect' | 'down' | 'left' | 'removed';

/**
 * One member's entry: two registers merged independently (so the merge is a product of two
 * total orders, hence a semilattice).
 * - the operator register `{node, weight, admin}` stamped `(version, writer)`;
 * - the liveness register `{liveness}` stamped `incarnation`.
 */
export interface MemberEntry {
  readonly node: NodeId;
  readonly weight: number;
  readonly admin: AdminStatus;
  /** Per-entry Lamport counter: a write sets it to the entry's version + 1. */
  readonly version: number;
  /** Id of the node that made the operator write (the tie break of equal versions). */
  readonly writer: string;
  /** Raised only by the member itself, to refute a rumour of its failure. */
  readonly incarnation: number;
  readonly liveness: Liveness;
}

const adminRank: Readonly<Record<AdminStatus, number>> = { in: 0, removed: 1, left: 2 };
const livenessRank: Readonly<Record<Liveness, number>> = { alive: 0, suspect: 1, down: 2, removed: 3 };

/** Total order of numbers or strings (no locale). */
export const cmp = (a: number | string, b: number | string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The status of an entry: an operator's removal or a leave first, otherwise its liveness. */
export function memberStatus(e: MemberEntry): MemberStatus {
  return e.admin === 'in' ? e.liveness : e.admin;
}

/** True when the entry belongs on the hash ring: admitted and not removed by failure detection. */
export function inRing(e: MemberEntry): boolean {
  return e.admin === 'in' && e.liveness !== 'removed';
}

/** True for an entry only kept to stop stale gossip from re-adding its member. */
export function isTombstone(e: MemberEntry): boolean {
  return !inRing(e);
}

/** Total order of operator registers: `(version, writer, admin, weight, address)`, lexicographic. */
export function compareAdmin(a: MemberEntry, b: MemberEntry): number {
  return cmp(a.version, b.version) || cmp(a.writer, b.writer) || cmp(adminRank[a.admin], adminRank[b.admin]) ||
    cmp(a.weight, b.weight) || cmp(a.node.address, b.node.address);
}

/** Total order of liveness registers: `(incarnation, alive < suspect < down < removed)`. */
export function compareLiveness(a: MemberEntry, b: MemberEntry): number {
  return cmp(a.incarnation, b.incarnation) || cmp(livenessRank[a.liveness], livenessRank[b.liveness]);
}

/** True when both entries hold the same state. */
export function sameEntry(a: MemberEntry, b: MemberEntry): boolean {
  return a.node.id === b.node.id && compareAdmin(a, b) === 0 && compareLiveness(a, b) === 0;
}

/**
 * The merge of two entries of one member: the larger operator register and, independently, the
 * larger liveness register. A maximum under a total order per register, so the merge is
 * commutative, associative and idempotent, and every node computes the same result.
 */
export function mergeEntry(a: MemberEntry, b: MemberEntry): MemberEntry {
  assert(a.node.id === b.node.id, 'merging entries of one member');
  const admin = compareAdmin(a, b) >= 0 ? a : b;
  const live = compareLiveness(a, b) >= 0 ? a : b;
  if (admin === live) return admin;
  return entry(admin.node, admin.weight, admin.admin, admin.version, admin.writer, live.incarnation, live.liveness);
}

/** A frozen entry. */
export function entry(node: NodeId, weight: number, admin: AdminStatus, version: number, writer: string,
  incarnation: number, liveness: Liveness): MemberEntry {
  return Object.freeze({ node, weight, admin, version, writer, incarnation, liveness });
}

/** Validates one {@link MemberEntry} (every field); INVALID_ARGUMENT naming the bad field otherwise. */
export function parseMemberEntry(value: unknown, field = 'entry'): MemberEntry {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidArgument(field, value, 'an object');
  const v = value as Record<string, unknown>;
  const node = parseNodeId(v['node'], `${field}.node`);
  const weight = checkInteger(`${field}.weight`, v['weight'], 1, ringWeightMax);
  const admin = v['admin'];
  if (typeof admin !== 'string' || !Object.hasOwn(adminRank, admin)) throw invalidArgument(`${field}.admin`, admin, "'in', 'removed' or 'left'");
  const version = checkInteger(`${field}.version`, v['version'], 0, Number.MAX_SAFE_INTEGER);
  const writer = v['writer'];
  if (typeof writer !== 'string' || writer.length === 0 || writer.length > nodeIdLengthMax) {
    throw invalidArgument(`${field}.writer`, writer, `a node id of at most ${nodeIdLengthMax} chars`);
  }
  const incarnation = checkInteger(`${field}.incarnation`, v['incarnation'], 0, Number.MAX_SAFE_INTEGER);
  const liveness = v['liveness'];
  if (typeof liveness !== 'string' || !Object.hasOwn(livenessRank, liveness)) {
    throw invalidArgument(`${field}.liveness`, liveness, "'alive', 'suspect', 'down' or 'removed'");
  }
  return entry(node, weight, admin as AdminStatus, version, writer, incarnation, liveness as Liveness);
}
