// etcd's strict reconfiguration check on view changes: an addition goes to a vote only while the
// members a proposer can reach (the newcomer not counted) are a majority of the view it makes.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { admissibleChanges, applyChanges, majority, type View, type ViewChange, type ViewMember } from '../lib/core/view.js';

const member = (id: string): ViewMember => ({ id, address: id, weight: 1, incarnation: `${id}-i` });
const view = (ids: readonly string[]): View => ({ cluster: 'c', number: 7, members: ids.map(member), removed: [] });
const add = (id: string): ViewChange => ({ kind: 'add', member: member(id) });

describe('admissibleChanges', () => {
  it('holds back additions once the reachable members would not be a majority, and keeps everything else', () => {
    const v = view(['a', 'b', 'c', 'd', 'e']);
    const down = new Set(['d', 'e']);
    const reach = (id: string): boolean => !down.has(id);
    // 3 reachable of 6 is not a majority (4): the page reload's new id waits.
    expect(admissibleChanges(v, [add('f')], reach)).toEqual([]);
    // Removing the dead first: 3 reachable of 4 is.
    const removeD: ViewChange = { kind: 'remove', id: 'd', reason: 'down' };
    const removeE: ViewChange = { kind: 'remove', id: 'e', reason: 'down' };
    expect(admissibleChanges(v, [removeD, removeE, add('f')], reach)).toEqual([removeD, removeE, add('f')]);
    // All reachable: additions go on.
    expect(admissibleChanges(v, [add('f'), add('g')], () => true)).toEqual([add('f'), add('g')]);
    // A founder alone may always grow.
    expect(admissibleChanges(view(['a']), [add('b')], () => false)).toEqual([add('b')]);
  });

  it('under any views, reachability and batches: never admits a view where the reachable old members are short of a majority, and drops no non-addition', () => {
    const ids = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
    fc.assert(fc.property(
      fc.subarray(ids, { minLength: 2 }), fc.subarray(ids), fc.array(fc.constantFrom(...ids), { maxLength: 6 }), fc.array(fc.constantFrom(...ids), { maxLength: 3 }),
      (members, unreachable, adds, removes) => {
        const v = view(members);
        const reach = (id: string): boolean => !unreachable.includes(id);
        const changes: ViewChange[] = [...removes.map((id): ViewChange => ({ kind: 'remove', id, reason: 'down' })), ...adds.map((id) => add(`${id}2`))];
        const out = admissibleChanges(v, changes, reach);
        expect(out.filter((c) => c.kind !== 'add')).toEqual(changes.filter((c) => c.kind !== 'add'));
        const next = applyChanges(v, out);
        const added = out.filter((c) => c.kind === 'add');
        if (next === undefined || added.length === 0) return;
        const newcomers = new Set(added.map((c) => (c.kind === 'add' ? c.member.id : '')));
        const live = next.members.filter((m) => !newcomers.has(m.id) && reach(m.id)).length;
        // Each addition was checked with the ones before it; all of them together still leave the old reachable members at least majority − (additions − 1).
        expect(live).toBeGreaterThanOrEqual(majority(next) - (added.length - 1));
      },
    ), { numRuns: 2000 });
  });
});
