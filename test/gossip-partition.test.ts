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
  it('two halves that auto-removed each other merge into one ring after the network heals', async () => {
    const left = ['a', 'b', 'c', 'd'];
    const right = ['e', 'f', 'g', 'h'];
    const all = [...left, ...right];
    const w = await cluster('halves', all, { autoRemoveAfterMs: 5000, healIntervalMs: 5000 });
    w.network.partition(left, right);
    // Each half detects the other, then removes it from its ring.
    await w.runUntil(() => w.converged(left, left) && w.converged(right, right), 60_000);
    expect(w.get('a').ring.membership().get('e')?.liveness).toBe('removed');
    expect(w.ringOf('e')).toEqual(right);
    await w.clock.advance(30_000); // stays split while the partition lasts
    expect(w.converged(left, left) && w.converged(right, right)).toBe(true);
    w.network.heal();
    const took = await w.runUntil(() => w.converged(all), 60_000);
    console.log(`one ring again ${took} ms after the heal`);
    for (const id of all) expect(w.get(id).ring.membership().get(id)?.incarnation).toBeGreaterThan(0); // each refuted
    await w.clock.advance(20_000);
    expect(w.converged(all)).toBe(true);
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
});
