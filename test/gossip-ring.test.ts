import { afterEach, describe, expect, it } from 'vitest';
import { randomInt, sample } from '../lib/env/random.js';
import { silentLogger } from '../lib/env/logger.js';
import { detectionBoundMs } from '../lib/gossip/failure-detector.js';
import { GossipRing } from '../lib/gossip/gossip-ring.js';
import { NetKernel } from '../lib/kernel/net-kernel.js';
import { GossipWorld, testSeed } from './support/gossip-world.js';

const seed = testSeed('gossip-ring');
let world: GossipWorld | undefined;
afterEach(async () => {
  await world?.stop();
  world = undefined;
});

const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `n${String(i).padStart(2, '0')}`);

/** Starts `n` nodes and introduces them by random meets (some back to back), random inserts and removes. */
async function churn(n: number, label: string): Promise<{ w: GossipWorld; expected: string[] }> {
  const w = (world = new GossipWorld(`${seed}/${label}`));
  const all = ids(n);
  await w.addAll(all);
  const rnd = w.random.fork('script');
  const removed = new Set<string>();
  // Introducers are members of n00's view (a node that has not joined yet would found a cluster of its own with whoever it meets).
  const introducer = (): string => {
    const members = w.get('n00').ring.view()?.members.map((m) => m.id) ?? ['n00'];
    return members[randomInt(rnd, members.length)] as string;
  };
  for (let i = 1; i < n; i++) {
    const by = w.get(introducer()).ring;
    const target = w.get(all[i] as string).kernel.self;
    if (rnd.next() < 0.7) by.meet(target);
    else by.insert(target);
    // Sometimes a second meet right away, from another node: Clusterluck split for good here.
    if (rnd.next() < 0.3) w.get(introducer()).ring.meet(target);
    if (rnd.next() < 0.5) await w.clock.advance(randomInt(rnd, 1500));
  }
  // Removals once everyone is known: a removal that races ahead of the only introduction of a
  // node can legitimately leave two groups that never heard of each other.
  await w.runUntil(() => w.converged(all), 60_000, 250);
  const doomed = sample(rnd, all.slice(1), Math.max(1, Math.floor(n / 10)));
  for (const id of doomed) {
    // An operator removes a member through another member that stays (a member that is itself
    // removed meanwhile can no longer propose, and the change it was asked for lapses).
    const knowers = all.filter((k) => !doomed.includes(k) && w.get(k).ring.membership().get(id)?.admin === 'in');
    w.get(knowers[randomInt(rnd, knowers.length)] as string).ring.remove(id);
    removed.add(id);
  }
  return { w, expected: all.filter((id) => !removed.has(id)) };
}

describe('GossipRing convergence', () => {
  for (const [n, limitMs] of [[3, 30_000], [10, 60_000], [50, 120_000]] as const) {
    it(`${n} nodes converge to one table and one ring after random meets and inserts, then removes`, async () => {
      const { w, expected } = await churn(n, `converge-${n}`);
      const took = await w.runUntil(() => w.converged(expected), limitMs, 250);
      const sums = new Set([...w.nodes.values()].map((x) => x.ring.inspect().ringChecksum));
      expect(sums.size).toBe(1);
      expect(w.ringOf('n00')).toEqual(expected);
      console.log(`${n} nodes converged ${took} ms after the removals`);
      // Once converged, it stays converged.
      await w.clock.advance(5000);
      expect(w.converged(expected)).toBe(true);
    }, n >= 50 ? 60_000 : 30_000); // 50 members: every view change is a Paxos round of 50, and each member keeps 24 ownership confirmations fresh
  }
});

describe('GossipRing join and leave', () => {
  it('a node that leaves is marked left everywhere, emits leave, and comes back only by joining again', async () => {
    const w = (world = new GossipWorld(`${seed}/leave`));
    const all = ['a', 'b', 'c', 'd'];
    const [a, , , d] = await w.addAll(all);
    for (const id of all.slice(1)) a?.ring.meet(w.get(id).kernel.self);
    await w.runUntil(() => w.converged(all), 20_000);
    const seen: string[] = [];
    a?.ring.events.addEventListener('left', (e) => seen.push(e.detail.id));
    let left = 0;
    d?.ring.events.addEventListener('leave', () => left++);
    await w.clock.drive(w.get('d').ring.leave());
    expect(left).toBe(1);
    expect(d?.ring.ringId).toBeUndefined();
    await w.runUntil(() => w.converged(['a', 'b', 'c'], ['a', 'b', 'c']), 20_000);
    expect(seen).toEqual(['d']);
    // d is still running but stays out: its leave is an operator-level change, not a rumour.
    await w.clock.advance(30_000);
    expect(w.converged(['a', 'b', 'c'], ['a', 'b', 'c'])).toBe(true);
    expect(w.get('a').ring.membership().get('d')?.admin).toBe('left');
    d?.ring.join('test').meet(w.get('b').kernel.self);
    await w.runUntil(() => w.converged(all), 20_000);
  });

  it('a node that left and came back as a new process (no memory of its leave) joins again over its old leave', async () => {
    const w = (world = new GossipWorld(`${seed}/leave-restart`));
    const all = ['a', 'b', 'c', 'd'];
    const [a] = await w.addAll(all);
    for (const id of all.slice(1)) a?.ring.meet(w.get(id).kernel.self);
    await w.runUntil(() => w.converged(all), 20_000);
    await w.clock.drive(w.get('d').ring.leave());
    await w.runUntil(() => w.converged(['a', 'b', 'c'], ['a', 'b', 'c']), 20_000);
    await w.kill('d');
    const d = await w.add('d');
    d.ring.join('test').meet(w.get('a').kernel.self);
    await w.runUntil(() => w.converged(all), 20_000);
    expect(w.get('b').ring.membership().get('d')?.admin).toBe('in');
  });

  it('an operator removal sticks while the removed node keeps running and refuting', async () => {
    const w = (world = new GossipWorld(`${seed}/remove`));
    const all = ['a', 'b', 'c'];
    const [a] = await w.addAll(all);
    a?.ring.minsert([w.get('b').kernel.self, w.get('c').kernel.self]);
    await w.runUntil(() => w.converged(all), 20_000);
    w.get('b').ring.remove('c');
    await w.runUntil(() => w.converged(['a', 'b']), 20_000);
    await w.clock.advance(60_000);
    expect(w.converged(['a', 'b'])).toBe(true);
    expect(w.get('c').ring.membership().get('c')?.admin).toBe('removed');
    w.get('a').ring.insert(w.get('c').kernel.self, 2);
    await w.runUntil(() => w.converged(all), 20_000);
    expect(w.get('b').ring.ring().weight('c')).toBe(2);
  });

  it('join needs a started ring and refuses a second ring id; operations need a joined ring', async () => {
    const w = (world = new GossipWorld(`${seed}/join`));
    const a = await w.add('a');
    expect(() => a.ring.insert({ id: 'x', address: 'x' })).toThrow(expect.objectContaining({ code: 'NOT_RUNNING' }) as Error);
    a.ring.join('one');
    expect(() => a.ring.join('two')).toThrow(expect.objectContaining({ code: 'ALREADY_EXISTS' }) as Error);
    expect(a.ring.join('one').ring().nodes().map((n) => n.id)).toEqual(['a']);
    const loose = new GossipRing(a.kernel);
    expect(() => loose.join('one')).toThrow(expect.objectContaining({ code: 'NOT_RUNNING' }) as Error);
  });

  it('meet brings a started node that is in no ring into ours', async () => {
    const w = (world = new GossipWorld(`${seed}/meet`));
    const [a] = await w.addAll(['a']);
    const b = await w.add('b');
    a?.ring.meet(b.kernel.self);
    await w.runUntil(() => w.converged(['a', 'b']), 10_000);
    expect(b.ring.ringId).toBe('test');
  });
});

describe('GossipRing failure detection', () => {
  for (const autoRemoveAfterMs of [undefined, 10_000]) {
    it(`a stopped node is marked down on every node within the documented bound${autoRemoveAfterMs === undefined ? ' (auto-remove off)' : ', then a decided view without it reaches every node'}`, async () => {
      const w = (world = new GossipWorld(`${seed}/down-${String(autoRemoveAfterMs)}`, { autoRemoveAfterMs: autoRemoveAfterMs ?? null }));
      const all = ids(8);
      const [first] = await w.addAll(all);
      first?.ring.minsert(all.slice(1).map((id) => w.get(id).kernel.self));
      await w.runUntil(() => w.converged(all), 30_000);
      const downs = new Map<string, number>();
      for (const id of all) w.get(id).ring.events.addEventListener('down', (e) => {
        if (e.detail.id === 'n03') downs.set(id, w.clock.now());
      });
      const versions: number[] = [];
      w.get('n00').ring.events.addEventListener('change', (e) => versions.push(e.detail.version));
      const crashedAt = w.clock.now();
      await w.kill('n03');
      const bound = detectionBoundMs(all.length, 4, 1000);
      const living = all.filter((id) => id !== 'n03');
      await w.runUntil(() => downs.size === living.length, bound);
      const worst = Math.max(...downs.values()) - crashedAt;
      console.log(`down on all 7 nodes after ${worst} ms (bound ${bound} ms)`);
      expect(worst).toBeLessThanOrEqual(bound);
      // The ring's own counters are the detector's: probes went out, and some to n03 failed (from
      // whichever nodes probed it; n00 may have learned of its death by gossip alone).
      const stats = w.get('n00').ring.stats;
      expect(stats.probes).toBeGreaterThan(0);
      expect(living.reduce((sum, id) => sum + w.get(id).ring.stats.probesFailed, 0)).toBeGreaterThan(0);
      expect(w.get('n00').ring.inspect().stats.probes).toBe(stats.probes);
      if (autoRemoveAfterMs === undefined) {
        await w.clock.advance(60_000);
        expect(w.ringOf('n00')).toEqual(all); // an operator decides
        expect(w.get('n00').ring.membership().get('n03')?.liveness).toBe('down');
        expect(versions).toEqual([]); // suspect and down members stay on the ring: no ring change
      } else {
        await w.runUntil(() => w.converged(living, living), autoRemoveAfterMs + 5000);
        expect(w.clock.now() - crashedAt).toBeLessThanOrEqual(bound + autoRemoveAfterMs);
        expect(versions).toHaveLength(1);
        expect(w.ringOf('n00')).not.toContain('n03');
      }
    });
  }

  it('a live node refutes a rumour of its death and stays on the ring', async () => {
    const w = (world = new GossipWorld(`${seed}/refute`));
    const all = ['a', 'b', 'c'];
    const [a] = await w.addAll(all);
    a?.ring.minsert([w.get('b').kernel.self, w.get('c').kernel.self]);
    await w.runUntil(() => w.converged(all), 20_000);
    // Spread a false rumour by gossip: a table saying c is down.
    const rumour = w.get('a').ring.membership();
    rumour.setLiveness('c', 0, 'down');
    w.get('a').kernel.cast({ node: 'b', name: 'ring' }, 'gossip',
      { ring: 'test', sum: rumour.checksum(), reply: false, members: rumour.entries().map((e) => [e.node.id, e.node.address, e.weight, e.admin, e.version, e.writer, e.incarnation, e.liveness]) });
    await w.runUntil(() => w.get('c').ring.membership().get('c')?.incarnation === 1, 10_000);
    await w.runUntil(() => w.converged(all), 10_000);
    expect(w.get('b').ring.membership().get('c')).toMatchObject({ liveness: 'alive', incarnation: 1 });
  });
});

describe('GossipRing isolation', () => {
  it('messages from another ring id or with a wrong cookie change nothing', async () => {
    const w = (world = new GossipWorld(`${seed}/foreign`));
    const all = ['a', 'b'];
    const [a] = await w.addAll(all);
    a?.ring.meet(w.get('b').kernel.self);
    await w.runUntil(() => w.converged(all), 10_000);
    const before = a?.ring.inspect().tableChecksum;
    const [x] = await w.addAll(['x'], 'other');
    x?.ring.meet(w.get('a').kernel.self);
    x?.ring.insert(w.get('b').kernel.self);
    const evilKernel = new NetKernel({ id: 'evil', address: 'evil', cookie: 'wrong', env: { clock: w.clock, random: w.random.fork('evil'), logger: silentLogger, transport: w.network.transport() } });
    await evilKernel.start();
    const evil = new GossipRing(evilKernel, { ringId: 'test' }).start();
    evil.meet(w.get('a').kernel.self);
    await w.clock.advance(20_000);
    expect(a?.ring.inspect().tableChecksum).toBe(before);
    expect(w.converged(all, all)).toBe(true);
    expect(a?.ring.inspect().stats.foreign).toBeGreaterThan(0);
    expect(x?.ring.ring().nodes().map((n) => n.id)).toEqual(['x']); // invitations of another ring id are ignored: x stays alone
    await w.clock.drive(evil.stop().then(() => evilKernel.stop()));
  });

  it('malformed gossip bodies change nothing, never throw, and calls get BAD_MESSAGE', async () => {
    const w = (world = new GossipWorld(`${seed}/malformed`));
    const [a, b] = await w.addAll(['a', 'b']);
    a?.ring.meet(w.get('b').kernel.self);
    await w.runUntil(() => w.converged(['a', 'b']), 10_000);
    const before = b?.ring.inspect().tableChecksum;
    const entry = ['z', 'z', 1, 'in', 1, 'z', 0, 'alive'];
    const bodies: unknown[] = [
      null, 7, 'x', [], { ring: 'test' }, { ring: 'test', sum: 'nothex', reply: true },
      { ring: 5, sum: '0123456789abcdef', reply: true },
      { ring: 'test', sum: '0123456789abcdef', reply: 'yes' },
      { ring: 'test', sum: '0123456789abcdef', reply: true, members: {} },
      { ring: 'test', sum: '0123456789abcdef', reply: true, members: [entry, entry] },
      { ring: 'test', sum: '0123456789abcdef', reply: true, members: [[...entry.slice(0, 7), 'zombie']] },
      { ring: 'test', sum: '0123456789abcdef', reply: true, members: [['z', 'z', 0.5, 'in', 1, 'z', 0, 'alive']] },
      { ring: 'test', sum: '0123456789abcdef', reply: true, members: [['__proto__', 'z', 1, 'constructor', 1, 'z', 0, 'alive']] },
      { ring: 'test', sum: '0123456789abcdef', reply: true, members: [entry.slice(0, 7)] },
      { ring: 'test', target: { id: '' } },
    ];
    for (const body of bodies) {
      for (const event of ['gossip', 'sync', 'ping', 'ping-req', 'constructor']) {
        a?.kernel.cast({ node: 'b', name: 'ring' }, event, body);
        const err = await w.clock.drive(w.get('a').kernel.call({ node: 'b', name: 'ring' }, event, body, { timeoutMs: 1000 }).then(() => undefined, (e: unknown) => e));
        if (event !== 'ping' || (body as { ring?: unknown } | null)?.ring !== 'test') {
          expect(err).toMatchObject({ code: expect.stringMatching(/BAD_MESSAGE|NOT_FOUND|INVALID_ARGUMENT/) as string });
        }
      }
    }
    await w.clock.advance(3000);
    expect(b?.ring.inspect().tableChecksum).toBe(before);
    expect(w.converged(['a', 'b'])).toBe(true);
  });
});
