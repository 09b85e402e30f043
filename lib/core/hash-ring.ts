// The consistent-hash ring. Over 300 lines on purpose: one class whose point arrays, owner slots
// and member map change together on every add, remove and reweigh; its JSON form and checksum
// read the same arrays. The hash itself is hash.ts.
import { ClusterluckError, invalidArgument } from '../env/errors.js';
import { assert } from '../env/assert.js';
import { nodeIdLengthMax, ringCachedPointsMax, ringPointsMax, ringVnodesPerWeightDefault, ringVnodesPerWeightMax, ringWeightMax } from '../constants.js';
import { murmur3, ringPositionOf } from './hash.js';
import { parseNodeId, type NodeId } from './node-id.js';
import { checkInteger } from '../env/check.js';

/** Options of a {@link HashRing}. */
export interface HashRingOptions {
  /**
   * Points (virtual nodes) per unit of member weight. Clusterluck used 3, which spread keys
   * 40/39/21 % over three equal members; 2,048 keeps the busiest of ten members within about
   * 9 % of the quietest.
   * @default ringVnodesPerWeightDefault (2048)
   */
  readonly vnodesPerWeight?: number;
}

/** The JSON-safe form of a {@link HashRing}; members sorted by id. */
export interface HashRingJson {
  readonly vnodesPerWeight: number;
  readonly members: { readonly id: string; readonly address: string; readonly weight: number }[];
}

interface Member {
  node: NodeId;
  weight: number;
  readonly slot: number;
}

/** Sorted point positions and, at the same index, the slot of the member owning each. */
interface Points {
  positions: Float64Array<ArrayBuffer>;
  owners: Uint32Array<ArrayBuffer>;
}

/**
 * Results of a pure function by key, most recently used last, holding at most `pointsMax`
 * points. Shared by every ring in the process and never written to: rings only read a points
 * array, and build new ones to change.
 */
class PointsCache<T extends { readonly length: number } | Points> {
  readonly #map = new Map<string, T>();
  readonly #pointsMax: number;
  #points = 0;

  constructor(pointsMax: number) {
    this.#pointsMax = pointsMax;
  }

  get(key: string): T | undefined {
    const value = this.#map.get(key);
    if (value !== undefined) {
      this.#map.delete(key);
      this.#map.set(key, value);
    }
    return value;
  }

  put(key: string, value: T): void {
    const size = pointsOf(value);
    if (size > this.#pointsMax || this.#map.has(key)) return;
    for (const [k, v] of this.#map) {
      if (this.#points + size <= this.#pointsMax) break;
      this.#map.delete(k);
      this.#points -= pointsOf(v);
    }
    this.#map.set(key, value);
    this.#points += size;
  }
}

const pointsOf = (v: { readonly length: number } | Points): number => ('positions' in v ? v.positions.length : v.length);

/** Sorted positions of one member's points, by `count:id`. */
const positionsCache = new PointsCache<Float64Array<ArrayBuffer>>(ringCachedPointsMax);
/** Whole rings' points, by vnodes and members in order. */
const ringsCache = new PointsCache<Points>(ringCachedPointsMax);

/** `ringPositionOf(id + "#" + i)` for `i < count`, sorted. */
function memberPositions(id: string, count: number): Float64Array<ArrayBuffer> {
  const key = `${count}:${id}`;
  const cached = positionsCache.get(key);
  if (cached !== undefined) return cached;
  const positions = new Float64Array(count);
  for (let i = 0; i < count; i++) positions[i] = ringPositionOf(`${id}#${i}`);
  positions.sort();
  positionsCache.put(key, positions);
  return positions;
}

const byId = (a: { id: string }, b: { id: string }): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * A consistent-hash ring (Clusterluck's CHash). Member `m` with weight `w` owns the points
 * `ringPosition(m.id + "#" + i)` for `i < w × vnodesPerWeight`; a key belongs to the member of the
 * first point at or after the key's position, wrapping at the end. Points live in one sorted
 * `Float64Array` with a parallel array of owner slots; equal positions are ordered by member id,
 * so every replica with the same membership places every key the same way.
 */
export class HashRing {
  /** Points per unit of weight, fixed for the ring's life. */
  readonly vnodesPerWeight: number;
  readonly #members = new Map<string, Member>();
  /** Owner slot → member; a removed member's slot is reused. */
  #slots: (Member | undefined)[] = [];
  #freeSlots: number[] = [];
  #points: Points = { positions: new Float64Array(0), owners: new Uint32Array(0) };

  /** An empty ring. */
  constructor(options: HashRingOptions = {}) {
    if (typeof options !== 'object' || options === null) throw invalidArgument('options', options, 'an object');
    const v = options.vnodesPerWeight ?? ringVnodesPerWeightDefault;
    this.vnodesPerWeight = checkInteger('vnodesPerWeight', v, 1, ringVnodesPerWeightMax);
  }

  /**
   * Adds `node` with `weight`; a member with the same id gets the new address and weight.
   * Costs O(points) — the new member's points are merged in, not the whole ring re-sorted.
   * @param weight - an integer in [1, ringWeightMax]
   * @default weight 1
   */
  insert(node: NodeId, weight = 1): this {
    const n = parseNodeId(node, 'node');
    const w = checkInteger('weight', weight, 1, ringWeightMax);
    const existing = this.#members.get(n.id);
    if (existing !== undefined) return this.#reweigh(existing, n, w);
    this.#checkRoom(w);
    const slot = this.#freeSlots.pop() ?? this.#slots.length;
    const member: Member = { node: n, weight: w, slot };
    this.#slots[slot] = member;
    this.#members.set(n.id, member);
    this.#points = this.#merge(this.#points, this.#memberPoints(member));
    return this;
  }

  /** Removes the member with the id of `node` (a {@link NodeId} or an id); absent ones are ignored. */
  remove(node: NodeId | string): this {
    const member = this.#members.get(idOf(node, 'node'));
    if (member === undefined) return this;
    this.#dropPoints(member);
    this.#members.delete(member.node.id);
    this.#slots[member.slot] = undefined;
    this.#freeSlots.push(member.slot);
    return this;
  }

  /**
   * Sets the weight of an existing member (a {@link NodeId} also replaces its address).
   * Throws NOT_FOUND for a non-member.
   */
  update(node: NodeId | string, weight: number): this {
    const id = idOf(node, 'node');
    const w = checkInteger('weight', weight, 1, ringWeightMax);
    const member = this.#members.get(id);
    if (member === undefined) throw new ClusterluckError('NOT_FOUND', `${JSON.stringify(id)} is not a ring member`);
    return this.#reweigh(member, typeof node === 'string' ? member.node : parseNodeId(node, 'node'), w);
  }

  /** True when `id` is a member. */
  has(id: string): boolean {
    return this.#members.has(checkId('id', id));
  }

  /** The member with `id`, or undefined. */
  get(id: string): NodeId | undefined {
    return this.#members.get(checkId('id', id))?.node;
  }

  /** The weight of member `id`, or undefined for a non-member. */
  weight(id: string): number | undefined {
    return this.#members.get(checkId('id', id))?.weight;
  }

  /** Every member, sorted by id. */
  nodes(): NodeId[] {
    return [...this.#members.values()].map((m) => m.node).sort(byId);
  }

  /** Member id → weight, in id order. */
  weights(): Map<string, number> {
    return new Map(this.toJSON().members.map((m) => [m.id, m.weight]));
  }

  /** Number of members. */
  size(): number {
    return this.#members.size;
  }

  /** Number of points (virtual nodes) on the ring: the sum of weight × vnodesPerWeight. */
  pointCount(): number {
    return this.#points.positions.length;
  }

  /** The member that owns `key`: binary search, O(log points). NOT_FOUND on an empty ring. */
  find(key: string): NodeId {
    if (typeof key !== 'string') throw invalidArgument('key', key, 'a string');
    if (this.#points.positions.length === 0) throw new ClusterluckError('NOT_FOUND', 'the hash ring has no members');
    return this.#ownerAt(this.#lowerBound(ringPositionOf(key)));
  }

  /**
   * Up to `k` distinct members for `key`, in ring order starting with its owner (fewer when the
   * ring has fewer members; empty on an empty ring).
   * @param k - a non-negative integer
   */
  preferenceList(key: string, k: number): NodeId[] {
    if (typeof key !== 'string') throw invalidArgument('key', key, 'a string');
    checkInteger('k', k, 0, Number.MAX_SAFE_INTEGER);
    const want = Math.min(k, this.#members.size);
    const out: NodeId[] = [];
    if (want === 0) return out;
    const seen = new Set<number>();
    const length = this.#points.positions.length;
    const start = this.#lowerBound(ringPositionOf(key));
    for (let step = 0; step < length && out.length < want; step++) {
      const slot = this.#points.owners[(start + step) % length] ?? 0;
      if (seen.has(slot)) continue;
      seen.add(slot);
      out.push(this.#ownerAt((start + step) % length));
    }
    assert(out.length === want, 'every member has a point on the ring');
    return out;
  }

  /** True when `other` has the same vnodesPerWeight and the same members, addresses and weights. */
  equals(other: HashRing): boolean {
    if (!(other instanceof HashRing)) throw invalidArgument('other', other, 'a HashRing');
    if (other.vnodesPerWeight !== this.vnodesPerWeight || other.size() !== this.size()) return false;
    for (const [id, m] of this.#members) {
      const o = other.#members.get(id);
      if (o === undefined || o.weight !== m.weight || o.node.address !== m.node.address) return false;
    }
    return true;
  }

  /** An independent copy. */
  clone(): HashRing {
    const copy = new HashRing({ vnodesPerWeight: this.vnodesPerWeight });
    copy.#slots = this.#slots.map((m) => (m === undefined ? undefined : { ...m }));
    for (const m of copy.#slots) if (m !== undefined) copy.#members.set(m.node.id, m);
    copy.#freeSlots = [...this.#freeSlots];
    copy.#points = { positions: this.#points.positions.slice(), owners: this.#points.owners.slice() };
    return copy;
  }

  /** The JSON-safe membership, members sorted by id; {@link HashRing.parse} reads it back. */
  toJSON(): HashRingJson {
    const members = this.nodes().map((n) => ({ id: n.id, address: n.address, weight: this.#members.get(n.id)?.weight ?? 0 }));
    return { vnodesPerWeight: this.vnodesPerWeight, members };
  }

  /** 16 hex digits naming the membership (two MurmurHash3s of the sorted JSON). */
  checksum(): string {
    const text = JSON.stringify(this.toJSON());
    return hex8(murmur3(text, 0x2f1e8c47)) + hex8(murmur3(text, 0x6a09e667));
  }

  /** Rebuilds a ring from {@link HashRing.toJSON} output, checking every field (INVALID_ARGUMENT). */
  static parse(json: unknown): HashRing {
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw invalidArgument('ring', json, 'an object');
    const j = json as Record<string, unknown>;
    const ring = new HashRing({ vnodesPerWeight: checkInteger('vnodesPerWeight', j['vnodesPerWeight'], 1, ringVnodesPerWeightMax) });
    const list = j['members'];
    if (!Array.isArray(list)) throw invalidArgument('members', list, 'an array');
    const members: Member[] = [];
    let points = 0;
    for (const [i, item] of list.entries()) {
      const node = parseNodeId(item, `members[${i}]`);
      const weight = checkInteger(`members[${i}].weight`, (item as Record<string, unknown>)['weight'], 1, ringWeightMax);
      if (ring.#members.has(node.id)) throw invalidArgument(`members[${i}].id`, node.id, 'an id not listed before');
      points += weight * ring.vnodesPerWeight;
      if (points > ringPointsMax) throw invalidArgument('members', list, `at most ${ringPointsMax} points in total`);
      const member: Member = { node, weight, slot: i };
      ring.#members.set(node.id, member);
      members.push(member);
    }
    ring.#slots = members;
    // The same members in the same order give the same points and owner slots: a view change
    // back to a membership seen before (and every process of a simulated cluster) reuses them.
    const key = `${ring.vnodesPerWeight}\n${members.map((m) => `${m.weight}:${m.node.id}`).join('\n')}`;
    const known = ringsCache.get(key);
    if (known !== undefined) {
      ring.#points = known;
      return ring;
    }
    // Merge the members' sorted runs pairwise: O(points × log members), one sort per member.
    let runs = members.map((m) => ring.#memberPoints(m));
    while (runs.length > 1) {
      const next: Points[] = [];
      for (let r = 0; r < runs.length; r += 2) {
        const [a, b] = [runs[r], runs[r + 1]];
        if (a !== undefined) next.push(b === undefined ? a : ring.#merge(a, b));
      }
      runs = next;
    }
    if (runs[0] !== undefined) ring.#points = runs[0];
    ringsCache.put(key, ring.#points);
    return ring;
  }

  #ownerAt(index: number): NodeId {
    const member = this.#slots[this.#points.owners[index] ?? -1];
    assert(member !== undefined, 'every point has a live owner');
    return member.node;
  }

  /** Index of the first point at or after `position`, wrapping to 0 past the end. */
  #lowerBound(position: number): number {
    const positions = this.#points.positions;
    let lo = 0;
    let hi = positions.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((positions[mid] ?? 0) < position) lo = mid + 1;
      else hi = mid;
    }
    return lo === positions.length ? 0 : lo;
  }

  #reweigh(member: Member, node: NodeId, weight: number): this {
    if (weight !== member.weight) {
      this.#checkRoom(weight - member.weight);
      this.#dropPoints(member);
      member.weight = weight;
      this.#points = this.#merge(this.#points, this.#memberPoints(member));
    }
    member.node = node;
    return this;
  }

  #checkRoom(extraWeight: number): void {
    const have = this.#points.positions.length;
    if (have + extraWeight * this.vnodesPerWeight > ringPointsMax) {
      throw invalidArgument('weight', extraWeight, `small enough to keep the ring within ${ringPointsMax} points (it has ${have})`);
    }
  }

  /** The member's points, sorted; equal positions within one member need no tie-break. */
  #memberPoints(member: Member): Points {
    const positions = memberPositions(member.node.id, member.weight * this.vnodesPerWeight);
    return { positions, owners: new Uint32Array(positions.length).fill(member.slot) };
  }

  #dropPoints(member: Member): void {
    const { positions, owners } = this.#points;
    const keep = positions.length - member.weight * this.vnodesPerWeight;
    const out: Points = { positions: new Float64Array(keep), owners: new Uint32Array(keep) };
    let o = 0;
    for (let i = 0; i < positions.length; i++) {
      if (owners[i] === member.slot) continue;
      out.positions[o] = positions[i] ?? 0;
      out.owners[o++] = owners[i] ?? 0;
    }
    assert(o === keep, 'a member owns exactly weight × vnodesPerWeight points');
    this.#points = out;
  }

  /** Merges two sorted runs in O(a + b); equal positions go in member-id order. */
  #merge(a: Points, b: Points): Points {
    const aLength = a.positions.length;
    const bLength = b.positions.length;
    const out: Points = { positions: new Float64Array(aLength + bLength), owners: new Uint32Array(aLength + bLength) };
    let i = 0;
    let j = 0;
    for (let o = 0; o < out.positions.length; o++) {
      const pa = a.positions[i] ?? Infinity;
      const pb = b.positions[j] ?? Infinity;
      if (j >= bLength || (i < aLength && (pa < pb || (pa === pb && this.#idBefore(a.owners[i] ?? 0, b.owners[j] ?? 0))))) {
        out.positions[o] = pa;
        out.owners[o] = a.owners[i++] ?? 0;
      } else {
        out.positions[o] = pb;
        out.owners[o] = b.owners[j++] ?? 0;
      }
    }
    return out;
  }

  #idBefore(slotA: number, slotB: number): boolean {
    return (this.#slots[slotA]?.node.id ?? '') < (this.#slots[slotB]?.node.id ?? '');
  }
}

function hex8(value: number): string {
  return value.toString(16).padStart(8, '0');
}

function checkId(field: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > nodeIdLengthMax) {
    throw invalidArgument(field, value, `a non-empty string of at most ${nodeIdLengthMax} chars`);
  }
  return value;
}

function idOf(node: unknown, field: string): string {
  return typeof node === 'string' ? checkId(field, node) : parseNodeId(node, field).id;
}
