import { invalidArgument } from '../env/errors.js';
import { assert } from '../env/assert.js';
import {
  nodeIdLengthMax,
  vectorClockEntriesMax,
  vectorClockLowerBoundDefault,
  vectorClockOldBoundMsDefault,
  vectorClockUpperBoundDefault,
  vectorClockYoungBoundMsDefault,
} from '../constants.js';

/** One node's entry: how many events it counted, when it was added and when it last counted. */
export interface VectorClockEntry {
  readonly count: number;
  readonly insertMs: number;
  readonly updateMs: number;
}

/** How two clocks relate: same history, one strictly after the other, or neither. */
export type VectorClockOrder = 'equal' | 'descends' | 'precedes' | 'concurrent';

/** The JSON-safe form of a {@link VectorClock}; entries sorted by id. */
export interface VectorClockJson {
  readonly entries: ({ readonly id: string } & VectorClockEntry)[];
}

/** Pruning rules of {@link VectorClock.trim} (Riak's vclock pruning, Clusterluck's names). */
export interface VectorClockTrimOptions {
  /** Entries never pruned below this count. @default vectorClockLowerBoundDefault (10) */
  readonly lowerBound?: number;
  /** Above this count the oldest entries go, unless younger than `youngBoundMs`. @default vectorClockUpperBoundDefault (50) */
  readonly upperBound?: number;
  /** An entry updated less than this long ago stops the pruning. @default vectorClockYoungBoundMsDefault (20 s) */
  readonly youngBoundMs?: number;
  /** An entry not updated for longer than this goes, down to `lowerBound`. @default vectorClockOldBoundMsDefault (1 day) */
  readonly oldBoundMs?: number;
}

/**
 * A vector clock (Clusterluck's VClock, as in Riak): node id → {count, insertMs, updateMs}.
 * Causality ({@link compare}, {@link descends}, {@link equals}) looks at counts only, a missing
 * entry counting as 0; the times only steer {@link trim}. Time is always an argument.
 */
export class VectorClock {
  #entries = new Map<string, VectorClockEntry>();

  /** Adds `id` with count 0 if it has no entry yet (an existing entry is left alone). */
  insert(id: string, nowMs: number): this {
    checkId('id', id);
    checkTime('nowMs', nowMs);
    if (!this.#entries.has(id)) {
      checkRoom(this.#entries.size + 1);
      this.#entries.set(id, freeze(0, nowMs, nowMs));
    }
    return this;
  }

  /** Counts one event of `id` at `nowMs`, adding the entry first when missing. */
  increment(id: string, nowMs: number): this {
    this.insert(id, nowMs);
    const entry = this.#entries.get(id);
    assert(entry !== undefined && entry.count < Number.MAX_SAFE_INTEGER, 'a countable entry');
    this.#entries.set(id, freeze(entry.count + 1, entry.insertMs, nowMs));
    return this;
  }

  /** The entry of `id`, or undefined. */
  get(id: string): VectorClockEntry | undefined {
    return this.#entries.get(checkId('id', id));
  }

  /** True when `id` has an entry. */
  has(id: string): boolean {
    return this.#entries.has(checkId('id', id));
  }

  /** Number of entries. */
  size(): number {
    return this.#entries.size;
  }

  /** Ids with an entry, sorted. */
  nodes(): string[] {
    return [...this.#entries.keys()].sort(compareIds);
  }

  /** A new clock holding, per node, the larger count and the later times of the two. */
  merge(other: VectorClock): VectorClock {
    checkClock(other);
    const out = this.clone();
    for (const [id, theirs] of other.#entries) {
      const ours = out.#entries.get(id);
      out.#entries.set(id, ours === undefined ? theirs : latest(ours, theirs));
    }
    checkRoom(out.#entries.size);
    return out;
  }

  /** How this clock relates to `other`: 'descends' means this one has seen everything `other` has, and more. */
  compare(other: VectorClock): VectorClockOrder {
    checkClock(other);
    let ahead = false;
    let behind = false;
    for (const [id, ours] of this.#entries) if (ours.count > (other.#entries.get(id)?.count ?? 0)) ahead = true;
    for (const [id, theirs] of other.#entries) if (theirs.count > (this.#entries.get(id)?.count ?? 0)) behind = true;
    return ahead ? (behind ? 'concurrent' : 'descends') : behind ? 'precedes' : 'equal';
  }

  /** True when this clock's count is at least `other`'s for every node (so also when equal). */
  descends(other: VectorClock): boolean {
    const order = this.compare(other);
    return order === 'descends' || order === 'equal';
  }

  /** True when both clocks record the same counts (times are not compared). */
  equals(other: VectorClock): boolean {
    return this.compare(other) === 'equal';
  }

  /**
   * Prunes entries, least recently updated first (ties by id), as Riak does: stop at
   * `lowerBound` entries or at the first entry younger than `youngBoundMs`; otherwise drop it
   * if there are more than `upperBound` entries or it is older than `oldBoundMs`, else stop.
   */
  trim(nowMs: number, options: VectorClockTrimOptions = {}): this {
    checkTime('nowMs', nowMs);
    if (typeof options !== 'object' || options === null) throw invalidArgument('options', options, 'an object');
    const lowerBound = checkCount('lowerBound', options.lowerBound ?? vectorClockLowerBoundDefault);
    const upperBound = checkCount('upperBound', options.upperBound ?? vectorClockUpperBoundDefault);
    const youngBoundMs = checkSpan('youngBoundMs', options.youngBoundMs ?? vectorClockYoungBoundMsDefault);
    const oldBoundMs = checkSpan('oldBoundMs', options.oldBoundMs ?? vectorClockOldBoundMsDefault);
    const oldestFirst = [...this.#entries].sort(([a, x], [b, y]) => x.updateMs - y.updateMs || compareIds(a, b));
    for (const [id, entry] of oldestFirst) {
      const ageMs = nowMs - entry.updateMs;
      if (this.#entries.size <= lowerBound || ageMs < youngBoundMs) break;
      if (this.#entries.size <= upperBound && ageMs <= oldBoundMs) break;
      this.#entries.delete(id);
    }
    return this;
  }

  /** An independent copy. */
  clone(): VectorClock {
    const copy = new VectorClock();
    copy.#entries = new Map(this.#entries);
    return copy;
  }

  /** The JSON-safe form, entries sorted by id; {@link VectorClock.parse} reads it back. */
  toJSON(): VectorClockJson {
    return { entries: this.nodes().map((id) => ({ id, ...(this.#entries.get(id) ?? freeze(0, 0, 0)) })) };
  }

  /** Rebuilds a clock from {@link VectorClock.toJSON} output, checking every field (INVALID_ARGUMENT). */
  static parse(json: unknown): VectorClock {
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw invalidArgument('clock', json, 'an object');
    const list = (json as Record<string, unknown>)['entries'];
    if (!Array.isArray(list) || list.length > vectorClockEntriesMax) {
      throw invalidArgument('entries', list, `an array of at most ${vectorClockEntriesMax} entries`);
    }
    const clock = new VectorClock();
    for (const [i, item] of list.entries()) {
      if (typeof item !== 'object' || item === null) throw invalidArgument(`entries[${i}]`, item, 'an object');
      const e = item as Record<string, unknown>;
      const id = checkId(`entries[${i}].id`, e['id']);
      if (clock.#entries.has(id)) throw invalidArgument(`entries[${i}].id`, id, 'an id not listed before');
      const count = checkCount(`entries[${i}].count`, e['count']);
      const insertMs = checkTime(`entries[${i}].insertMs`, e['insertMs']);
      clock.#entries.set(id, freeze(count, insertMs, checkTime(`entries[${i}].updateMs`, e['updateMs'])));
    }
    return clock;
  }
}

function freeze(count: number, insertMs: number, updateMs: number): VectorClockEntry {
  return Object.freeze({ count, insertMs, updateMs });
}

/** Per field, the larger of two entries: what a merge keeps. */
function latest(a: VectorClockEntry, b: VectorClockEntry): VectorClockEntry {
  return freeze(Math.max(a.count, b.count), Math.max(a.insertMs, b.insertMs), Math.max(a.updateMs, b.updateMs));
}

function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function checkRoom(size: number): void {
  if (size > vectorClockEntriesMax) throw invalidArgument('entries', size, `at most ${vectorClockEntriesMax}`);
}

function checkClock(value: unknown): asserts value is VectorClock {
  if (!(value instanceof VectorClock)) throw invalidArgument('other', value, 'a VectorClock');
}

function checkId(field: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > nodeIdLengthMax) {
    throw invalidArgument(field, value, `a non-empty string of at most ${nodeIdLengthMax} chars`);
  }
  return value;
}

function checkTime(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw invalidArgument(field, value, 'a finite number of milliseconds');
  return value;
}

function checkCount(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw invalidArgument(field, value, 'a non-negative integer');
  }
  return value;
}

function checkSpan(field: string, value: unknown): number {
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
    throw invalidArgument(field, value, 'a non-negative number of milliseconds');
  }
  return value;
}
