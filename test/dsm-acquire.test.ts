// dsm.acquire on a three-node cluster over the memory transport, on a virtual clock: waiters queue
// at the owner and get their grant pushed in arrival order, permits are atomic and not overtaken,
// aborted and timed-out waits leave nothing behind, a lease is released only through its object,
// refresh keeps it, and its signal says when it is lost.
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { DSMServer } from '../lib/dsm/dsm-server.js';
import type { Lease } from '../lib/dsm/lease.js';
import { ClusterluckError } from '../lib/env/errors.js';
import { Link } from '../lib/kernel/link.js';
import { dsmCluster, type DsmCluster } from './support/dsm-cluster.js';

let cluster: DsmCluster;
afterEach(async () => {
  await cluster.stop();
});

/** Advances virtual time in steps until `promise` settles. */
async function drive<T>(promise: Promise<T>, stepMs = 5, maxMs = 120_000): Promise<T> {
  let done = false;
  const watched = promise.finally(() => {
    done = true;
  });
  watched.catch(() => undefined);
  for (let t = 0; !done && t < maxMs; t += stepMs) await cluster.world.clock.advance(stepMs);
  return watched;
}

const run = (ms: number): Promise<void> => cluster.world.clock.advance(ms);
const errorOf = (p: Promise<unknown>): Promise<ClusterluckError> => p.then(() => { throw new Error('expected a rejection'); }, (e: unknown) => e as ClusterluckError);

/** The three servers: the owner of `id` last, so callers on other nodes come first. */
async function setup(id: string, n: number): Promise<{ owner: DSMServer; servers: DSMServer[] }> {
  cluster = await dsmCluster(3);
  const { owner } = cluster.roles(id);
  await drive(owner.create(id, n) as Promise<void>);
  return { owner, servers: [...cluster.servers.filter((s) => s !== owner), owner] };
}

describe('dsm.acquire', () => {
  it('queues waiters at the owner and pushes each grant, in arrival order, when the slot frees', async () => {
    const { owner, servers } = await setup('q', 1);
    const first = (await drive(owner.acquire('q', { leaseMs: 5000 }))) as Lease;
    const order: string[] = [];
    const waits = servers.map((s, i) => {
      const p = s.acquire('q', { leaseMs: 5000, holder: `w${i}` }).then((l) => {
        order.push(`w${i}`);
        return l as Lease;
      });
      return p;
    });
    // Arrive one after another (the third from the owner itself).
    await run(20);
    const q = await drive(owner.query('q'));
    expect(q.holders.map((h) => h.holder)).toEqual(['n' + owner.kernel.self.id.slice(1)]);
    expect(q.waiters.map((w) => [w.holder, w.position])).toEqual([['w0', 0], ['w1', 1], ['w2', 2]]);
    const acquiresBefore = owner.answered.get('acquire')?.get('OK') ?? 0;
    // Each release hands the slot to the head at once: the next holder has it within a round trip.
    let holder = first;
    for (let i = 0; i < 3; i++) {
      await drive(holder.release());
      await run(5);
      expect(order).toEqual(['w0', 'w1', 'w2'].slice(0, i + 1));
      holder = await (waits[i] as Promise<Lease>);
      expect(holder.held).toBe(true);
    }
    // Three answers, one per waiter: nobody polled.
    expect((owner.answered.get('acquire')?.get('OK') ?? 0) - acquiresBefore).toBe(3);
    const tokens = await Promise.all(waits.map(async (w) => (await w).token));
    expect(tokens).toEqual([...tokens].sort((a, b) => a - b));
    expect(new Set([first.token, ...tokens]).size).toBe(4);
    await drive(holder.release());
  });

  it('sends a waiter\'s grant at once (flushNow on the link to its node); other answers leave with their turn', async () => {
    const { owner, servers } = await setup('g', 1);
    const first = (await drive(owner.acquire('g', { leaseMs: 5000 }))) as Lease;
    const waiter = servers[0] as DSMServer;
    const flushes = vi.spyOn(Link.prototype, 'flushNow');
    try {
      await drive(waiter.read('g'));
      const wait = waiter.acquire('g', { leaseMs: 5000 });
      await run(20);
      expect(flushes).not.toHaveBeenCalled();
      await drive(first.release());
      expect(await drive(wait)).not.toBeNull();
      expect(flushes.mock.contexts.map((l) => (l as Link).peer?.id)).toEqual([waiter.kernel.self.id]);
    } finally {
      vi.restoreAllMocks();
    }
  });

  it('takes k permits at once, and a k-permit head is overtaken neither by a later acquire nor by a post', async () => {
    const { owner, servers } = await setup('k', 3);
    const a = (await drive(owner.acquire('k', { leaseMs: 5000, permits: 2 }))) as Lease;
    expect((await drive(owner.read('k') as Promise<{ active: number }>)).active).toBe(2);
    let big: Lease | undefined;
    const bigP = (servers[0] as DSMServer).acquire('k', { leaseMs: 5000, permits: 2 }).then((l) => (big = l as Lease));
    await run(20);
    let small: Lease | undefined;
    const smallP = (servers[1] as DSMServer).acquire('k', { leaseMs: 5000 }).then((l) => (small = l as Lease));
    await run(20);
    // One slot is free, but the 2-permit head waits for two: nobody takes the one.
    expect(big).toBeUndefined();
    expect(small).toBeUndefined();
    expect((await errorOf(drive(owner.post('k', 'poster', 1000, undefined, undefined, 0) as Promise<number>))).code).toBe('SEMAPHORE_FULL');
    await drive(a.release());
    await drive(bigP);
    expect(big?.permits).toBe(2);
    await drive(smallP);
    expect((await drive(owner.read('k') as Promise<{ active: number }>)).active).toBe(3);
    await drive((big as Lease).release());
    await drive((small as Lease).release());
    expect((await drive(owner.read('k') as Promise<{ active: number }>)).active).toBe(0);
  });

  it('a grant that waited longer than half its lease is renewed before it is handed out, and stays held', async () => {
    const { owner, servers } = await setup('late', 1);
    const first = (await drive(owner.acquire('late', { leaseMs: 2000 }))) as Lease;
    const waiting = (servers[0] as DSMServer).acquire('late', { leaseMs: 300, refresh: false });
    await run(1000); // three times the waiter's lease
    await drive(first.release());
    const lease = (await drive(waiting)) as Lease;
    expect(lease.remainingMs()).toBeGreaterThan(250);
    await run(100);
    expect(lease.held).toBe(true);
    const q = await drive(owner.query('late'));
    expect(q.holders.map((h) => h.token)).toEqual([lease.token]);
    expect(q.holders[0]?.remainingMs).toBeGreaterThan(150);
    await drive(lease.release());
  });

  it('an aborted wait rejects with the reason and leaves no waiter at the owner', async () => {
    const { owner, servers } = await setup('ab', 1);
    const held = (await drive(owner.acquire('ab', { leaseMs: 5000 }))) as Lease;
    const controller = new AbortController();
    const p = errorOf((servers[0] as DSMServer).acquire('ab', { signal: controller.signal }));
    await run(20);
    expect((await drive(owner.query('ab'))).waiters).toHaveLength(1);
    const reason = new ClusterluckError('ABORTED', 'user gave up');
    controller.abort(reason);
    expect(await drive(p)).toBe(reason);
    await run(20);
    expect((await drive(owner.query('ab'))).waiters).toEqual([]);
    // The slot then goes to nobody else: releasing leaves it free.
    await drive(held.release());
    expect((await drive(owner.read('ab') as Promise<{ active: number }>)).active).toBe(0);
  });

  it('a timed-out wait is TIMEOUT and leaves nothing at the owner, and ifAvailable answers null at once', async () => {
    const { owner, servers } = await setup('to', 1);
    const held = (await drive(owner.acquire('to', { leaseMs: 20_000 }))) as Lease;
    const caller = servers[0] as DSMServer;
    expect(await drive(caller.acquire('to', { ifAvailable: true }))).toBeNull();
    const t0 = cluster.world.clock.now();
    expect((await drive(errorOf(caller.acquire('to', { timeoutMs: 300 })))).code).toBe('TIMEOUT');
    expect(cluster.world.clock.now() - t0).toBeLessThan(400);
    await run(50);
    expect((await drive(owner.query('to'))).waiters).toEqual([]);
    await drive(held.release());
    expect((await drive(owner.read('to') as Promise<{ active: number }>)).active).toBe(0);
  });

  it('a lease is released only through its object: close(id, holder) with its holder name does nothing', async () => {
    const { owner, servers } = await setup('ho', 1);
    const caller = servers[0] as DSMServer;
    const lease = (await drive(caller.acquire('ho', { leaseMs: 5000, holder: 'alice' }))) as Lease;
    await drive(owner.close('ho', 'alice') as Promise<void>);
    await drive(owner.close('ho', caller.kernel.self.id) as Promise<void>);
    expect((await drive(owner.read('ho') as Promise<{ active: number }>)).active).toBe(1);
    const q = await drive(owner.query('ho'));
    expect(q.holders).toMatchObject([{ holder: 'alice', token: lease.token, permits: 1 }]);
    expect(q.holders[0]?.lease).toHaveLength(6);
    await drive(lease.release());
    expect((await drive(owner.read('ho') as Promise<{ active: number }>)).active).toBe(0);
  });

  it('refresh keeps a lease past its time; without it the signal aborts with LEASE_LOST when it runs out', async () => {
    const { owner } = await setup('rf', 2);
    const kept = (await drive(owner.acquire('rf', { leaseMs: 300 }))) as Lease;
    const once = (await drive(owner.acquire('rf', { leaseMs: 300, refresh: false }))) as Lease;
    await run(1200);
    expect(kept.held).toBe(true);
    expect(kept.signal.aborted).toBe(false);
    expect(once.signal.aborted).toBe(true);
    expect((once.signal.reason as ClusterluckError).code).toBe('LEASE_LOST');
    expect((await drive(owner.query('rf'))).holders.map((h) => h.token)).toEqual([kept.token]);
    await drive(kept.release());
  });

  it('the signal aborts with LEASE_LOST when the owner no longer has the lease (the semaphore was destroyed)', async () => {
    const { owner, servers } = await setup('gone', 1);
    const lease = (await drive((servers[0] as DSMServer).acquire('gone', { leaseMs: 400 }))) as Lease;
    await drive(owner.destroy('gone') as Promise<void>);
    await run(400);
    expect(lease.signal.aborted).toBe(true);
    expect((lease.signal.reason as ClusterluckError).code).toBe('LEASE_LOST');
    expect(lease.held).toBe(false);
  });

  it('`await using` releases at the end of the block, and `limit` creates the semaphore', async () => {
    cluster = await dsmCluster(3);
    const dsm = cluster.servers[0] as DSMServer;
    {
      await using lease = (await drive(dsm.acquire('made', { limit: 1, leaseMs: 5000 }))) as Lease;
      expect(lease.held).toBe(true);
      expect((await drive(dsm.read('made') as Promise<{ n: number; active: number }>))).toEqual({ n: 1, active: 1 });
    }
    await run(20);
    expect((await drive(dsm.read('made') as Promise<{ n: number; active: number }>))).toEqual({ n: 1, active: 0 });
    expect((await drive(errorOf(dsm.acquire('made', { limit: 2 })))).code).toBe('ALREADY_EXISTS');
  });

  it('tells what happens on dsm.events: waiting, grant, released and expired at the owner, lost at the holder', async () => {
    const { owner, servers } = await setup('ev', 1);
    const caller = servers[0] as DSMServer;
    const seen: string[] = [];
    for (const type of ['grant', 'released', 'expired', 'waiting'] as const) {
      owner.events.addEventListener(type, (e) => seen.push(`${type} ${(e.detail as { holder: string }).holder}`));
    }
    caller.events.addEventListener('lost', (e) => seen.push(`lost ${(e.detail.reason as ClusterluckError).code}`));
    const first = (await drive(caller.acquire('ev', { leaseMs: 200, holder: 'a', refresh: false }))) as Lease;
    const second = caller.acquire('ev', { leaseMs: 5000, holder: 'b' });
    await run(20);
    await run(400); // a's lease runs out at the owner, and b gets the slot
    const b = (await drive(second)) as Lease;
    expect(first.held).toBe(false);
    await drive(b.release());
    expect(seen).toEqual(['grant a', 'waiting b', 'lost LEASE_LOST', 'expired a', 'grant b', 'released b']);
  });

  it('names the bad option', async () => {
    cluster = await dsmCluster(1);
    const dsm = cluster.servers[0] as DSMServer;
    for (const [options, field] of [[{ leaseMs: -1 }, 'options.leaseMs'], [{ permits: 1.5 }, 'options.permits'], [{ timeoutMs: 0 }, 'options.timeoutMs'], [{ holder: 'a~b' }, 'options.holder']] as const) {
      const err = await errorOf(dsm.acquire('x', options));
      expect(err.code).toBe('INVALID_ARGUMENT');
      expect(err.message).toContain(field);
    }
    await drive(dsm.create('x', 1) as Promise<void>);
    const err = await drive(errorOf(dsm.acquire('x', { permits: 2 })));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toContain('permits');
  });
});
