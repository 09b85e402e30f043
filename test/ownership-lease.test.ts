// The lock-delay's bookkeeping (lib/core/ownership-lease.ts): which keys a member that adopts a view
// must hold back, and for how long.
import { describe, expect, it } from 'vitest';
import { OwnershipLease } from '../lib/core/ownership-lease.js';
import { viewRing, type View, type ViewMember } from '../lib/core/view.js';

const member = (id: string, incarnation = `${id}-1`): ViewMember => ({ id, address: id, weight: 1, incarnation });
const view = (number: number, members: ViewMember[], cluster = 'c'): View =>
  ({ cluster, number, members: [...members].sort((a, b) => a.id.localeCompare(b.id)), removed: [] });
const ringOf = (v: View) => () => viewRing(v);
/** leaseMsMax 60 s, ownership lease 2 s, ρ 1 %. */
const lease = (): OwnershipLease => new OwnershipLease('b', 2000, 0.01, 60_000);
const delayMs = (60_000 + 2000) * 1.01 ** 2;

/** Keys `b` owns in `v`. */
function keysOf(v: View, count = 20): string[] {
  const ring = viewRing(v);
  return Array.from({ length: 2000 }, (_, i) => `k${i}`).filter((k) => ring.find(k).id === 'b').slice(0, count);
}

describe('OwnershipLease lock-delay', () => {
  const before = view(7, [member('a'), member('b'), member('c')]);

  it('keys a member already owned in the view before need no delay when only a member joined', () => {
    const after = view(8, [...before.members, member('d')]);
    const l = lease();
    l.adopt(after, ringOf(after), 1000, before, ringOf);
    const mine = keysOf(after).filter((k) => viewRing(before).find(k).id === 'b');
    expect(mine.length).toBeGreaterThan(0);
    for (const k of mine) expect(l.heldUntilMs(k, 1000)).toBe(-Infinity);
  });

  it('a member restarted without its state (same id, a new incarnation replacing the old) holds back every key it owns: its earlier incarnation served them', () => {
    const after = view(8, [member('a'), member('b', 'b-2'), member('c')]);
    const l = lease();
    l.adopt(after, ringOf(after), 1000, before, ringOf);
    const mine = keysOf(after);
    expect(mine.length).toBeGreaterThan(0);
    for (const k of mine) expect(l.heldUntilMs(k, 1000)).toBeCloseTo(1000 + delayMs);
  });

  it('coming from a view of another cluster (its own lone one, founded before it joined) holds back every key it owns', () => {
    const lone = view(1, [member('b')], 'lone');
    const after = view(8, [...before.members]);
    const l = lease();
    l.adopt(after, ringOf(after), 1000, lone, ringOf);
    for (const k of keysOf(after)) expect(l.heldUntilMs(k, 1000)).toBeCloseTo(1000 + delayMs);
  });

  it('a key that moved from a member that left waits until that member hands off', () => {
    const after = view(8, [member('b'), member('c')]);
    const l = lease();
    l.adopt(after, ringOf(after), 1000, before, ringOf);
    const moved = keysOf(after).filter((k) => viewRing(before).find(k).id === 'a');
    expect(moved.length).toBeGreaterThan(0);
    for (const k of moved) expect(l.heldUntilMs(k, 1000)).toBeCloseTo(1000 + delayMs);
    l.release('a', 8, 0, 1500);
    for (const k of moved) expect(l.heldUntilMs(k, 1500)).toBeLessThanOrEqual(1500);
  });

  it('what it passes on counts a release sent on a later view only when its sender handed no key of ours to a third member (fuzz seed 3896)', () => {
    // b joins in view 8 and takes keys from a and c; view 9 adds d, which may take some of them on.
    const first = view(7, [member('a'), member('c')]);
    const joined = view(8, [member('a'), member('b'), member('c')]);
    const next = view(9, [...joined.members, member('d')]);
    const start = (): OwnershipLease => {
      const l = lease();
      l.adopt(joined, ringOf(joined), 1000, first, ringOf);
      l.adopt(next, ringOf(next), 1100, joined, ringOf);
      l.release('c', 8, 0, 1200);
      return l;
    };
    // a hands off only once on view 9, and handed the state of a key that had been b's on to d:
    // b serves what it owns (those states came with the release) but must not tell d it is done.
    const movedOn = start();
    movedOn.release('a', 9, 0, 1200, true);
    for (const k of keysOf(next)) expect(movedOn.heldUntilMs(k, 1300)).toBeLessThanOrEqual(1300);
    expect(movedOn.remainingDelayMs(1300)).toBeCloseTo(1000 + delayMs - 1300);
    // Nothing of b's went to a third member (a new cluster growing: a held nothing): done.
    const nothingMoved = start();
    nothingMoved.release('a', 9, 0, 1200, false);
    expect(nothingMoved.remainingDelayMs(1300)).toBe(0);
    // On the delay's own view a release covers every key it holds back, whatever went elsewhere.
    const onView = lease();
    onView.adopt(joined, ringOf(joined), 1000, first, ringOf);
    onView.release('a', 8, 0, 1200, true);
    onView.release('c', 8, 0, 1200, true);
    expect(onView.remainingDelayMs(1300)).toBe(0);
  });
});
