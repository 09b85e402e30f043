// DSMServer with disk: a node dropped without stop() and restarted on the same storage gets its
// semaphores and holders back, each lease held for the time it had at its last grant, counted from
// the restart (no clock says how long the node was down).
import { describe, expect, it } from 'vitest';
import { HashRing } from '../lib/core/hash-ring.js';
import { DSMServer, type DSMServerOptions } from '../lib/dsm/dsm-server.js';
import type { NetKernel } from '../lib/kernel/net-kernel.js';
import { DTable } from '../lib/table/dtable.js';
import type { Storage } from '../lib/env/storage.js';
import { SimDisk } from '../sim/disk/sim-disk.js';
import { seededRandom } from '../sim/world/seeded-random.js';
import { kernelWorld } from './support/kernels.js';

/** Two kernels `a` and `b` on one memory network, `a` alone on the ring, and `a`'s simulated disk. */
async function ownerWorld(name: string, diskSeed: string) {
  const world = kernelWorld(name);
  const [a, b] = (await world.mesh(['a', 'b'])) as [NetKernel, NetKernel];
  const ring = new HashRing().insert(a.self);
  const source = { ring: () => ring };
  const disk = new SimDisk({ random: seededRandom(diskSeed) });
  /** A DSMServer on `a` with its data on `disk`, loaded. */
  const startOwner = async (opts: DSMServerOptions = {}): Promise<DSMServer> => {
    const owner = new DSMServer(source, a, { disk: true, storage: disk.storage(), ...opts }).start();
    await owner.load();
    return owner;
  };
  return { world, a, b, source, disk, startOwner };
}

describe('DSMServer persistence', () => {
  it('a dropped owner restarted on its storage has its semaphores and holders back, each for its whole lease from the restart', async () => {
    const { world, a, b, source, disk, startOwner } = await ownerWorld('persist', 'persist-disk');
    await startOwner({ fsyncInterval: 0 });
    const client = new DSMServer(source, b).start();
    await client.create('jobs', 3);
    await client.create('__proto__', 1);
    await client.post('jobs', 'long', 10_000);
    await client.post('jobs', 'short', 1_000);
    await client.post('__proto__', 'h', 5_000);
    await client.create('doomed', 1);
    await client.post('doomed', 'x', 60_000);
    await client.destroy('doomed');
    await world.clock.advance(500);

    // The process dies: no stop(), nothing unsynced survives, and 2 s pass before it is back.
    disk.crash();
    a.unregister('dsm');
    await world.clock.advance(2_000);
    await startOwner({ fsyncInterval: 0 });

    // 'short' ran out while the node was down, but the restart cannot know that: it may have been
    // renewed just before the crash, and the wall clock may have been stepped since.
    await expect(client.read('jobs')).resolves.toEqual({ n: 3, active: 2 });
    await expect(client.read('__proto__')).resolves.toEqual({ n: 1, active: 1 });
    await expect(client.read('doomed')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    // A slot is kept timeout·(1+ρ)² on the owner's clock: 1 s → 1.0201 s, 10 s → 10.201 s, from the restart.
    await world.clock.advance(1_020);
    await expect(client.read('jobs')).resolves.toEqual({ n: 3, active: 2 });
    await world.clock.advance(1);
    await expect(client.read('jobs')).resolves.toEqual({ n: 3, active: 1 });
    await world.clock.advance(10_201 - 1_021 - 1);
    await expect(client.read('jobs')).resolves.toEqual({ n: 3, active: 1 });
    await world.clock.advance(2);
    await expect(client.read('jobs')).resolves.toEqual({ n: 3, active: 0 });
    await world.stopAll();
  });

  it('a wall clock stepped while the owner was up does not shorten the leases it restores (fuzz seed 12034)', async () => {
    const { world, a, b, source, disk, startOwner } = await ownerWorld('persist-wall', 'persist-wall-disk');
    await startOwner();
    const client = new DSMServer(source, b).start();
    await client.create('s', 1);
    // The owner's wall clock is set back 9.5 s (an NTP step); the holder renews a 10 s lease.
    world.clock.jumpWall(-9_500);
    await client.post('s', 'h1', 10_000);
    await world.clock.advance(300);
    // Killed; it comes back 1 s later with its wall clock set right.
    disk.crash();
    a.unregister('dsm');
    world.clock.jumpWall(9_500);
    await world.clock.advance(1_000);
    await startOwner();
    // h1 believes until 10 s after it sent the post on its own clock, so until 8.7 s from here.
    for (let t = 0; t < 8_700; t += 500) {
      await expect(client.post('s', 'h2', 1_000, undefined, undefined, 0)).rejects.toMatchObject({ code: 'SEMAPHORE_FULL' });
      await world.clock.advance(500);
    }
    await world.stopAll();
  });

  it('a lease stored by an earlier version (a wall-clock expiry) is held for leaseMsMax·(1+ρ)² from the restart, and stored anew', async () => {
    const { world, b, source, disk, startOwner } = await ownerWorld('persist-legacy', 'persist-legacy-disk');
    // What an earlier version wrote: the semaphore, and a lease with a wall-clock expiry long past.
    const table = new DTable<number | number[]>({ storage: disk.storage(), clock: world.clock, name: 'dsm', fsyncInterval: 0 });
    table.start();
    await table.load();
    await table.set(JSON.stringify(['s', 's']), [1, 7]);
    await table.set(JSON.stringify(['h', 's', 'old']), [world.clock.wallNow() - 60_000, 7]);
    await table.stop();
    const owner = await startOwner({ leaseMsMax: 2_000 });
    const client = new DSMServer(source, b).start();
    await expect(client.query('s')).resolves.toMatchObject({ holders: [{ holder: 'old', token: 7 }] });
    // Stored anew in today's form: a second restart has it too.
    await owner.stop();
    await startOwner({ leaseMsMax: 2_000 });
    await expect(client.read('s')).resolves.toEqual({ n: 1, active: 1 });
    // 2 s·(1.01)² = 2.0402 s from this restart.
    await world.clock.advance(2_040);
    await expect(client.read('s')).resolves.toEqual({ n: 1, active: 1 });
    await world.clock.advance(1);
    await expect(client.read('s')).resolves.toEqual({ n: 1, active: 0 });
    await world.stopAll();
  });

  it('a lease of several permits survives a crash whole, and its holder keeps renewing it after the restart', async () => {
    const { world, a, b, source, disk, startOwner } = await ownerWorld('persist-permits', 'persist-permits-disk');
    await startOwner();
    const client = new DSMServer(source, b).start();
    const lease = await client.acquire('pool', { limit: 3, permits: 2, leaseMs: 1000 });
    expect(lease?.permits).toBe(2);
    disk.crash();
    a.unregister('dsm');
    await world.clock.advance(200);
    await startOwner();
    await expect(client.read('pool')).resolves.toEqual({ n: 3, active: 2 });
    // Renewals reach the restarted owner, which knows the lease by its key.
    for (let t = 0; t < 3000; t += 100) await world.clock.advance(100);
    expect(lease?.held).toBe(true);
    await expect(client.query('pool')).resolves.toMatchObject({ holders: [{ permits: 2, token: lease?.token }] });
    await lease?.release();
    await expect(client.read('pool')).resolves.toEqual({ n: 3, active: 0 });
    await world.stopAll();
  });

  it('a limit lowered below the holders survives a crash: they keep their slots, nobody new gets one until fewer than n hold', async () => {
    const { world, a, b, source, disk, startOwner } = await ownerWorld('persist-limit', 'persist-limit-disk');
    await startOwner();
    const client = new DSMServer(source, b).start();
    await client.create('pool', 3);
    await client.post('pool', 'x', 10_000);
    await client.post('pool', 'y', 10_000);
    await client.setLimit('pool', 1);
    await expect(client.read('pool')).resolves.toEqual({ n: 1, active: 2 });
    disk.crash();
    a.unregister('dsm');
    await world.clock.advance(200);
    await startOwner();
    await expect(client.read('pool')).resolves.toEqual({ n: 1, active: 2 });
    await expect(client.post('pool', 'z', 1000, undefined, undefined, 0)).rejects.toMatchObject({ code: 'SEMAPHORE_FULL' });
    await client.close('pool', 'x');
    await expect(client.post('pool', 'z', 1000, undefined, undefined, 0)).rejects.toMatchObject({ code: 'SEMAPHORE_FULL' });
    await client.close('pool', 'y');
    await expect(client.post('pool', 'z', 1000, undefined, undefined, 0)).resolves.toBeGreaterThan(0);
    await client.setLimit('pool', 2);
    await expect(client.post('pool', 'w', 1000, undefined, undefined, 0)).resolves.toBeGreaterThan(0);
    await world.stopAll();
  });

  it('fencing tokens survive a crash on the shipped defaults: a restarted owner grants larger ones, and a holder that refreshes keeps its own', async () => {
    const { world, a, b, source, disk, startOwner } = await ownerWorld('persist-tokens', 'tokens-disk');
    await startOwner();
    const client = new DSMServer(source, b).start();
    await client.create('s', 2);
    const first = await client.post('s', 'h1', 30_000);
    const second = await client.post('s', 'h2', 30_000);
    expect(second).toBeGreaterThan(first!);
    await client.close('s', 'h2');

    // Killed right after the answers: what was acknowledged was synced.
    disk.crash();
    a.unregister('dsm');
    await startOwner();
    await expect(client.post('s', 'h1', 30_000)).resolves.toBe(first);
    const third = await client.post('s', 'h3', 30_000);
    expect(third).toBeGreaterThan(second!);
    await world.stopAll();
  });

  it('a graceful stop() keeps everything for the next load (Clusterluck logged a clear)', async () => {
    const world = kernelWorld('persist-stop');
    const [a] = await world.mesh(['a']);
    const ring = new HashRing().insert(a!.self);
    const disk = new SimDisk({ random: seededRandom('stop-disk') });
    const storage: Storage = disk.storage();
    const first = new DSMServer({ ring: () => ring }, a!, { disk: true, storage, compress: true }).start();
    await first.load();
    await first.create('kept', 2);
    await first.post('kept', 'h', 60_000);
    await first.stop();
    const second = new DSMServer({ ring: () => ring }, a!, { disk: true, storage, compress: true }).start();
    await second.load();
    await expect(second.read('kept')).resolves.toEqual({ n: 2, active: 1 });
    await second.stop();
    await world.stopAll();
  });
});
