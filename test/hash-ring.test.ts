import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ringCachedPointsMax, ringPointsMax, ringVnodesPerWeightDefault, ringWeightMax } from '../lib/constants.js';
import { HashRing } from '../lib/core/hash-ring.js';
import { hash32, ringPosition } from '../lib/core/hash.js';
import type { NodeId } from '../lib/core/node-id.js';
import { ClusterluckError } from '../lib/env/errors.js';

const node = (id: string, address = `addr-${id}`): NodeId => ({ id, address });

/** Runs `fn` and returns the ClusterluckError it throws (fails the test when it does not throw one). */
function thrown(fn: () => unknown): ClusterluckError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ClusterluckError);
    return err as ClusterluckError;
  }
  throw new Error('expected a throw');
}

const keys = (count: number, prefix = 'key-'): string[] => Array.from({ length: count }, (_, i) => `${prefix}${i}`);

/** MurmurHash3 x86_32 over bytes, written from the reference C code, to check hash32 against. */
function murmurBytes(bytes: Uint8Array, seed: number): number {
  let h = seed | 0;
  const blocks = bytes.length >> 2;
  const m = (k: number): number => Math.imul(((k = Math.imul(k, 0xcc9e2d51)), (k << 15) | (k >>> 17)), 0x1b873593);
  for (let b = 0; b < blocks; b++) {
    const i = b * 4;
    h ^= m((bytes[i] ?? 0) | ((bytes[i + 1] ?? 0) << 8) | ((bytes[i + 2] ?? 0) << 16) | ((bytes[i + 3] ?? 0) << 24));
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  let k = 0;
  const tail = blocks * 4;
  const rest = bytes.length & 3;
  if (rest >= 3) k ^= (bytes[tail + 2] ?? 0) << 16;
  if (rest >= 2) k ^= (bytes[tail + 1] ?? 0) << 8;
  if (rest >= 1) h ^= m(k ^ (bytes[tail] ?? 0));
  h ^= bytes.length;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function utf16le(text: string): Uint8Array {
  const out = new Uint8Array(text.length * 2);
  for (let i = 0; i < text.length; i++) {
    out[2 * i] = text.charCodeAt(i) & 0xff;
    out[2 * i + 1] = text.charCodeAt(i) >>> 8;
  }
  return out;
}

describe('hash32 and ringPosition', () => {
  it('the byte-level reference matches published MurmurHash3 x86_32 vectors', () => {
    const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
    expect(murmurBytes(ascii(''), 0)).toBe(0);
    expect(murmurBytes(ascii(''), 1)).toBe(0x514e28b7);
    expect(murmurBytes(ascii('Hello, world!'), 1234)).toBe(0xfaf6cdb3);
    expect(murmurBytes(ascii('The quick brown fox jumps over the lazy dog'), 0x9747b28c)).toBe(0x2fa826cd);
  });

  it('hash32 is MurmurHash3 x86_32 of the UTF-16LE bytes of any string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), fc.integer({ min: 0, max: 0xffffffff }), (text, seed) => {
        expect(hash32(text, seed)).toBe(murmurBytes(utf16le(text), seed));
      }),
    );
  });

  it('ringPosition is a non-negative safe integer that uses the high bits too', () => {
    const positions = keys(1000).map(ringPosition);
    for (const p of positions) expect(Number.isSafeInteger(p) && p >= 0).toBe(true);
    expect(Math.max(...positions)).toBeGreaterThan(2 ** 52);
    expect(new Set(positions).size).toBe(1000);
  });

  it('hash32 and ringPosition refuse arguments of the wrong type', () => {
    expect(thrown(() => hash32(1 as unknown as string, 0)).fails).toHaveProperty('text');
    expect(thrown(() => hash32('a', -1)).fails).toHaveProperty('seed');
    expect(thrown(() => hash32('a', 1.5)).fails).toHaveProperty('seed');
    expect(thrown(() => ringPosition(null as unknown as string)).code).toBe('INVALID_ARGUMENT');
  });
});

describe('HashRing', () => {
  it('a new ring is empty and uses the default vnodes per weight', () => {
    const ring = new HashRing();
    expect([ring.size(), ring.pointCount(), ring.vnodesPerWeight]).toEqual([0, 0, ringVnodesPerWeightDefault]);
    expect(ring.nodes()).toEqual([]);
  });

  it('find on an empty ring throws NOT_FOUND', () => {
    expect(thrown(() => new HashRing().find('k')).code).toBe('NOT_FOUND');
  });

  it('insert adds members with weight × vnodesPerWeight points each', () => {
    const ring = new HashRing({ vnodesPerWeight: 10 }).insert(node('a')).insert(node('b'), 3);
    expect([ring.size(), ring.pointCount()]).toEqual([2, 40]);
    expect([ring.has('a'), ring.has('b'), ring.has('c')]).toEqual([true, true, false]);
    expect(ring.get('b')).toEqual(node('b'));
    expect(ring.get('c')).toBeUndefined();
    expect([ring.weight('a'), ring.weight('b'), ring.weight('c')]).toEqual([1, 3, undefined]);
  });

  it('nodes and weights come back sorted by id', () => {
    const ring = new HashRing({ vnodesPerWeight: 4 }).insert(node('c'), 2).insert(node('a')).insert(node('B'), 5);
    expect(ring.nodes().map((n) => n.id)).toEqual(['B', 'a', 'c']);
    expect([...ring.weights()]).toEqual([['B', 5], ['a', 1], ['c', 2]]);
  });

  it('re-inserting an id replaces its address and weight', () => {
    const ring = new HashRing({ vnodesPerWeight: 8 }).insert(node('a')).insert(node('b'));
    ring.insert(node('a', 'elsewhere'), 2);
    expect([ring.size(), ring.pointCount(), ring.weight('a'), ring.get('a')?.address]).toEqual([2, 24, 2, 'elsewhere']);
    ring.insert(node('a', 'third'), 2);
    expect([ring.pointCount(), ring.get('a')?.address]).toEqual([24, 'third']);
  });

  it('remove takes a member away by NodeId or by id and ignores strangers', () => {
    const ring = new HashRing({ vnodesPerWeight: 8 }).insert(node('a')).insert(node('b'), 2).insert(node('c'));
    ring.remove(node('b')).remove('c').remove('zzz');
    expect(ring.nodes()).toEqual([node('a')]);
    expect(ring.pointCount()).toBe(8);
    for (const key of keys(50)) expect(ring.find(key)).toEqual(node('a'));
  });

  it('update changes the weight of a member, and of a stranger throws NOT_FOUND', () => {
    const ring = new HashRing({ vnodesPerWeight: 8 }).insert(node('a')).insert(node('b'));
    ring.update('a', 3);
    expect([ring.weight('a'), ring.pointCount()]).toEqual([3, 32]);
    ring.update(node('b', 'moved'), 2);
    expect([ring.weight('b'), ring.get('b')?.address, ring.pointCount()]).toEqual([2, 'moved', 40]);
    expect(thrown(() => ring.update('nobody', 1)).code).toBe('NOT_FOUND');
  });

  it('a ring of one member sends every key to it', () => {
    const ring = new HashRing().insert(node('solo'));
    for (const key of keys(100)) expect(ring.find(key)).toEqual(node('solo'));
  });

  it('find agrees with a linear scan for the first point at or after the key, wrapping', () => {
    const ring = new HashRing({ vnodesPerWeight: 5 }).insert(node('a')).insert(node('b'), 2).insert(node('c'));
    const points = ['a', 'b', 'c']
      .flatMap((id) => Array.from({ length: 5 * (ring.weight(id) ?? 0) }, (_, i) => ({ id, p: ringPosition(`${id}#${i}`) })))
      .sort((x, y) => x.p - y.p);
    for (const key of keys(300)) {
      const p = ringPosition(key);
      const expected = points.find((x) => x.p >= p) ?? points[0];
      expect(ring.find(key).id).toBe(expected?.id);
    }
  });

  it('rings built again of the same members (their points reused, not hashed again) place keys as the linear scan says, whatever was built, removed or evicted between', () => {
    const scan = (ring: HashRing, ids: readonly string[], v: number) => {
      const points = ids.flatMap((id) => Array.from({ length: v * (ring.weight(id) ?? 0) }, (_, i) => ({ id, p: ringPosition(`${id}#${i}`) }))).sort((x, y) => x.p - y.p || (x.id < y.id ? -1 : 1));
      return (key: string): string | undefined => (points.find((x) => x.p >= ringPosition(key)) ?? points[0])?.id;
    };
    // Weights and vnodes change a member's point count: the same id, other points.
    const build = fc.record({ ids: fc.uniqueArray(fc.constantFrom('a', 'b', 'c', '1:a', '3:a'), { minLength: 1, maxLength: 4 }), v: fc.constantFrom(3, 5), weight: fc.integer({ min: 1, max: 3 }), drop: fc.boolean() });
    fc.assert(fc.property(fc.array(build, { minLength: 2, maxLength: 6 }), (builds) => {
      for (const { ids, v, weight, drop } of builds) {
        const ring = HashRing.parse({ vnodesPerWeight: v, members: ids.map((id) => ({ id, address: id, weight: id === 'a' ? weight : 1 })) });
        if (drop && ids.length > 1) ring.remove(ids[0] as string); // rebuilds its points from the shared ones
        const live = drop && ids.length > 1 ? ids.slice(1) : ids;
        const expected = scan(ring, live, v);
        expect(ring.pointCount()).toBe(live.reduce((n, id) => n + v * (ring.weight(id) ?? 0), 0));
        for (const key of keys(40)) expect(ring.find(key).id).toBe(expected(key));
      }
    }), { numRuns: 25 });
    // A member of ringCachedPointsMax points evicts every other; rings built before and after agree.
    const before = HashRing.parse({ vnodesPerWeight: 5, members: [{ id: 'a', address: 'a', weight: 2 }, { id: 'b', address: 'b', weight: 1 }] });
    const huge = new HashRing({ vnodesPerWeight: ringCachedPointsMax / ringWeightMax }).insert(node('huge'), ringWeightMax);
    expect(huge.pointCount()).toBe(ringCachedPointsMax);
    const after = HashRing.parse(before.toJSON());
    for (const key of keys(200)) expect(after.find(key)).toEqual(before.find(key));
  });

  it('a key past the last point wraps to the first point, and a key on a point belongs to it', () => {
    const ring = new HashRing({ vnodesPerWeight: 1 }).insert(node('a')).insert(node('b')).insert(node('c'));
    const points = ['a', 'b', 'c'].map((id) => ({ id, p: ringPosition(`${id}#0`) })).sort((x, y) => x.p - y.p);
    const [first, last] = [points[0], points[2]];
    expect(first?.id).not.toBe(last?.id);
    const beyond = keys(200).filter((k) => ringPosition(k) > (last?.p ?? 0));
    expect(beyond.length).toBeGreaterThan(0);
    for (const k of beyond) expect(ring.find(k).id).toBe(first?.id);
    // "a#0" hashes exactly onto a's point, so a owns it ("at or after").
    for (const id of ['a', 'b', 'c']) expect(ring.find(`${id}#0`).id).toBe(id);
  });

  it('preferenceList gives k distinct members starting with the owner, in ring order', () => {
    const ring = new HashRing({ vnodesPerWeight: 16 });
    for (let i = 0; i < 6; i++) ring.insert(node(`n${i}`), (i % 3) + 1);
    for (const key of keys(100)) {
      const list = ring.preferenceList(key, 3);
      expect(list).toHaveLength(3);
      expect(new Set(list.map((n) => n.id)).size).toBe(3);
      expect(list[0]).toEqual(ring.find(key));
      // Each prefix is what a smaller k gives: the order is the walk order, not a re-sort.
      expect(ring.preferenceList(key, 2)).toEqual(list.slice(0, 2));
    }
    expect(ring.preferenceList('x', 10).map((n) => n.id).sort()).toEqual(['n0', 'n1', 'n2', 'n3', 'n4', 'n5']);
    expect(ring.preferenceList('x', 0)).toEqual([]);
    expect(new HashRing().preferenceList('x', 3)).toEqual([]);
  });

  it('"__proto__" and "constructor" are ordinary member ids', () => {
    const ring = new HashRing({ vnodesPerWeight: 8 }).insert(node('__proto__')).insert(node('constructor'), 2);
    expect([ring.has('__proto__'), ring.weight('constructor'), ring.size()]).toEqual([true, 2, 2]);
    expect([...ring.weights().keys()]).toEqual(['__proto__', 'constructor']);
    const back = HashRing.parse(JSON.parse(JSON.stringify(ring.toJSON())));
    expect(back.equals(ring)).toBe(true);
    expect(back.get('__proto__')).toEqual(node('__proto__'));
    ring.remove('__proto__');
    expect(ring.nodes()).toEqual([node('constructor')]);
  });

  it('equals compares vnodesPerWeight, ids, addresses and weights, not insertion order', () => {
    const a = new HashRing({ vnodesPerWeight: 8 }).insert(node('x')).insert(node('y'), 2);
    const b = new HashRing({ vnodesPerWeight: 8 }).insert(node('y'), 2).insert(node('x'));
    expect(a.equals(b)).toBe(true);
    expect(a.equals(b.clone().update('y', 3))).toBe(false);
    expect(a.equals(b.clone().insert(node('x', 'other')))).toBe(false);
    expect(a.equals(b.clone().remove('x').insert(node('z')))).toBe(false);
    expect(a.equals(new HashRing({ vnodesPerWeight: 9 }).insert(node('x')).insert(node('y'), 2))).toBe(false);
    expect(a.checksum()).toBe(b.checksum());
    expect(a.checksum()).toMatch(/^[0-9a-f]{16}$/);
    expect(a.checksum()).not.toBe(b.clone().update('y', 3).checksum());
  });

  it('a clone is independent of its original', () => {
    const a = new HashRing({ vnodesPerWeight: 8 }).insert(node('x')).insert(node('y'));
    const b = a.clone();
    b.remove('x').insert(node('z'), 4);
    expect(a.nodes().map((n) => n.id)).toEqual(['x', 'y']);
    expect(a.pointCount()).toBe(16);
    for (const key of keys(50)) expect(['x', 'y']).toContain(a.find(key).id);
  });

  it('toJSON is sorted and JSON-safe', () => {
    const ring = new HashRing({ vnodesPerWeight: 3 }).insert(node('b'), 2).insert(node('a'));
    expect(ring.toJSON()).toEqual({
      vnodesPerWeight: 3,
      members: [{ id: 'a', address: 'addr-a', weight: 1 }, { id: 'b', address: 'addr-b', weight: 2 }],
    });
  });

  it('bad arguments throw INVALID_ARGUMENT naming the field', () => {
    const ring = new HashRing().insert(node('a'));
    const field = (fn: () => unknown): string[] => {
      const err = thrown(fn);
      expect(err.code).toBe('INVALID_ARGUMENT');
      return Object.keys(err.fails ?? {});
    };
    expect(field(() => new HashRing({ vnodesPerWeight: 0 }))).toEqual(['vnodesPerWeight']);
    expect(field(() => new HashRing({ vnodesPerWeight: 1.5 }))).toEqual(['vnodesPerWeight']);
    expect(field(() => ring.insert(node('b'), 0))).toEqual(['weight']);
    expect(field(() => ring.insert(node('b'), ringWeightMax + 1))).toEqual(['weight']);
    expect(field(() => ring.insert(node('b'), Number.NaN))).toEqual(['weight']);
    expect(field(() => ring.insert({ id: '', address: 'x' }))).toEqual(['node.id']);
    expect(field(() => ring.insert({ id: 'b' } as unknown as NodeId))).toEqual(['node.address']);
    expect(field(() => ring.insert(null as unknown as NodeId))).toEqual(['node']);
    expect(field(() => ring.remove(7 as unknown as string))).toEqual(['node']);
    expect(field(() => ring.update('a', 2.5))).toEqual(['weight']);
    expect(field(() => ring.has(undefined as unknown as string))).toEqual(['id']);
    expect(field(() => ring.get(''))).toEqual(['id']);
    expect(field(() => ring.weight({} as unknown as string))).toEqual(['id']);
    expect(field(() => ring.find(42 as unknown as string))).toEqual(['key']);
    expect(field(() => ring.preferenceList('k', -1))).toEqual(['k']);
    expect(field(() => ring.equals({} as unknown as HashRing))).toEqual(['other']);
    // A failed call leaves the ring as it was.
    expect([ring.size(), ring.pointCount()]).toEqual([1, ringVnodesPerWeightDefault]);
  });

  it('parse refuses a ring beyond ringPointsMax before building any point', () => {
    const length = ringPointsMax / 4096 / ringWeightMax + 1;
    const members = Array.from({ length }, (_, i) => ({ id: `m${i}`, address: '', weight: ringWeightMax }));
    const err = thrown(() => HashRing.parse({ vnodesPerWeight: 4096, members }));
    expect(err.fails).toEqual({ members: `must be at most ${ringPointsMax} points in total, got an array of 33` });
  });

  it('parse refuses malformed input, naming the field and value', () => {
    const good = { vnodesPerWeight: 4, members: [{ id: 'a', address: 'x', weight: 1 }] };
    const failOf = (json: unknown): Record<string, string> => ({ ...thrown(() => HashRing.parse(json)).fails });
    expect(failOf(null)).toHaveProperty('ring');
    expect(failOf([])).toHaveProperty('ring');
    expect(failOf({ ...good, vnodesPerWeight: '4' })).toEqual({ vnodesPerWeight: 'must be an integer in [1, 4096], got "4"' });
    expect(failOf({ ...good, members: {} })).toHaveProperty('members');
    expect(failOf({ ...good, members: [null] })).toHaveProperty(['members[0]']);
    expect(failOf({ ...good, members: [{ id: 'a', address: 3, weight: 1 }] })).toHaveProperty(['members[0].address']);
    expect(failOf({ ...good, members: [{ id: 'a', address: 'x', weight: 65 }] })).toEqual({
      'members[0].weight': 'must be an integer in [1, 64], got 65',
    });
    expect(failOf({ ...good, members: [...good.members, { id: 'a', address: 'y', weight: 2 }] })).toHaveProperty(['members[1].id']);
    expect(HashRing.parse(good).toJSON()).toEqual(good);
  });
});

describe('HashRing properties', () => {
  const memberIds = fc.uniqueArray(fc.string({ minLength: 1, maxLength: 8 }), { minLength: 2, maxLength: 8 });
  const vnodes = fc.constantFrom(1, 7, 64, 1024);
  const build = (ids: string[], v: number, weightOf: (i: number) => number = () => 1): HashRing => {
    const ring = new HashRing({ vnodesPerWeight: v });
    ids.forEach((id, i) => ring.insert(node(id), weightOf(i)));
    return ring;
  };
  const sample = keys(300, 'p-');

  it('removing a member moves only the keys it owned', () => {
    fc.assert(
      fc.property(memberIds, vnodes, fc.nat(), (ids, v, pick) => {
        const ring = build(ids, v, (i) => (i % 3) + 1);
        const gone = ids[pick % ids.length] ?? '';
        const before = sample.map((k) => ring.find(k).id);
        ring.remove(gone);
        sample.forEach((k, i) => {
          if (before[i] !== gone) expect(ring.find(k).id).toBe(before[i]);
          else expect(ring.find(k).id).not.toBe(gone);
        });
      }),
      { numRuns: 40 },
    );
  });

  it('inserting a member only moves keys to the new member', () => {
    fc.assert(
      fc.property(memberIds, vnodes, fc.integer({ min: 1, max: 4 }), (ids, v, weight) => {
        const [newcomer = '', ...rest] = ids;
        const ring = build(rest, v);
        const before = sample.map((k) => ring.find(k).id);
        ring.insert(node(newcomer), weight);
        sample.forEach((k, i) => expect([before[i], newcomer]).toContain(ring.find(k).id));
      }),
      { numRuns: 40 },
    );
  });

  it('the result does not depend on the order members were inserted or removed in', () => {
    fc.assert(
      fc.property(memberIds, vnodes, (ids, v) => {
        const a = build(ids, v, (i) => (i % 2) + 1);
        const b = new HashRing({ vnodesPerWeight: v }).insert(node('temp'), 3);
        [...ids.entries()].reverse().forEach(([i, id]) => b.insert(node(id), (i % 2) + 1));
        b.remove('temp');
        expect(b.equals(a) || ids.includes('temp')).toBe(true);
        if (!ids.includes('temp')) for (const k of sample) expect(b.find(k)).toEqual(a.find(k));
      }),
      { numRuns: 30 },
    );
  });

  it('parse(JSON of toJSON) equals the original and places every key the same way', () => {
    fc.assert(
      fc.property(memberIds, vnodes, fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 8, maxLength: 8 }), (ids, v, ws) => {
        const ring = build(ids, v, (i) => ws[i] ?? 1);
        const back = HashRing.parse(JSON.parse(JSON.stringify(ring.toJSON())));
        expect(back.equals(ring)).toBe(true);
        expect(back.checksum()).toBe(ring.checksum());
        expect(back.pointCount()).toBe(ring.pointCount());
        for (const k of sample) {
          expect(back.find(k)).toEqual(ring.find(k));
          expect(back.preferenceList(k, 3)).toEqual(ring.preferenceList(k, 3));
        }
      }),
      { numRuns: 30 },
    );
  });

  it('a weight-2 member owns about twice the share of a weight-1 member', () => {
    const ring = new HashRing();
    for (let i = 0; i < 6; i++) ring.insert(node(`m${i}`), i < 3 ? 1 : 2);
    const counts = new Map<string, number>();
    for (const k of keys(90_000)) counts.set(ring.find(k).id, (counts.get(ring.find(k).id) ?? 0) + 1);
    const light = [0, 1, 2].map((i) => counts.get(`m${i}`) ?? 0);
    const heavy = [3, 4, 5].map((i) => counts.get(`m${i}`) ?? 0);
    // Expected 10,000 and 20,000 keys; allow ±15 %.
    for (const c of light) expect(c).toBeGreaterThan(8_500), expect(c).toBeLessThan(11_500);
    for (const c of heavy) expect(c).toBeGreaterThan(17_000), expect(c).toBeLessThan(23_000);
    const ratio = heavy.reduce((a, b) => a + b) / light.reduce((a, b) => a + b);
    expect(ratio).toBeGreaterThan(1.8);
    expect(ratio).toBeLessThan(2.2);
  });
});
