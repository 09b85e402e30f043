// Small clusters, where users start (two tabs): what a view of two can and cannot do.
import { afterEach, describe, expect, it } from 'vitest';
import { GossipWorld, testSeed } from './support/gossip-world.js';

const seed = testSeed('views-small');
let world: GossipWorld | undefined;
afterEach(async () => {
  await world?.stop();
  world = undefined;
});

async function pair(label: string): Promise<GossipWorld> {
  const w = (world = new GossipWorld(`${seed}/${label}`));
  const [a] = await w.addAll(['a', 'b']);
  a?.ring.meet(w.get('b').kernel.self);
  await w.runUntil(() => ['a', 'b'].every((id) => w.get(id).ring.view()?.members.length === 2 && w.get(id).ring.isServing()), 20_000);
  return w;
}

describe('a view of two members', () => {
  it('a graceful leave works: the leaver\'s own vote makes the majority of two', async () => {
    const w = await pair('leave');
    const before = w.get('a').ring.view()?.number ?? 0;
    await w.clock.drive(w.get('b').ring.leave());
    expect(w.get('a').ring.view()).toMatchObject({ number: before + 1, members: [expect.objectContaining({ id: 'a' })] });
    await w.runUntil(() => w.get('a').ring.isServing(), 5000); // alone, it needs no confirmation
  });

  it('a crash of one leaves the survivor serving what it owns but unable to change the view; remove --force is the way out', async () => {
    const w = await pair('crash');
    const a = w.get('a').ring;
    const before = a.view()?.number ?? 0;
    const mine = Array.from({ length: 200 }, (_, i) => `k${i}`).find((k) => a.find(k).id === 'a') as string;
    const theirs = Array.from({ length: 200 }, (_, i) => `k${i}`).find((k) => a.find(k).id === 'b') as string;
    await w.kill('b');
    await w.clock.advance(60_000); // far past detection and auto-remove (10 s)
    expect(a.membership().get('b')?.liveness).toBe('down');
    expect(a.view()?.number).toBe(before); // 1 of 2 is no majority: the removal stays a proposal
    expect(a.inspect().pendingChanges).toEqual([expect.objectContaining({ kind: 'remove', id: 'b', reason: 'down' })]);
    expect(a.isServing()).toBe(true); // the other cannot remove it alone either
    expect(a.ownership(mine)).toEqual({ state: 'owner' });
    expect(a.ownership(theirs)).toEqual({ state: 'not-owner', owner: 'b' }); // waits for b
    const forced = a.forceRemove(['b']);
    expect(forced.number).toBe(before + 1);
    expect(forced.members.map((m) => m.id)).toEqual(['a']);
    // b's semaphores come to a without a handoff: a waits out the lock-delay before serving them.
    expect(a.ownership(theirs)).toMatchObject({ state: 'waiting', reason: 'delay' });
    await w.clock.advance(a.lockDelayMs() + 1);
    expect(a.ownership(theirs)).toEqual({ state: 'owner' });
  });
});
