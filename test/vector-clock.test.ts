import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { vectorClockEntriesMax } from '../lib/constants.js';
import { VectorClock, type VectorClockJson } from '../lib/core/vector-clock.js';
import { ClusterluckError } from '../lib/env/errors.js';

function thrown(fn: () => unknown): ClusterluckError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ClusterluckError);
    return err as ClusterluckError;
  }
  throw new Error('expected a throw');
}

const failedFields = (fn: () => unknown): string[] => {
  const err = thrown(fn);
  expect(err.code).toBe('INVALID_ARGUMENT');
  return Object.keys(err.fails ?? {});
};

/** A clock from [id, count, updateMs] triples, each inserted at time 0. */
function clockOf(...entries: [string, number, number?][]): VectorClock {
  const clock = new VectorClock();
  for (const [id, count, at = 0] of entries) {
    clock.insert(id, 0);
    for (let i = 0; i < count; i++) clock.increment(id, at);
  }
  return clock;
}

const counts = (clock: VectorClock): Record<string, number> =>
  Object.fromEntries(clock.toJSON().entries.map((e) => [e.id, e.count]));

describe('VectorClock', () => {
  it('insert adds an entry at count 0 and leaves an existing one alone', () => {
    const clock = new VectorClock().insert('a', 5);
    expect(clock.get('a')).toEqual({ count: 0, insertMs: 5, updateMs: 5 });
    clock.increment('a', 9).insert('a', 20);
    expect(clock.get('a')).toEqual({ count: 1, insertMs: 5, updateMs: 9 });
    expect([clock.has('a'), clock.has('b'), clock.size(), clock.get('b')]).toEqual([true, false, 1, undefined]);
  });

  it('increment counts events and stamps the update time, adding a missing entry', () => {
    const clock = new VectorClock().increment('b', 3).increment('b', 7).increment('a', 8);
    expect(clock.get('b')).toEqual({ count: 2, insertMs: 3, updateMs: 7 });
    expect(clock.get('a')).toEqual({ count: 1, insertMs: 8, updateMs: 8 });
    expect(clock.nodes()).toEqual(['a', 'b']);
  });

  it('merge keeps the larger count and the later times per node, without touching its inputs', () => {
    const a = new VectorClock().increment('x', 10).increment('x', 11).increment('y', 5);
    const b = new VectorClock().insert('x', 1).increment('x', 20).increment('z', 2);
    const m = a.merge(b);
    expect(m.toJSON()).toEqual({
      entries: [
        { id: 'x', count: 2, insertMs: 10, updateMs: 20 },
        { id: 'y', count: 1, insertMs: 5, updateMs: 5 },
        { id: 'z', count: 1, insertMs: 2, updateMs: 2 },
      ],
    });
    expect([a.size(), b.size(), a.get('x')?.count]).toEqual([2, 2, 2]);
  });

  it('compare tells equal, descends, precedes and concurrent apart', () => {
    expect(clockOf(['a', 1], ['b', 2]).compare(clockOf(['b', 2], ['a', 1]))).toBe('equal');
    expect(clockOf(['a', 2], ['b', 2]).compare(clockOf(['a', 1], ['b', 2]))).toBe('descends');
    expect(clockOf(['a', 1]).compare(clockOf(['a', 1], ['b', 1]))).toBe('precedes');
    expect(clockOf(['a', 2], ['b', 1]).compare(clockOf(['a', 1], ['b', 2]))).toBe('concurrent');
    expect(clockOf(['a', 1]).compare(clockOf(['b', 1]))).toBe('concurrent');
    expect(new VectorClock().compare(clockOf(['a', 1]))).toBe('precedes');
  });

  it('a count-0 entry counts as absent for causality, and times never matter', () => {
    expect(clockOf(['a', 0]).equals(new VectorClock())).toBe(true);
    expect(clockOf(['a', 1, 5]).equals(clockOf(['a', 1, 900]))).toBe(true);
    expect(clockOf(['a', 1]).descends(clockOf(['a', 1]))).toBe(true);
    expect(clockOf(['a', 1]).descends(clockOf(['a', 2]))).toBe(false);
  });

  it('"__proto__" and "constructor" are ordinary node ids', () => {
    const clock = new VectorClock().increment('__proto__', 1).increment('constructor', 2);
    expect(clock.nodes()).toEqual(['__proto__', 'constructor']);
    const back = VectorClock.parse(JSON.parse(JSON.stringify(clock.toJSON())));
    expect(back.get('__proto__')).toEqual({ count: 1, insertMs: 1, updateMs: 1 });
    expect(Object.getPrototypeOf(back.toJSON())).toBe(Object.prototype);
  });

  it('trim keeps everything at or below lowerBound, however old', () => {
    const clock = clockOf(['a', 1, 0], ['b', 1, 0], ['c', 1, 0]);
    clock.trim(1e12, { lowerBound: 3, upperBound: 0, youngBoundMs: 0, oldBoundMs: 0 });
    expect(clock.nodes()).toEqual(['a', 'b', 'c']);
  });

  it('trim drops the least recently updated entries down to upperBound', () => {
    const clock = clockOf(['a', 1, 40], ['b', 1, 10], ['c', 1, 30], ['d', 1, 20], ['e', 1, 50]);
    clock.trim(1000, { lowerBound: 1, upperBound: 3, youngBoundMs: 100, oldBoundMs: 1e9 });
    expect(clock.nodes()).toEqual(['a', 'c', 'e']);
  });

  it('trim stops at the first entry younger than youngBoundMs, even above upperBound', () => {
    const clock = clockOf(['a', 1, 100], ['b', 1, 10], ['c', 1, 950], ['d', 1, 960]);
    clock.trim(1000, { lowerBound: 0, upperBound: 1, youngBoundMs: 100, oldBoundMs: 1e9 });
    // b (age 990) and a (age 900) go; c (age 50) is young, so c and d stay.
    expect(clock.nodes()).toEqual(['c', 'd']);
  });

  it('trim drops entries older than oldBoundMs down to lowerBound, within upperBound', () => {
    const clock = clockOf(['a', 1, 0], ['b', 1, 100], ['c', 1, 200], ['d', 1, 900]);
    clock.trim(1000, { lowerBound: 1, upperBound: 10, youngBoundMs: 10, oldBoundMs: 850 });
    // a (age 1000) and b (age 900) are older than 850; c (age 800) is not, so pruning stops.
    expect(clock.nodes()).toEqual(['c', 'd']);
  });

  it('trim treats an entry exactly youngBoundMs old as prunable and exactly oldBoundMs old as kept', () => {
    const young = clockOf(['a', 1, 900], ['b', 1, 950]);
    young.trim(1000, { lowerBound: 0, upperBound: 0, youngBoundMs: 100, oldBoundMs: 1e9 });
    expect(young.nodes()).toEqual(['b']); // a is 100 old: not younger than 100, so it goes; b is 50 old
    const old = clockOf(['a', 1, 500], ['b', 1, 499]);
    old.trim(1000, { lowerBound: 0, upperBound: 10, youngBoundMs: 0, oldBoundMs: 500 });
    expect(old.nodes()).toEqual(['a']); // b is 501 old (> 500) and goes; a is 500 old and stays
  });

  it('trim with the default options keeps a small clock and prunes a large old one to 10', () => {
    const small = clockOf(...Array.from({ length: 50 }, (_, i): [string, number, number] => [`n${i}`, 1, 0]));
    small.trim(10_000);
    expect(small.size()).toBe(50); // at most upperBound (50) and younger than a day
    small.increment('n50', 10_000).trim(10_000);
    expect(small.size()).toBe(51); // 51 > 50, but the oldest is younger than 20 s
    small.trim(30_000);
    expect(small.size()).toBe(50); // now the oldest (n0) goes, and 50 are within bounds
    expect(small.has('n0')).toBe(false);
    small.trim(86_400_001);
    expect(small.size()).toBe(10); // older than a day: down to lowerBound
    expect(small.nodes()).toContain('n50');
  });

  it('clone is independent of its original', () => {
    const a = clockOf(['a', 1]);
    const b = a.clone().increment('a', 1).increment('b', 1);
    expect([counts(a), counts(b)]).toEqual([{ a: 1 }, { a: 2, b: 1 }]);
  });

  it('bad arguments throw INVALID_ARGUMENT naming the field', () => {
    const clock = clockOf(['a', 1]);
    expect(failedFields(() => clock.insert('', 0))).toEqual(['id']);
    expect(failedFields(() => clock.insert('x'.repeat(257), 0))).toEqual(['id']);
    expect(failedFields(() => clock.increment('a', Number.NaN))).toEqual(['nowMs']);
    expect(failedFields(() => clock.increment('a', Infinity))).toEqual(['nowMs']);
    expect(failedFields(() => clock.get(3 as unknown as string))).toEqual(['id']);
    expect(failedFields(() => clock.has(null as unknown as string))).toEqual(['id']);
    expect(failedFields(() => clock.merge({} as VectorClock))).toEqual(['other']);
    expect(failedFields(() => clock.compare(undefined as unknown as VectorClock))).toEqual(['other']);
    expect(failedFields(() => clock.trim(0, { lowerBound: -1 }))).toEqual(['lowerBound']);
    expect(failedFields(() => clock.trim(0, { upperBound: 1.5 }))).toEqual(['upperBound']);
    expect(failedFields(() => clock.trim(0, { youngBoundMs: Number.NaN }))).toEqual(['youngBoundMs']);
    expect(failedFields(() => clock.trim(0, { oldBoundMs: -5 }))).toEqual(['oldBoundMs']);
    expect(failedFields(() => clock.trim(0, null as unknown as object))).toEqual(['options']);
    expect(counts(clock)).toEqual({ a: 1 });
  });

  it('parse refuses malformed input, naming the field and value', () => {
    const fails = (json: unknown): Readonly<Record<string, string>> | undefined => thrown(() => VectorClock.parse(json)).fails;
    const e = { id: 'a', count: 1, insertMs: 0, updateMs: 0 };
    expect(fails(null)).toHaveProperty('clock');
    expect(fails({ entries: 'x' })).toHaveProperty('entries');
    expect(fails({ entries: [7] })).toHaveProperty(['entries[0]']);
    expect(fails({ entries: [{ ...e, id: 5 }] })).toHaveProperty(['entries[0].id']);
    expect(fails({ entries: [{ ...e, count: -1 }] })).toEqual({ 'entries[0].count': 'must be a non-negative integer, got -1' });
    expect(fails({ entries: [{ ...e, count: 0.5 }] })).toHaveProperty(['entries[0].count']);
    expect(fails({ entries: [e, { ...e, id: 'b', insertMs: '1' }] })).toHaveProperty(['entries[1].insertMs']);
    expect(fails({ entries: [{ ...e, updateMs: null }] })).toHaveProperty(['entries[0].updateMs']);
    expect(fails({ entries: [e, e] })).toHaveProperty(['entries[1].id']);
    const tooMany = Array.from({ length: vectorClockEntriesMax + 1 }, (_, i) => ({ ...e, id: `n${i}` }));
    expect(fails({ entries: tooMany })).toHaveProperty('entries');
  });
});

describe('VectorClock properties', () => {
  const ids = fc.constantFrom('a', 'b', 'c', 'd', '__proto__');
  const clockArb = fc
    .array(fc.tuple(ids, fc.nat({ max: 1000 }), fc.boolean()), { maxLength: 20 })
    .map((events) => {
      const clock = new VectorClock();
      for (const [id, at, bump] of events) (bump ? clock.increment(id, at) : clock.insert(id, at));
      return clock;
    });
  const same = (x: VectorClock, y: VectorClock): void => expect(x.toJSON()).toEqual(y.toJSON());

  it('merge is commutative, associative and idempotent, times included', () => {
    fc.assert(
      fc.property(clockArb, clockArb, clockArb, (a, b, c) => {
        same(a.merge(b), b.merge(a));
        same(a.merge(b).merge(c), a.merge(b.merge(c)));
        same(a.merge(a), a);
      }),
    );
  });

  it('a merge descends both of its inputs', () => {
    fc.assert(
      fc.property(clockArb, clockArb, (a, b) => {
        const m = a.merge(b);
        expect([m.descends(a), m.descends(b)]).toEqual([true, true]);
      }),
    );
  });

  it('compare is antisymmetric and the mirror image of itself', () => {
    const mirror = { equal: 'equal', descends: 'precedes', precedes: 'descends', concurrent: 'concurrent' } as const;
    fc.assert(
      fc.property(clockArb, clockArb, (a, b) => {
        if (a.descends(b) && b.descends(a)) expect(a.equals(b)).toBe(true);
        expect(b.compare(a)).toBe(mirror[a.compare(b)]);
        expect(a.compare(a)).toBe('equal');
      }),
    );
  });

  it('incrementing makes a clock strictly descend what it was', () => {
    fc.assert(
      fc.property(clockArb, ids, (a, id) => {
        expect(a.clone().increment(id, 1).compare(a)).toBe('descends');
      }),
    );
  });

  it('trim respects lowerBound, upperBound and the age bounds', () => {
    const many = fc
      .uniqueArray(fc.string({ minLength: 1, maxLength: 4 }), { maxLength: 30 })
      .chain((names) => {
        const times = fc.array(fc.nat({ max: 1000 }), { minLength: names.length, maxLength: names.length });
        return fc.tuple(fc.constant(names), times);
      });
    const opts = fc.record({
      lowerBound: fc.nat({ max: 20 }),
      upperBound: fc.nat({ max: 30 }),
      youngBoundMs: fc.nat({ max: 1000 }),
      oldBoundMs: fc.nat({ max: 1000 }),
    });
    fc.assert(
      fc.property(many, opts, fc.integer({ min: 0, max: 2000 }), ([names, times], o, now) => {
        const clock = new VectorClock();
        names.forEach((n, i) => clock.increment(n, times[i] ?? 0));
        const before = clock.toJSON().entries;
        clock.trim(now, o);
        const kept = new Set(clock.nodes());
        const dropped = before.filter((e) => !kept.has(e.id));
        // Never below lowerBound (unless it started there); never drops a young entry.
        expect(clock.size()).toBeGreaterThanOrEqual(Math.min(o.lowerBound, before.length));
        for (const e of dropped) expect(now - e.updateMs).toBeGreaterThanOrEqual(o.youngBoundMs);
        // The dropped ones are exactly the oldest: no kept entry is older than a dropped one.
        const newestDropped = Math.max(...dropped.map((e) => e.updateMs));
        for (const e of before) if (kept.has(e.id)) expect(e.updateMs).toBeGreaterThanOrEqual(newestDropped);
        // Above upperBound it keeps going unless it hit lowerBound or a young entry.
        if (clock.size() > Math.max(o.upperBound, o.lowerBound)) {
          const oldest = Math.min(...clock.toJSON().entries.map((e) => e.updateMs));
          expect(now - oldest).toBeLessThan(o.youngBoundMs);
        }
        // An entry older than oldBoundMs survives only at lowerBound or behind a young one.
        const stale = clock.toJSON().entries.filter((e) => now - e.updateMs > o.oldBoundMs);
        if (stale.length > 0 && clock.size() > o.lowerBound) {
          expect(now - Math.min(...clock.toJSON().entries.map((e) => e.updateMs))).toBeLessThan(o.youngBoundMs);
        }
      }),
    );
  });

  it('parse(JSON of toJSON) gives back the same clock', () => {
    fc.assert(
      fc.property(clockArb, (a) => {
        const json = JSON.parse(JSON.stringify(a.toJSON())) as VectorClockJson;
        const back = VectorClock.parse(json);
        same(back, a);
        expect(back.equals(a)).toBe(true);
      }),
    );
  });
});
