// Ring views: the agreed sequence of member lists that ownership is computed from. A view is
// decided by a majority of the members of the view before it (see view-paxos.ts); these are the
// plain values, their checks and the arithmetic on them. No I/O.
import { membersMax, nodeIdLengthMax, ringWeightMax } from '../constants.js';
import { invalidArgument } from '../env/errors.js';
import { HashRing, type HashRingOptions } from './hash-ring.js';
import type { NodeId } from './node-id.js';

/**
 * One member of a view. `incarnation` names the process state that votes: a member that restarts
 * without its stored Paxos state comes back under a new incarnation (it may have forgotten a
 * promise, so it must not vote as the old one) and is admitted again by a view change.
 */
export interface ViewMember {
  readonly id: string;
  readonly address: string;
  readonly weight: number;
  readonly incarnation: string;
}

/** Why a member left a view: failure detection, an operator, or its own graceful leave. */
export type RemovalReason = 'down' | 'operator' | 'left' | 'replaced';

/** A member a recent view change removed: which view removed it, and why. */
export interface ViewRemoval {
  readonly id: string;
  readonly incarnation: string;
  readonly reason: RemovalReason;
  /** The number of the view that removed it. */
  readonly view: number;
}

/**
 * Removals a view remembers (the newest first, those of its own change always kept), so a member
 * that was cut off while views moved on still learns why it is out when it catches up.
 */
export const viewRemovalsKept = 64;

/**
 * A decided view: `number` counts from 1 (the founder's singleton view) within one `cluster`
 * (a random id the founder picks, so two clusters that never met never mix their numbers).
 * `members` are sorted by id; `removed` lists who recent changes took out, newest first.
 */
export interface View {
  readonly cluster: string;
  readonly number: number;
  readonly members: readonly ViewMember[];
  readonly removed: readonly ViewRemoval[];
}

/** One requested change; a proposer applies a batch of them to the current view. */
export type ViewChange =
  | { readonly kind: 'add'; readonly member: ViewMember }
  | { readonly kind: 'remove'; readonly id: string; readonly incarnation?: string; readonly reason: RemovalReason }
  | { readonly kind: 'weight'; readonly id: string; readonly weight: number };

/** Votes needed to decide the view after `view`: a strict majority of its members. */
export function majority(view: View): number {
  return Math.floor(view.members.length / 2) + 1;
}

/**
 * Confirmations from *other* members a member of `view` needs to serve as owner: enough that the
 * members it has not heard from cannot form a majority without it (3 members: 1; 5: 2; 2: 0).
 */
export function confirmationsNeeded(view: View): number {
  return view.members.length - majority(view);
}

/** The member of `view` with `id`, if any. */
export function memberOf(view: View, id: string): ViewMember | undefined {
  return view.members.find((m) => m.id === id);
}

/** True when `id` at `incarnation` is a member of `view` (a voter of the next view). */
export function isVoter(view: View, id: string, incarnation: string): boolean {
  return memberOf(view, id)?.incarnation === incarnation;
}

/** The founder's view: itself alone, number 1. */
export function foundView(cluster: string, self: ViewMember): View {
  return Object.freeze({ cluster, number: 1, members: Object.freeze([self]), removed: Object.freeze([]) });
}

/**
 * The view after `view` with `changes` applied in order (an add of a present id replaces it, so a
 * new incarnation takes the old one's place; the removal of the last member is ignored, so a view
 * is never empty); `undefined` when nothing would change.
 */
export function applyChanges(view: View, changes: readonly ViewChange[]): View | undefined {
  const members = new Map(view.members.map((m) => [m.id, m]));
  const removed = new Map<string, ViewRemoval>();
  for (const c of changes) {
    const old = members.get(c.kind === 'add' ? c.member.id : c.id);
    if (c.kind === 'add') {
      if (old !== undefined && sameMember(old, c.member)) continue;
      if (old !== undefined && old.incarnation !== c.member.incarnation) {
        removed.set(old.id, { id: old.id, incarnation: old.incarnation, reason: 'replaced', view: view.number + 1 });
      }
      if (old === undefined && members.size >= membersMax) continue;
      members.set(c.member.id, c.member);
    } else if (c.kind === 'remove') {
      if (old === undefined || (c.incarnation !== undefined && old.incarnation !== c.incarnation)) continue;
      if (members.size === 1) continue; // a view keeps at least one member: the last one cannot be removed
      members.delete(c.id);
      removed.set(c.id, { id: c.id, incarnation: old.incarnation, reason: c.reason, view: view.number + 1 });
    } else if (old !== undefined && old.weight !== c.weight) {
      members.set(c.id, { ...old, weight: c.weight });
    }
  }
  const next = [...members.values()].sort((a, b) => cmp(a.id, b.id));
  if (next.length === view.members.length && next.every((m, i) => sameMember(m, view.members[i] as ViewMember))) return undefined;
  const older = view.removed.filter((r) => !members.has(r.id) && !removed.has(r.id));
  const kept = [...removed.values(), ...older].slice(0, Math.max(viewRemovalsKept, removed.size));
  return freezeView({ cluster: view.cluster, number: view.number + 1, members: next, removed: kept });
}

/**
 * The changes of `changes` a proposer may put to a vote now: every removal and weight change, and
 * each addition only while the members it can reach (without the newcomer, which may die before
 * it ever votes) are a majority of the view that addition makes: etcd's strict reconfiguration
 * check. Adding members faster than dead ones are removed (page reloads that each join under a
 * new id, joiners that die while starting) would otherwise let the dead become a majority, and
 * then no view could ever remove them. A view of one member may always grow. Order is kept.
 */
export function admissibleChanges(view: View, changes: readonly ViewChange[], reachable: (id: string) => boolean): ViewChange[] {
  if (view.members.length <= 1) return [...changes];
  const kept = new Set<ViewChange>(changes.filter((c) => c.kind !== 'add'));
  for (const c of changes) {
    if (c.kind !== 'add') continue;
    const next = applyChanges(view, changes.filter((x) => kept.has(x) || x === c));
    if (next === undefined) continue;
    const live = next.members.filter((m) => m.id !== c.member.id && reachable(m.id)).length;
    if (live >= majority(next)) kept.add(c);
  }
  return changes.filter((c) => kept.has(c));
}

/** True when both views are the same value (cluster, number, members and removals). */
export function sameView(a: View, b: View): boolean {
  return a.cluster === b.cluster && a.number === b.number && a.members.length === b.members.length &&
    a.members.every((m, i) => sameMember(m, b.members[i] as ViewMember)) &&
    a.removed.length === b.removed.length &&
    a.removed.every((r, i) => r.id === b.removed[i]?.id && r.incarnation === b.removed[i]?.incarnation && r.reason === b.removed[i]?.reason &&
      r.view === b.removed[i]?.view);
}

/** A view member's node id and address. */
export function memberNode(m: ViewMember): NodeId {
  return { id: m.id, address: m.address };
}

/** True when two changes are about the same thing (the same kind, of the same member): the later one replaces the earlier. */
export function sameTarget(a: ViewChange, b: ViewChange): boolean {
  const id = (c: ViewChange): string => (c.kind === 'add' ? c.member.id : c.id);
  return a.kind === b.kind && id(a) === id(b);
}

/** A change in words, for logs and errors. */
export function describeChange(c: ViewChange): string {
  return c.kind === 'add' ? `add ${c.member.id}` : c.kind === 'remove' ? `remove ${c.id} (${c.reason})` : `weight ${c.id}=${c.weight}`;
}

/** The hash ring of a view's members. */
export function viewRing(view: View, options: HashRingOptions = {}): HashRing {
  const vnodesPerWeight = new HashRing(options).vnodesPerWeight;
  return HashRing.parse({ vnodesPerWeight, members: view.members.map((m) => ({ id: m.id, address: m.address, weight: m.weight })) });
}

/** Validates a view from the wire or storage; INVALID_ARGUMENT naming the bad field. */
export function parseView(value: unknown, field = 'view'): View {
  const v = object(value, field);
  const cluster = text(v['cluster'], `${field}.cluster`);
  const number = v['number'];
  if (typeof number !== 'number' || !Number.isSafeInteger(number) || number < 1) throw invalidArgument(`${field}.number`, number, 'an integer ≥ 1');
  const list = v['members'];
  if (!Array.isArray(list) || list.length === 0 || list.length > membersMax) {
    throw invalidArgument(`${field}.members`, list, `an array of 1 to ${membersMax} members`);
  }
  const members = list.map((m, i) => parseViewMember(m, `${field}.members[${i}]`));
  for (let i = 1; i < members.length; i++) {
    if (!(cmp((members[i - 1] as ViewMember).id, (members[i] as ViewMember).id) < 0)) {
      throw invalidArgument(`${field}.members[${i}].id`, (members[i] as ViewMember).id, 'ids sorted and unique');
    }
  }
  const rlist = v['removed'] ?? [];
  if (!Array.isArray(rlist) || rlist.length > membersMax) throw invalidArgument(`${field}.removed`, rlist, 'an array');
  const removed = rlist.map((r, i) => {
    const o = object(r, `${field}.removed[${i}]`);
    const reason = o['reason'];
    if (reason !== 'down' && reason !== 'operator' && reason !== 'left' && reason !== 'replaced') {
      throw invalidArgument(`${field}.removed[${i}].reason`, reason, "'down', 'operator', 'left' or 'replaced'");
    }
    const at = o['view'];
    if (typeof at !== 'number' || !Number.isSafeInteger(at) || at < 2 || at > number) throw invalidArgument(`${field}.removed[${i}].view`, at, `an integer in [2, ${number}]`);
    return { id: text(o['id'], `${field}.removed[${i}].id`), incarnation: text(o['incarnation'], `${field}.removed[${i}].incarnation`), reason: reason as RemovalReason, view: at };
  });
  return freezeView({ cluster, number, members, removed });
}

/** Validates one {@link ViewMember}. */
export function parseViewMember(value: unknown, field = 'member'): ViewMember {
  const o = object(value, field);
  const weight = o['weight'];
  if (typeof weight !== 'number' || !Number.isSafeInteger(weight) || weight < 1 || weight > ringWeightMax) {
    throw invalidArgument(`${field}.weight`, weight, `an integer in [1, ${ringWeightMax}]`);
  }
  const address = o['address'];
  if (typeof address !== 'string' || address.length > nodeIdLengthMax) throw invalidArgument(`${field}.address`, address, 'a string');
  return Object.freeze({ id: text(o['id'], `${field}.id`), address, weight, incarnation: text(o['incarnation'], `${field}.incarnation`) });
}

function freezeView(v: View): View {
  return Object.freeze({ cluster: v.cluster, number: v.number, members: Object.freeze(v.members.map((m) => Object.freeze({ ...m }))),
    removed: Object.freeze(v.removed.map((r) => Object.freeze({ ...r }))) });
}

function sameMember(a: ViewMember, b: ViewMember): boolean {
  return a.id === b.id && a.address === b.address && a.weight === b.weight && a.incarnation === b.incarnation;
}

function object(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidArgument(field, value, 'an object');
  return value as Record<string, unknown>;
}

function text(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > nodeIdLengthMax) {
    throw invalidArgument(field, value, `a non-empty string of at most ${nodeIdLengthMax} chars`);
  }
  return value;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
