import { afterEach, describe, expect, it } from 'vitest';
import { GossipWorld, testSeed } from './support/gossip-world.js';

const seed = testSeed('gossip-partition');
let world: GossipWorld | undefined;
afterEach(async () => {
  await world?.stop();
  world = undefined;
});

async function cluster(label: string, all: string[], options = {}): Promise<GossipWorld> {
  const w = (world = new GossipWorld(`${seed}/${label}`, options));
  const [first] = await w.addAll(all);
  first?.ring.minsert(all.slice(1).map((id) => w.get(id).kernel.self));
  await w.runUntil(() => w.converged(all), 30_000);
  return w;
}

describe('GossipRing partitions', () => {
  it('two equal halves cannot remove each other: no side has a majority, so the view stays and each owner keeps serving in it', async () => {
    const left = ['a', 'b', 'c', 'd'];
    const right = ['e', 'f', 'g', 'h'];
    const all = [...left, ...right];
    const w = await cluster('halves', all, { autoRemoveAfterMs: 5000, healIntervalMs: 5000 });
    const number = w.get('a').ring.view()?.number;
    await w.runUntil(() => all.every((id) => w.get(id).ring.isServing()), 10_000);
    w.network.partition(left, right);
    await w.clock.advance(60_000);
    // Each half holds the other down and proposes to remove it, but 4 of 8 is no majority.
    expect(w.get('a').ring.membership().get('e')?.liveness).toBe('down');
    for (const id of all) expect(w.get(id).ring.view()?.number).toBe(number);
    // 8 members: the 4 a node cannot hear could not form a majority (5) without it, so with its 3
    // neighbours' confirmations it keeps serving; no view can change, so no key has two owners.
    for (const id of all) expect(w.get(id).ring.isServing()).toBe(true);
    w.network.heal();
    await w.runUntil(() => all.every((id) => w.get(id).ring.isServing()), 30_000);
    expect(new Set(all.map((id) => w.get(id).ring.view()?.number))).toEqual(new Set([number]));
  });

  it('a 5/3 split: the majority removes the three by a decided view, the minority cannot change it, and the three rejoin after the heal', async () => {
    const major = ['a', 'b', 'c', 'd', 'e'];
    const minor = ['f', 'g', 'h'];
    const all = [...major, ...minor];
    const w = await cluster('five-three', all, { autoRemoveAfterMs: 5000, healIntervalMs: 5000 });
    const start = w.get('a').ring.view()?.number ?? 0;
    const minorViews = new Set<number>();
    for (const id of minor) w.get(id).ring.events.addEventListener('view', (e) => minorViews.add(e.detail.view.number));
    w.network.partition(major, minor);
    await w.runUntil(() => major.every((id) => w.ringOf(id).join() === major.join()), 60_000);
    expect(minorViews).toEqual(new Set()); // the minority installed nothing
    for (const id of minor) {
      expect(w.get(id).ring.view()?.number).toBe(start);
      expect(w.get(id).ring.isServing()).toBe(false); // 4 confirmations needed of 7 others, 2 reachable
    }
    await w.clock.advance(30_000);
    expect(minorViews).toEqual(new Set());
    w.network.heal();
    const took = await w.runUntil(() => all.every((id) => w.ringOf(id).join() === all.join() && w.get(id).ring.isServing()), 60_000);
    console.log(`one view again ${took} ms after the heal`);
    const numbers = new Set(all.map((id) => w.get(id).ring.view()?.number));
    expect(numbers.size).toBe(1);
  });

  it('a slow-but-alive node (acks just inside the probe timeout) is never suspected', async () => {
    const all = ['a', 'b', 'c', 'd', 'slow'];
    const w = await cluster('slow', all);
    const suspected: string[] = [];
    for (const id of all) w.get(id).ring.events.addEventListener('suspect', (e) => suspected.push(`${id}:${e.detail.id}`));
    await w.clock.advance(10_000); // every pair has probed once, so the links exist: no dial on the slow path
    const pingReqs = (): number => all.reduce((sum, id) => sum + w.get(id).ring.stats.pingReqsSent, 0);
    const before = pingReqs();
    w.slow('slow', 225); // a round trip of 450 ms against a 500 ms probe timeout
    await w.clock.advance(60_000);
    expect(suspected).toEqual([]);
    expect(pingReqs()).toBe(before); // every direct probe was acked in time: none needed help
    expect(w.converged(all)).toBe(true);
  });

  it('the control: a node acking just past the probe timeout is suspected, yet refutes and stays', async () => {
    const all = ['a', 'b', 'c', 'd', 'slow'];
    const w = await cluster('too-slow', all);
    const suspected = new Set<string>();
    const downed: string[] = [];
    for (const id of all) {
      w.get(id).ring.events.addEventListener('suspect', (e) => suspected.add(`${id}:${e.detail.id}`));
      w.get(id).ring.events.addEventListener('down', (e) => downed.push(`${id}:${e.detail.id}`));
    }
    w.slow('slow', 275); // 550 ms round trip
    await w.clock.advance(30_000);
    expect(downed).toEqual([]); // every suspicion was refuted within the suspicion timeout
    // The others suspect it (and, without Lifeguard's local health, it suspects them too).
    expect(['a', 'b', 'c', 'd'].some((id) => suspected.has(`${id}:slow`))).toBe(true);
    expect(w.ringOf('a')).toEqual(all);
    expect(w.get('slow').ring.membership().get('slow')?.incarnation).toBeGreaterThan(0);
  });

  it('a member an operator removed and re-inserted comes back after the heal although the inserting member left meanwhile (fuzz seed 450)', async () => {
    const all = ['a', 'b', 'c', 'd', 'e'];
    const w = await cluster('reinsert', all, { autoRemoveAfterMs: 5000 });
    w.get('a').ring.remove('e');
    await w.runUntil(() => w.converged(['a', 'b', 'c', 'd'], ['a', 'b', 'c', 'd']), 10_000);
    // a invites e back while a cannot reach a majority (b, c, d are cut off), then leaves.
    w.network.partition(['a', 'e'], ['b', 'c', 'd']);
    w.get('a').ring.insert(w.get('e').kernel.self);
    await w.clock.advance(2000);
    await w.clock.drive(w.get('a').ring.leave());
    w.network.heal();
    const views = (): string[][] => ['b', 'c', 'd', 'e'].map((id) => w.get(id).ring.view()?.members.map((m) => m.id) ?? []);
    await w.runUntil(() => views().every((v) => v.join() === 'b,c,d,e'), 60_000);
    expect(views()).toEqual(Array(4).fill(['b', 'c', 'd', 'e']));
  });

  it('a member removed for being down while it could not hear the views rejoins after the heal, even when it learns the removal only from a later view (fuzz seed 357)', async () => {
    const all = ['a', 'b', 'c', 'd', 'e'];
    const w = await cluster('missed-removal', all, { autoRemoveAfterMs: 5000 });
    w.get('a').ring.remove('e');
    await w.runUntil(() => w.converged(['a', 'b', 'c', 'd'], ['a', 'b', 'c', 'd']), 10_000);
    // e is re-inserted while cut off: it never hears of the view that has it, nor of the one that
    // removes it again for being down; then another change happens before the heal.
    w.network.partition(['a', 'b', 'c', 'd'], ['e']);
    w.get('a').ring.insert(w.get('e').kernel.self);
    await w.runUntil(() => w.get('a').ring.view()?.members.some((m) => m.id === 'e') === true, 10_000);
    await w.runUntil(() => w.get('a').ring.view()?.members.every((m) => m.id !== 'e') === true, 60_000);
    w.get('a').ring.update('b', 2);
    await w.clock.advance(5000);
    w.network.heal();
    await w.runUntil(() => w.converged(all), 60_000);
    expect(w.get('e').ring.view()?.members.map((m) => m.id)).toEqual(all);
  });

  it('a member asking back into its cluster is refused by a process of another cluster at a member\'s old address (a wiped restart that founded its own), which would otherwise start a second cluster (fuzz seed 89)', async () => {
    const w = await cluster('wiped-address', ['a', 'b', 'c']);
    const c = w.get('a').ring.view()?.cluster;
    await w.kill('c');
    const fresh = await w.add('c');
    fresh.ring.join('test');
    await w.clock.advance(100);
    const lone = fresh.ring.view();
    expect(lone?.cluster).not.toBe(c);
    const member = { id: 'e', address: 'e', weight: 1, incarnation: 'e-1' };
    const ask = (cluster?: string): Promise<unknown> => w.clock.drive(w.get('a').kernel.call({ node: fresh.kernel.self, name: 'ring' }, 'join',
      { ring: 'test', member, ...(cluster === undefined ? {} : { cluster }) }, { timeoutMs: 5000 }).then(() => 'taken', (e: { code: string }) => e.code));
    expect(await ask(c)).toBe('NOT_A_MEMBER');
    expect(fresh.ring.view()?.members.map((m) => m.id)).toEqual(['c']);
    // A process joining for the first time (no cluster of its own yet) is still welcome.
    expect(await ask()).toBe('taken');
  });
});

