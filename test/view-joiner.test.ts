// A joiner whose process dies after asking to join but before it hears the view that adds it
// (fuzz seeds 7039 and 7889): the view names its incarnation, so that incarnation must come back
// with the restarted process, or the view holds a voter nobody answers for (with two members, a
// view no majority can ever change again).
import { describe, expect, it } from 'vitest';
import { decodeViewState, viewStateKey } from '../lib/gossip/view-keeper.js';
import { World } from '../sim/world/world.js';

describe('a joiner that dies before it hears the view adding it', () => {
  it('comes back as the member that view names, and serves; the founder and it then decide views together', async () => {
    const world = new World({ seed: 'joiner-dies', nodes: 1 });
    await world.start();
    try {
      const n0 = world.node('n0');
      expect(n0).toBeDefined();
      // n1 asks n0 to add it; n0, alone, decides the view with n1 in it, and n1's process dies
      // that moment, before the answer reaches it.
      let n1 = '';
      let named: { id: string; incarnation: string } | undefined;
      n0?.gossip.events.addEventListener('view', (e) => {
        if (named !== undefined) return;
        named = e.detail.view.members.find((m) => m.id === n1);
        if (named !== undefined) world.crash(n1);
      });
      n1 = world.join();
      await world.run(2000);
      expect(named).toBeDefined();
      expect(world.node(n1)).toBeUndefined();
      const stored = world.hosts.get(n1)?.disk.peek(viewStateKey);
      expect(stored === undefined ? undefined : decodeViewState(stored).incarnation).toBe(named?.incarnation);
      await world.run(1000);
      void world.restart(n1);
      for (let s = 0; s < 30 && world.node(n1) === undefined; s++) await world.run(1000);
      expect(await world.settle(30_000)).toBe(true);
      const served = world.node(n1);
      expect(served?.gossip.inspect().incarnation).toBe(named?.incarnation);
      // The two-member view can still change: a third member is admitted (a majority of two is both).
      const n2 = world.join();
      for (let s = 0; s < 30 && world.node(n2) === undefined; s++) await world.run(1000);
      expect(await world.settle(30_000)).toBe(true);
      expect(world.node(n1)?.gossip.view()?.members.map((m) => m.id).sort()).toEqual(['n0', n1, n2].sort());
    } finally {
      world.stop();
    }
  }, 60_000);
});
