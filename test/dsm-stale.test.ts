// Stale requests: a request that waited at the owner longer than its caller waits for the answer
// (a full mailbox, a stalled process) is answered TIMEOUT and changes nothing.
import { describe, expect, it } from 'vitest';
import { tokenBase } from '../lib/core/semaphore.js';
import { StallWatch } from '../lib/dsm/stall-watch.js';
import { World } from '../sim/world/world.js';
import { dsmCluster } from './support/dsm-cluster.js';

describe('StallWatch', () => {
  it('bounds when a request read during or just after a stall may have arrived: at the stall\'s start', () => {
    const w = new StallWatch(100, 0);
    for (let t = 100; t <= 1000; t += 100) w.observe(t);
    expect(w.arrivedBy(1000, 1000)).toBe(1000); // no stall: it came when it was read
    // The process stood still from 1000 to 3000; what it reads first on waking may have come at 1000.
    expect(w.arrivedBy(3000, 3000)).toBe(1000);
    w.observe(3100);
    expect(w.arrivedBy(3050, 3200)).toBe(1000);
    // Two ticks after waking, what it reads came after the stall.
    for (let t = 3200; t <= 3500; t += 100) w.observe(t);
    expect(w.arrivedBy(3500, 3500)).toBe(3500);
    // A late tick (one tick late) is not a stall.
    w.observe(3690);
    expect(w.arrivedBy(3690, 3690)).toBe(3690);
  });
});

describe('a request that waited at the owner beyond its caller\'s timeout', () => {
  it('in the mailbox of a paused server: the caller gets TIMEOUT, and the destroy it sent is not executed when the server resumes', async () => {
    const cluster = await dsmCluster(3);
    try {
      const { owner, other } = cluster.roles('kept');
      await other.create('kept', 1);
      owner.pause();
      const destroy = (other.destroy('kept', undefined, 200) as Promise<void>).then(() => 'done', (e: { code: string }) => e.code);
      await cluster.world.clock.advance(300);
      expect(await destroy).toBe('TIMEOUT');
      owner.resume();
      await cluster.world.clock.advance(50);
      await expect(other.read('kept')).resolves.toEqual({ n: 1, active: 0 });
      // Without a timeout it waits for as long as it takes, and is executed.
      owner.pause();
      const patient = other.destroy('kept') as Promise<void>;
      await cluster.world.clock.advance(300);
      owner.resume();
      await cluster.world.clock.drive(patient);
      await expect(other.read('kept')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    } finally {
      await cluster.stop();
    }
  });

  it('behind a stall of the owner\'s whole process (SIGSTOP, a frozen tab): a post that timed out is not granted when it wakes', async () => {
    const world = new World({ seed: 'stale-process', nodes: 3 });
    await world.start();
    try {
      const n0 = world.node('n0');
      const ids = Array.from({ length: 100 }, (_, i) => `s${i}`);
      const id = ids.find((k) => n0?.gossip.find(k).id === 'n1') as string;
      await world.clock.drive(n0?.dsm.create(id, 1, undefined, 5000) as Promise<void>);
      world.pause('n1', 2000);
      const post = (n0?.dsm.post(id, 'late', 30_000, undefined, 500, 0) as Promise<number>).then(() => 'granted', (e: { code: string }) => e.code);
      await world.run(3000);
      expect(await post).toBe('TIMEOUT');
      // n1 read the post only when it woke, as if it had just come: the stall watch knows better.
      // (The caller's defensive close would hide a grant from read(); the token shows there was none.)
      await expect(world.clock.drive(n0?.dsm.read(id, undefined, 5000) as Promise<unknown>)).resolves.toEqual({ n: 1, active: 0 });
      const token = await world.clock.drive(n0?.dsm.post(id, 'next', 30_000, undefined, 5000, 0) as Promise<number>);
      expect(token).toBe(tokenBase(world.node('n1')?.gossip.view()?.number ?? NaN)); // the first grant of this view
    } finally {
      world.stop();
    }
  });

  it('reqTimeout bounds the whole request: re-routing after NOT_OWNER while a new owner waits out its lock-delay ends within it', async () => {
    const world = new World({ seed: 'req-timeout', nodes: 3 });
    await world.start();
    try {
      const n0 = world.node('n0');
      const id = Array.from({ length: 100 }, (_, i) => `s${i}`).find((k) => n0?.gossip.find(k).id === 'n1') as string;
      await world.clock.drive(n0?.dsm.create(id, 1, undefined, 5000) as Promise<void>);
      world.crash('n1');
      // Detection and auto-remove: the others decide a view without n1, and its keys' new owner waits.
      for (let t = 0; t < 60_000 && n0?.gossip.find(id).id === 'n1'; t += 1000) await world.run(1000);
      expect(n0?.gossip.find(id).id).not.toBe('n1');
      const started = world.clock.now();
      const code = await world.clock.drive((n0?.dsm.read(id, undefined, 6000) as Promise<unknown>).then(() => 'read', (e: { code: string }) => e.code));
      expect(['NOT_OWNER', 'TIMEOUT']).toContain(code);
      expect(world.clock.now() - started).toBeLessThanOrEqual(6000); // one attempt waits up to two ownership leases (4 s) before NOT_OWNER
    } finally {
      world.stop();
    }
  });
});
