import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { membersMax } from '../lib/constants.js';
import {
  inRing, memberStatus, mergeEntry, Membership, parseMemberEntry, sameEntry,
  type AdminStatus, type Liveness, type MemberEntry,
} from '../lib/core/membership.js';
import { ClusterluckError } from '../lib/env/errors.js';

const ids = ['a', 'b', 'c', 'd'];
const admins: AdminStatus[] = ['in', 'removed', 'left'];
const livenesses: Liveness[] = ['alive', 'suspect', 'down', 'removed'];

const entryArb = (id?: string): fc.Arbitrary<MemberEntry> =>
  fc.record({
    id: id === undefined ? fc.constantFrom(...ids) : fc.constant(id),
    address: fc.constantFrom('x:1', 'y:2'),
    weight: fc.integer({ min: 1, max: 3 }),
    admin: fc.constantFrom(...admins),
    version: fc.integer({ min: 0, max: 4 }),
    writer: fc.constantFrom(...ids),
    incarnation: fc.integer({ min: 0, max: 3 }),
    liveness: fc.constantFrom(...livenesses),
  }).map(({ id: i, address, ...rest }) => parseMemberEntry({ node: { id: i, address }, ...rest }));

const tableArb: fc.Arbitrary<MemberEntry[]> = fc.array(entryArb(), { maxLength: 8 });

function tableOf(entries: MemberEntry[]): Membership {
  const t = new Membership();
  t.merge(entries);
  return t;
}

function merged(...tables: MemberEntry[][]): Membership {
  const t = new Membership();
  for (const entries of tables) t.merge(entries);
  return t;
}

const node = (id: string) => ({ id, address: `${id}:1` });

describe('mergeEntry', () => {
  it('is commutative, associative and idempotent', () => {
    fc.assert(fc.property(entryArb('a'), entryArb('a'), entryArb('a'), (x, y, z) => {
      expect(sameEntry(mergeEntry(x, y), mergeEntry(y, x))).toBe(true);
      expect(sameEntry(mergeEntry(mergeEntry(x, y), z), mergeEntry(x, mergeEntry(y, z)))).toBe(true);
      expect(sameEntry(mergeEntry(x, x), x)).toBe(true);
    }), { numRuns: 2000 });
  });

  it('never goes backwards: the result is at least each input in both registers', () => {
    fc.assert(fc.property(entryArb('a'), entryArb('a'), (x, y) => {
      const m = mergeEntry(x, y);
      expect(sameEntry(mergeEntry(m, x), m) && sameEntry(mergeEntry(m, y), m)).toBe(true);
    }));
  });
});

describe('Membership.merge', () => {
  it('is commutative, associative and idempotent over whole tables', () => {
    fc.assert(fc.property(tableArb, tableArb, tableArb, (x, y, z) => {
      const xyz = merged(x, y, z).checksum();
      expect(merged(z, y, x).checksum()).toBe(xyz);
      expect(merged(y, x, z).checksum()).toBe(xyz);
      // (x ⊔ y) ⊔ z = x ⊔ (y ⊔ z), merging the intermediate tables as wholes
      expect(merged(merged(x, y).entries(), z).checksum()).toBe(merged(x, merged(y, z).entries()).checksum());
      const once = merged(x, y);
      expect(once.merge(y)).toEqual([]);
      expect(once.merge(once.entries())).toEqual([]);
    }), { numRuns: 1000 });
  });

  it('reports exactly the entries it changed', () => {
    fc.assert(fc.property(tableArb, tableArb, (x, y) => {
      const t = tableOf(x);
      const before = new Map(t.entries().map((e) => [e.node.id, e]));
      const changes = t.merge(y);
      for (const c of changes) expect(c.before).toBe(before.get(c.id));
      for (const e of t.entries()) {
        const old = before.get(e.node.id);
        const changed = changes.some((c) => c.id === e.node.id);
        expect(changed).toBe(old === undefined || !sameEntry(old, e));
      }
    }));
  });

  it('two back-to-back meets never split the ring (whole-ring LWW did, 6/6)', () => {
    const a = new Membership();
    a.insert(node('a'), 1, 'a');
    const b = new Membership();
    b.insert(node('b'), 1, 'b');
    const c = new Membership();
    c.insert(node('c'), 1, 'c');
    // a meets b, then a meets c right away; the gossip reaches b and c in any order.
    a.insert(node('b'), 1, 'a');
    a.insert(node('c'), 1, 'a');
    b.merge(a.entries());
    c.merge(a.entries());
    a.merge(b.entries());
    a.merge(c.entries());
    b.merge(c.entries());
    c.merge(b.entries());
    for (const t of [a, b, c]) expect(t.ringMembers().map((m) => m.id)).toEqual(['a', 'b', 'c']);
    expect(new Set([a.checksum(), b.checksum(), c.checksum()]).size).toBe(1);
  });
});

describe('operator writes', () => {
  it('a later write wins over the one it saw; concurrent writes are ordered by version, then writer', () => {
    const t = new Membership();
    t.insert(node('x'), 1, 'a');
    t.update('x', 2, 'b');
    expect(t.get('x')).toMatchObject({ weight: 2, version: 2, writer: 'b' });
    const left = t.clone();
    const right = t.clone();
    left.update('x', 3, 'a');
    right.update('x', 4, 'c');
    left.merge(right.entries());
    right.merge(left.entries());
    expect(left.get('x')).toMatchObject({ weight: 4, version: 3, writer: 'c' });
    expect(right.checksum()).toBe(left.checksum());
    const ahead = t.clone();
    ahead.update('x', 5, 'a');
    ahead.update('x', 6, 'a');
    ahead.merge(right.entries());
    expect(ahead.get('x')).toMatchObject({ weight: 6, version: 4 });
  });

  it('an operator removal or a leave is not undone by the member refuting, only by a re-insert', () => {
    for (const out of ['remove', 'leave'] as const) {
      const t = new Membership();
      t.insert(node('x'), 1, 'a');
      if (out === 'remove') t.remove('x', 'a');
      else t.leave('x');
      const refuted = t.clone();
      refuted.refute('x');
      t.merge(refuted.entries());
      expect(memberStatus(t.get('x') as MemberEntry)).toBe(out === 'remove' ? 'removed' : 'left');
      expect(t.ringMembers()).toEqual([]);
      t.insert(node('x'), 1, 'b');
      expect(t.ringMembers().map((m) => m.id)).toEqual(['x']);
    }
  });

  it('update of a non-member is NOT_FOUND; bad weights are INVALID_ARGUMENT', () => {
    const t = new Membership();
    expect(() => t.update('x', 2, 'a')).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }) as Error);
    expect(() => t.insert(node('x'), 0, 'a')).toThrow(ClusterluckError);
    expect(() => t.insert(node('x'), 1.5, 'a')).toThrow(ClusterluckError);
    expect(t.insert(node('x'), 1, 'a')).toBeDefined();
    expect(t.insert(node('x'), 1, 'a')).toBeUndefined();
  });
});

describe('liveness (SWIM)', () => {
  it('suspect beats alive at one incarnation, down beats suspect, and a refutation beats them all', () => {
    const t = new Membership();
    t.insert(node('x'), 1, 'a');
    expect(t.setLiveness('x', 0, 'suspect')).toBeDefined();
    expect(t.setLiveness('x', 0, 'alive')).toBeUndefined();
    expect(t.setLiveness('x', 0, 'down')).toBeDefined();
    expect(t.setLiveness('x', 0, 'suspect')).toBeUndefined();
    const self = t.clone();
    self.refute('x');
    t.merge(self.entries());
    expect(t.get('x')).toMatchObject({ incarnation: 1, liveness: 'alive' });
  });

  it('a failure-removed member leaves the ring and comes back by refuting once it is heard again', () => {
    const t = new Membership();
    t.insert(node('x'), 1, 'a');
    t.insert(node('y'), 1, 'a');
    t.setLiveness('x', 0, 'removed');
    expect(t.ringMembers().map((m) => m.id)).toEqual(['y']);
    expect(memberStatus(t.get('x') as MemberEntry)).toBe('removed');
    const x = t.clone();
    x.refute('x');
    t.merge(x.entries());
    expect(t.ringMembers().map((m) => m.id)).toEqual(['x', 'y']);
  });

  it('an operator insert re-admits a failure-removed member at a higher incarnation', () => {
    const t = new Membership();
    t.insert(node('x'), 1, 'a');
    t.setLiveness('x', 2, 'removed');
    t.insert(node('x'), 1, 'b');
    expect(t.get('x')).toMatchObject({ incarnation: 3, liveness: 'alive', admin: 'in' });
  });

  it('the ring holds alive, suspect and down members, not left or removed ones', () => {
    const t = new Membership();
    for (const id of ['a', 'b', 'c', 'd', 'e', 'f']) t.insert(node(id), 1, 'a');
    t.setLiveness('b', 0, 'suspect');
    t.setLiveness('c', 0, 'down');
    t.setLiveness('d', 0, 'removed');
    t.leave('e');
    t.remove('f', 'a');
    expect(t.entries().filter(inRing).map((e) => e.node.id)).toEqual(['a', 'b', 'c']);
    expect(t.toRing({ vnodesPerWeight: 4 }).nodes().map((n) => n.id)).toEqual(['a', 'b', 'c']);
  });
});

describe('tombstones', () => {
  it('are forgotten after the TTL, counted from when this node first saw them', () => {
    const t = new Membership();
    t.insert(node('a'), 1, 'a');
    t.insert(node('b'), 1, 'a');
    t.remove('b', 'a');
    expect(t.prune(1000, { tombstoneTtlMs: 500 })).toEqual([]);
    expect(t.prune(1500, { tombstoneTtlMs: 500 })).toEqual([]);
    expect(t.prune(1501, { tombstoneTtlMs: 500 }).map((c) => c.id)).toEqual(['b']);
    expect(t.entries().map((e) => e.node.id)).toEqual(['a']);
  });

  it('are bounded in number, oldest first', () => {
    const t = new Membership();
    for (const id of ['a', 'b', 'c', 'd']) t.insert(node(id), 1, 'a');
    t.leave('b');
    t.prune(0);
    t.leave('c');
    t.leave('d');
    expect(t.prune(1, { tombstonesMax: 1 }).map((c) => c.id)).toEqual(['b', 'c']);
    expect(t.entries().map((e) => e.node.id)).toEqual(['a', 'd']);
  });

  it('a re-admitted member is no longer aged as a tombstone', () => {
    const t = new Membership();
    t.insert(node('b'), 1, 'a');
    t.remove('b', 'a');
    t.prune(0, { tombstoneTtlMs: 10 });
    t.insert(node('b'), 1, 'a');
    t.prune(5, { tombstoneTtlMs: 10 });
    t.remove('b', 'a');
    expect(t.prune(12, { tombstoneTtlMs: 10 })).toEqual([]);
  });
});

describe('parse', () => {
  it('round-trips toJSON', () => {
    fc.assert(fc.property(tableArb, (x) => {
      const t = tableOf(x);
      expect(Membership.parse(JSON.parse(JSON.stringify(t))).checksum()).toBe(t.checksum());
    }));
  });

  it('names every malformed field and never takes a duplicate or too many entries', () => {
    const good = { node: node('a'), weight: 1, admin: 'in', version: 1, writer: 'a', incarnation: 0, liveness: 'alive' };
    const bad: [string, Record<string, unknown>][] = [
      ['entry.node', { ...good, node: null }],
      ['entry.node.id', { ...good, node: { id: '', address: '' } }],
      ['entry.weight', { ...good, weight: 1.5 }],
      ['entry.weight', { ...good, weight: 65 }],
      ['entry.admin', { ...good, admin: 'constructor' }],
      ['entry.version', { ...good, version: -1 }],
      ['entry.writer', { ...good, writer: 7 }],
      ['entry.incarnation', { ...good, incarnation: Infinity }],
      ['entry.liveness', { ...good, liveness: '__proto__' }],
    ];
    for (const [field, value] of bad) {
      try {
        parseMemberEntry(value);
        expect.unreachable(`${field} accepted`);
      } catch (err) {
        expect(Object.keys((err as ClusterluckError).fails ?? {})).toEqual([field]);
      }
    }
    expect(() => Membership.parse({ members: [good, good] })).toThrow(ClusterluckError);
    expect(() => Membership.parse({ members: new Array(membersMax + 1).fill(good) })).toThrow(ClusterluckError);
    expect(() => Membership.parse(null)).toThrow(ClusterluckError);
  });
});
