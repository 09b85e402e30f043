import { assert } from '../env/assert.js';
import { ClusterluckError, invalidArgument, show } from '../env/errors.js';
import { membersMax, nodeIdLengthMax, ringWeightMax, tombstoneTtlMsDefault, tombstonesMax } from '../constants.js';
import { murmur3 } from './hash.js';
import { HashRing, type HashRingOptions } from './hash-ring.js';
import { parseNodeId, type NodeId } from './node-id.js';
import { checkInteger } from '../env/check.js';
import {
  cmp, compareLiveness, entry, inRing, isTombstone, mergeEntry, parseMemberEntry, sameEntry, type AdminStatus, type Liveness, type MemberEntry,
} from './member-entry.js';

export {
  compareAdmin, compareLiveness, inRing, isTombstone, memberStatus, mergeEntry, parseMemberEntry, sameEntry,
  type AdminStatus, type Liveness, type MemberEntry, type MemberStatus,
} from './member-entry.js';

/** One entry that a write, a merge or a prune changed; `after` is undefined when pruned. */
export interface MembershipChange {
  readonly id: string;
  readonly before: MemberEntry | undefined;
  readonly after: MemberEntry | undefined;
}

/** Bounds of {@link Membership.prune}. */
export interface PruneOptions {
  /** A tombstone (left/removed) older than this is forgotten. @default tombstoneTtlMsDefault (24 h) */
  readonly tombstoneTtlMs?: number;
  /** Most tombstones kept; the oldest go first (ties by id). @default tombstonesMax (1024) */
  readonly tombstonesMax?: number;
}

/**
 * The membership table: one {@link MemberEntry} per node id, merged per member — never whole
 * tables by timestamp (Clusterluck's last-writer-wins split rings after two back-to-back meets).
 *
 * Merge rule, per member id (see {@link mergeEntry}):
 * - operator register: the larger `(version, writer)` wins. A write sets `version` to the
 *   entry's version + 1, so a write made after seeing another always wins (a descendant wins);
 *   of two concurrent writes the higher version wins, then the larger writer id, then the
 *   content `(admin in < removed < left, weight, address)` so even a writer that lost its
 *   state cannot make two nodes disagree;
 * - liveness register: the larger `(incarnation, alive < suspect < down < removed)` wins, as in
 *   SWIM. Only the member raises its own incarnation, which refutes any rumour at the old one
 *   (one exception: an operator `insert` of a failure-removed member re-admits it at its
 *   incarnation + 1, vouching for it).
 * An id known to one side only is taken as is. The ring holds the members whose operator
 * register says `in` and whose liveness is not `removed`: so a failure-removed member returns
 * by refuting, while a removed or left one returns only by a later operator write.
 * Tombstones (left/removed) are kept until {@link prune} forgets them, by local age and count.
 */
export class Membership {
  readonly #entries = new Map<string, MemberEntry>();
  /** Local only, never gossiped: when this node first saw each tombstone (set by prune). */
  readonly #tombstoneSinceMs = new Map<string, number>();
  #checksum: string | undefined;

  /** The entry of `id`, or undefined. */
  get(id: string): MemberEntry | undefined {
    return this.#entries.get(id);
  }

  /** True when `id` has an entry (tombstones included). */
  has(id: string): boolean {
    return this.#entries.has(id);
  }

  /** Number of entries, tombstones included. */
  size(): number {
    return this.#entries.size;
  }

  /** Every entry, sorted by id. */
  entries(): MemberEntry[] {
    return [...this.#entries.values()].sort((a, b) => cmp(a.node.id, b.node.id));
  }

  /**
   * Operator write: admits `node` with `weight` (a new entry starts alive at incarnation 0).
   * Writes nothing when the member is already on the ring with that address and weight. A
   * member that failure detection removed is re-admitted as alive at its incarnation + 1 (the
   * operator vouches for it; if it is really dead it is detected again).
   */
  insert(node: NodeId, weight: number, writer: string): MembershipChange | undefined {
    const n = parseNodeId(node, 'node');
    checkInteger('weight', weight, 1, ringWeightMax);
    const old = this.#entries.get(n.id);
    if (old !== undefined && inRing(old) && old.weight === weight && old.node.address === n.address) return undefined;
    if (old === undefined && this.#entries.size >= membersMax) {
      throw new ClusterluckError('QUEUE_FULL', `the membership table holds ${membersMax} entries`);
    }
    return this.#write(n, weight, 'in', writer);
  }

  /** Operator write: sets the weight of a member that is in; NOT_FOUND otherwise. */
  update(id: string, weight: number, writer: string): MembershipChange | undefined {
    checkInteger('weight', weight, 1, ringWeightMax);
    const old = this.#entries.get(id);
    if (old?.admin !== 'in') throw new ClusterluckError('NOT_FOUND', `${show(id)} is not a member`);
    return old.weight === weight ? undefined : this.#write(old.node, weight, 'in', writer);
  }

  /** Operator write: removes a member for good (until re-inserted); absent or out ones are left alone. */
  remove(id: string, writer: string): MembershipChange | undefined {
    const old = this.#entries.get(id);
    return old === undefined || old.admin === 'removed' ? undefined : this.#write(old.node, old.weight, 'removed', writer);
  }

  /** The member's own graceful leave (written by itself); absent or already-left ones are left alone. */
  leave(id: string): MembershipChange | undefined {
    const old = this.#entries.get(id);
    return old === undefined || old.admin === 'left' ? undefined : this.#write(old.node, old.weight, 'left', id);
  }

  /**
   * Failure-detector write: sets the liveness of `id` at `incarnation` when that is larger than
   * what the entry holds (SWIM's precedence); otherwise nothing.
   */
  setLiveness(id: string, incarnation: number, liveness: Liveness): MembershipChange | undefined {
    const old = this.#entries.get(id);
    if (old === undefined) return undefined;
    const next = entry(old.node, old.weight, old.admin, old.version, old.writer, incarnation, liveness);
    return compareLiveness(next, old) > 0 ? this.#set(old, next) : undefined;
  }

  /** The member's own refutation: alive at its incarnation + 1, beating every rumour about it. */
  refute(id: string): MembershipChange | undefined {
    const old = this.#entries.get(id);
    if (old === undefined) return undefined;
    assert(old.incarnation < Number.MAX_SAFE_INTEGER, 'an incarnation that can grow');
    return this.setLiveness(id, old.incarnation + 1, 'alive');
  }

  /**
   * Merges entries from a peer (already validated) into this table, per member, and returns what
   * changed, one change per id. New ids beyond {@link membersMax} entries are skipped.
   */
  merge(incoming: Iterable<MemberEntry>): MembershipChange[] {
    const changes = new Map<string, MembershipChange>();
    for (const theirs of incoming) {
      const id = theirs.node.id;
      const ours = this.#entries.get(id);
      if (ours === undefined && this.#entries.size >= membersMax) continue;
      const next = ours === undefined ? theirs : mergeEntry(ours, theirs);
      if (ours !== undefined && sameEntry(next, ours)) continue;
      this.#entries.set(id, next);
      this.#checksum = undefined;
      const first = changes.get(id);
      changes.set(id, { id, before: first === undefined ? ours : first.before, after: next });
    }
    return [...changes.values()];
  }

  /**
   * Forgets tombstones older than `tombstoneTtlMs` (age counted from the first prune that saw
   * them) and the oldest beyond `tombstonesMax`. This is not part of the merge: a peer still
   * holding an older live entry can re-add a pruned member, which then goes through failure
   * detection again — so the TTL should far exceed the time gossip needs to converge.
   */
  prune(nowMs: number, options: PruneOptions = {}): MembershipChange[] {
    const ttlMs = options.tombstoneTtlMs ?? tombstoneTtlMsDefault;
    const countMax = options.tombstonesMax ?? tombstonesMax;
    for (const id of [...this.#tombstoneSinceMs.keys()]) {
      const e = this.#entries.get(id);
      if (e === undefined || !isTombstone(e)) this.#tombstoneSinceMs.delete(id);
    }
    for (const e of this.#entries.values()) {
      if (isTombstone(e) && !this.#tombstoneSinceMs.has(e.node.id)) this.#tombstoneSinceMs.set(e.node.id, nowMs);
    }
    const oldestFirst = [...this.#tombstoneSinceMs].sort(([a, x], [b, y]) => x - y || cmp(a, b));
    const changes: MembershipChange[] = [];
    for (const [i, [id, sinceMs]] of oldestFirst.entries()) {
      if (nowMs - sinceMs <= ttlMs && oldestFirst.length - i <= countMax) break;
      changes.push({ id, before: this.#entries.get(id), after: undefined });
      this.#entries.delete(id);
      this.#tombstoneSinceMs.delete(id);
      this.#checksum = undefined;
    }
    return changes;
  }

  /** The members on the ring (admitted, not failure-removed), sorted by id. */
  ringMembers(): { readonly id: string; readonly address: string; readonly weight: number }[] {
    return this.entries().filter(inRing).map((e) => ({ id: e.node.id, address: e.node.address, weight: e.weight }));
  }

  /** A new {@link HashRing} of {@link ringMembers} (members alive, suspect or down). */
  toRing(options: HashRingOptions = {}): HashRing {
    const vnodesPerWeight = new HashRing(options).vnodesPerWeight;
    return HashRing.parse({ vnodesPerWeight, members: this.ringMembers() });
  }

  /** 16 hex digits naming the whole table (every field of every entry); equal tables, equal sums. */
  checksum(): string {
    if (this.#checksum === undefined) {
      const text = JSON.stringify(this.entries().map((e) =>
        [e.node.id, e.node.address, e.weight, e.admin, e.version, e.writer, e.incarnation, e.liveness]));
      this.#checksum = hex8(murmur3(text, 0x1b873593)) + hex8(murmur3(text, 0x85ebca6b));
    }
    return this.#checksum;
  }

  /** An independent copy (local tombstone ages included). */
  clone(): Membership {
    const copy = new Membership();
    for (const [id, e] of this.#entries) copy.#entries.set(id, e);
    for (const [id, t] of this.#tombstoneSinceMs) copy.#tombstoneSinceMs.set(id, t);
    return copy;
  }

  /** The JSON-safe table, entries sorted by id; {@link Membership.parse} reads it back. */
  toJSON(): { members: MemberEntry[] } {
    return { members: this.entries() };
  }

  /** Rebuilds a table from {@link Membership.toJSON} output, checking every field (INVALID_ARGUMENT). */
  static parse(json: unknown): Membership {
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw invalidArgument('membership', json, 'an object');
    const list = (json as Record<string, unknown>)['members'];
    if (!Array.isArray(list) || list.length > membersMax) throw invalidArgument('members', list, `an array of at most ${membersMax} entries`);
    const table = new Membership();
    for (const [i, item] of list.entries()) {
      const e = parseMemberEntry(item, `members[${i}]`);
      if (table.#entries.has(e.node.id)) throw invalidArgument(`members[${i}].node.id`, e.node.id, 'an id not listed before');
      table.#entries.set(e.node.id, e);
    }
    return table;
  }

  #write(node: NodeId, weight: number, admin: AdminStatus, writer: string): MembershipChange {
    if (typeof writer !== 'string' || writer.length === 0 || writer.length > nodeIdLengthMax) {
      throw invalidArgument('writer', writer, 'a node id');
    }
    const old = this.#entries.get(node.id);
    const version = (old?.version ?? 0) + 1;
    assert(version <= Number.MAX_SAFE_INTEGER, 'a version that can grow');
    let [incarnation, liveness]: [number, Liveness] = [old?.incarnation ?? 0, old?.liveness ?? 'alive'];
    if (admin === 'in' && liveness === 'removed') [incarnation, liveness] = [incarnation + 1, 'alive'];
    const next = entry(node, weight, admin, version, writer, incarnation, liveness);
    if (old !== undefined) return this.#set(old, next);
    this.#entries.set(node.id, next);
    this.#checksum = undefined;
    return { id: node.id, before: undefined, after: next };
  }

  #set(old: MemberEntry, next: MemberEntry): MembershipChange {
    this.#entries.set(old.node.id, next);
    this.#checksum = undefined;
    return { id: old.node.id, before: old, after: next };
  }
}

function hex8(value: number): string {
  return (value >>> 0).toString(16).padStart(8, '0');
}
