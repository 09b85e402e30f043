import { afterEach, describe, expect, it, vi } from 'vitest';
import { semaphoreLimitMax } from '../lib/constants.js';
import { DSMServer } from '../lib/dsm/dsm-server.js';
import { ClusterluckError } from '../lib/env/errors.js';
import { dsmCluster, type DsmCluster } from './support/dsm-cluster.js';

let cluster: DsmCluster;
afterEach(async () => {
  await cluster.stop();
});

/** Advances virtual time in steps until `promise` settles (retries sleep on the clock). */
async function drive<T>(promise: Promise<T>, stepMs = 10, maxMs = 600_000): Promise<T> {
  let done = false;
  const watched = promise.finally(() => {
    done = true;
  });
  watched.catch(() => undefined);
  for (let t = 0; !done && t < maxMs; t += stepMs) await cluster.world.clock.advance(stepMs);
  return watched;
}

const errorOf = (p: Promise<unknown>): Promise<ClusterluckError> => p.then(() => { throw new Error('expected a rejection'); }, (e: unknown) => e as ClusterluckError);

describe.each([3, 5])('DSMServer on %i nodes', (size) => {
  for (const side of ['owner', 'other'] as const) {
    describe(`called from the ${side === 'owner' ? 'owner' : 'a non-owner'} node`, () => {
      const setup = async (id: string): Promise<DSMServer> => {
        cluster = await dsmCluster(size);
        return cluster.roles(id)[side];
      };

      it('create then read gives { n, active: 0 }, and create again with the same n is fine', async () => {
        const dsm = await setup('jobs');
        await dsm.create('jobs', 3);
        await dsm.create('jobs', 3);
        await expect(dsm.read('jobs')).resolves.toEqual({ n: 3, active: 0 });
      });

      it('create with another n is an ALREADY_EXISTS error', async () => {
        const dsm = await setup('jobs');
        await dsm.create('jobs', 3);
        expect((await errorOf(dsm.create('jobs', 4) as Promise<void>)).code).toBe('ALREADY_EXISTS');
      });

      it('read of an unknown semaphore is a NOT_FOUND error', async () => {
        const dsm = await setup('ghost');
        expect((await errorOf(dsm.read('ghost') as Promise<unknown>)).code).toBe('NOT_FOUND');
      });

      it('post grants up to n holders, then a post with retries=0 fails naming the semaphore and holder', async () => {
        const dsm = await setup('pool');
        await dsm.create('pool', 2);
        await dsm.post('pool', 'h1', 10_000);
        await dsm.post('pool', 'h2', 10_000);
        const err = await errorOf(drive(dsm.post('pool', 'h3', 10_000, undefined, Infinity, 0) as Promise<number>));
        expect(err.code).toBe('SEMAPHORE_FULL');
        expect(err.message).toContain('"pool"');
        expect(err.message).toContain('"h3"');
        await expect(dsm.read('pool')).resolves.toEqual({ n: 2, active: 2 });
      });

      it('a waiting post is granted once a holder closes', async () => {
        const dsm = await setup('pool');
        await dsm.create('pool', 1);
        await dsm.post('pool', 'h1', 60_000);
        const waiter = dsm.post('pool', 'h2', 60_000, undefined, Infinity, 1000) as Promise<number>;
        await cluster.world.clock.advance(500);
        await dsm.close('pool', 'h1');
        await drive(waiter);
        await expect(dsm.read('pool')).resolves.toEqual({ n: 1, active: 1 });
      });

      /** h1 holds `id` (n = 1); `meanwhile` runs; then h1's renewal times out against a stalled owner. */
      async function renewalTimesOut(id: string, meanwhile: () => void = () => undefined): Promise<DSMServer> {
        const dsm = await setup(id);
        const { owner } = cluster.roles(id);
        await dsm.create(id, 1);
        await dsm.post(id, 'h1', 10_000);
        meanwhile();
        owner.pause(); // a GC pause, a frozen tab: the renewal waits in its mailbox
        const renewal = errorOf(dsm.post(id, 'h1', 10_000, undefined, 200, 0) as Promise<number>);
        await cluster.world.clock.advance(300);
        expect((await renewal).code).toBe('TIMEOUT');
        owner.resume();
        await cluster.world.clock.advance(50);
        return dsm;
      }

      it('a renewal that times out against a stalled owner does not release the lease it renews', async () => {
        const dsm = await renewalTimesOut('renew');
        // h1 still holds (its first lease has 9.5 s left): nobody else gets the slot.
        await expect(dsm.read('renew')).resolves.toEqual({ n: 1, active: 1 });
        expect((await errorOf(dsm.post('renew', 'h2', 1000, undefined, Infinity, 0) as Promise<number>)).code).toBe('SEMAPHORE_FULL');
      });

      it('a client whose wall clock passed its lease (a laptop that slept: the monotonic clock stood still) no longer believes in it, so a failed renewal releases it', async () => {
        const dsm = await renewalTimesOut('slept', () => cluster.world.clock.jumpWall(20_000));
        await expect(dsm.read('slept')).resolves.toEqual({ n: 1, active: 0 });
      });

      it('post by a holder that already holds is granted and refreshes its lease', async () => {
        const dsm = await setup('lease');
        await dsm.create('lease', 1);
        await dsm.post('lease', 'h1', 1000);
        await cluster.world.clock.advance(800);
        await dsm.post('lease', 'h1', 1000);
        await cluster.world.clock.advance(1000);
        await expect(dsm.read('lease')).resolves.toEqual({ n: 1, active: 1 });
        await cluster.world.clock.advance(21); // kept 1000·(1+ρ)² = 1020.1 ms from the refresh
        await expect(dsm.read('lease')).resolves.toEqual({ n: 1, active: 0 });
      });

      it('leases expire on the owner clock after timeout·(1+ρ)² (a fast owner clock never frees a slot a slow client still believes in)', async () => {
        const dsm = await setup('lease');
        await dsm.create('lease', 2);
        await dsm.post('lease', 'h1', 1000);
        await cluster.world.clock.advance(1020);
        await expect(dsm.read('lease')).resolves.toEqual({ n: 2, active: 1 });
        await cluster.world.clock.advance(1);
        await expect(dsm.read('lease')).resolves.toEqual({ n: 2, active: 0 });
      });

      it('close of a holder that does not hold is not an error', async () => {
        const dsm = await setup('pool');
        await dsm.create('pool', 1);
        await expect(dsm.close('pool', 'nobody')).resolves.toBeUndefined();
        await expect(dsm.close('no-such-pool', 'nobody')).rejects.toMatchObject({ code: 'NOT_FOUND' }); // as in Clusterluck
      });

      it('destroy of an unknown semaphore is fine; destroy drops all holders and timers', async () => {
        const dsm = await setup('gone');
        await dsm.destroy('never-made-' + side);
        await dsm.create('gone', 2);
        await dsm.post('gone', 'h1', 1000);
        await dsm.destroy('gone');
        expect((await errorOf(dsm.read('gone') as Promise<unknown>)).code).toBe('NOT_FOUND');
        await dsm.create('gone', 2);
        await expect(dsm.read('gone')).resolves.toEqual({ n: 2, active: 0 });
        await cluster.world.clock.advance(2000);
        await expect(dsm.read('gone')).resolves.toEqual({ n: 2, active: 0 });
      });

      it('"__proto__" and "constructor" are ordinary ids and holders', async () => {
        const dsm = await setup('__proto__');
        for (const id of ['__proto__', 'constructor']) {
          await dsm.create(id, 1);
          await dsm.post(id, 'constructor', 5000);
          await expect(dsm.read(id)).resolves.toEqual({ n: 1, active: 1 });
        }
      });
    });
  }
});

describe('DSMServer semantics', () => {
  it('stats count the owner\'s grants, releases and expirations, and its calls answered by event and code', async () => {
    cluster = await dsmCluster(3);
    const { owner, other } = cluster.roles('counted');
    await other.create('counted', 2);
    await other.post('counted', 'h1', 1000);
    await other.post('counted', 'h2', 60_000);
    await other.close('counted', 'h2');
    await errorOf(other.read('nothing-here') as Promise<unknown>);
    expect(owner.stats()).toMatchObject({ grants: 2, releases: 1, expirations: 0, owned: 1, waiting: 0 });
    await cluster.world.clock.advance(2000);
    expect(owner.stats()).toMatchObject({ grants: 2, releases: 1, expirations: 1 });
    expect(other.stats()).toMatchObject({ grants: 0, releases: 0, expirations: 0, owned: 0 });
    expect(owner.answered.get('post')?.get('OK')).toBe(2);
    expect(owner.answered.get('close')?.get('OK')).toBe(1);
    const readOwner = cluster.roles('nothing-here').owner;
    expect(readOwner.answered.get('read')?.get('NOT_FOUND')).toBe(1);
  });

  it('routes every request to the owner: each node serves exactly the ids it owns', async () => {
    cluster = await dsmCluster(5);
    const ids = Array.from({ length: 40 }, (_, i) => `sem-${i}`);
    for (const [i, id] of ids.entries()) await cluster.servers[i % 5]?.create(id, 1);
    for (const id of ids) {
      const ownerId = cluster.ring.find(id).id;
      for (const s of cluster.servers) {
        const local = await s.kernel.call({ node: s.kernel.self.id, name: 'dsm' }, 'read', { id }).then(() => 'served', (e: ClusterluckError) => e.code);
        expect([id, s.kernel.self.id, local]).toEqual([id, s.kernel.self.id, s.kernel.self.id === ownerId ? 'served' : 'NOT_OWNER']);
      }
    }
  });

  it('a post refused by the only owner it reached casts no close; a grant of that holder no longer believed is still closed', async () => {
    cluster = await dsmCluster(3);
    const { other } = cluster.roles('full');
    await other.create('full', 1);
    const closes = vi.spyOn(other, 'cast');
    const closed = (): unknown[] => closes.mock.calls.filter(([, event]) => event === 'close').map(([, , job]) => job);
    await other.post('full', 'h1', 10_000);
    // h2 is refused: that attempt holds nothing, and h2 had nothing before.
    expect((await errorOf(drive(other.post('full', 'h2', 10_000, undefined, Infinity, 0) as Promise<number>))).code).toBe('SEMAPHORE_FULL');
    expect(closed()).toEqual([]);
    // h3 then holds a 100 ms grant. Once it has run out (and h1 holds the slot again), this node no
    // longer believes in it: a refused post of h3 closes that earlier attempt, and only it.
    await other.close('full', 'h1');
    await other.post('full', 'h3', 100);
    await cluster.world.clock.advance(150);
    await other.post('full', 'h1', 10_000);
    expect((await errorOf(drive(other.post('full', 'h3', 10_000, undefined, Infinity, 0) as Promise<number>))).code).toBe('SEMAPHORE_FULL');
    expect(closed()).toEqual([{ id: 'full', holder: 'h3', attempt: expect.any(String) }]);
  });

  it('a grant whose reply arrives after the lease timeout counts as failed and is released', async () => {
    cluster = await dsmCluster(3);
    const { owner, other } = cluster.roles('slow');
    await other.create('slow', 1);
    owner.pause();
    const post = other.post('slow', 'h1', 100, undefined, Infinity, 0) as Promise<number>;
    await cluster.world.clock.advance(150);
    owner.resume();
    expect((await errorOf(drive(post))).code).toBe('SEMAPHORE_FULL');
    await expect(other.read('slow')).resolves.toEqual({ n: 1, active: 0 });
  });

  it('a post that times out (reqTimeout) fails TIMEOUT and releases what the owner may have granted', async () => {
    cluster = await dsmCluster(3);
    const { owner, other } = cluster.roles('phantom');
    await other.create('phantom', 1);
    owner.pause();
    const post = other.post('phantom', 'h1', 60_000, undefined, 50, 0) as Promise<number>;
    await cluster.world.clock.advance(60);
    expect((await errorOf(post)).code).toBe('TIMEOUT');
    owner.resume();
    await cluster.world.clock.advance(1);
    await expect(other.read('phantom')).resolves.toEqual({ n: 1, active: 0 });
  });

  it('callbacks are called asynchronously, with null on success and an Error on failure', async () => {
    cluster = await dsmCluster(3);
    const dsm = cluster.servers[0] as DSMServer;
    const calls: unknown[][] = [];
    const done = new Promise<void>((resolve) => {
      expect(dsm.create('cb', 1, (...args) => {
        calls.push(args);
        dsm.read('cb', (...more) => {
          calls.push(more);
          dsm.read('nope', (...last) => {
            calls.push(last);
            resolve();
          });
        });
      })).toBeUndefined();
    });
    expect(calls).toEqual([]);
    await done;
    expect(calls[0]).toEqual([null, undefined]);
    expect(calls[1]).toEqual([null, { n: 1, active: 0 }]);
    expect((calls[2]?.[0] as ClusterluckError).code).toBe('NOT_FOUND');
  });

  it('bad input gets a typed error naming the field and value, and nothing is stored', async () => {
    cluster = await dsmCluster(3);
    const dsm = cluster.servers[1] as DSMServer;
    const cases: [() => unknown, string][] = [
      [() => dsm.create('', 1), 'id'],
      [() => dsm.create('x'.repeat(2000), 1), 'id'],
      [() => dsm.create('a', 1.5), 'n'],
      [() => dsm.create('a', 0), 'n'],
      [() => dsm.create('a', Infinity), 'n'],
      [() => dsm.create('a', semaphoreLimitMax + 1), 'n'],
      [() => dsm.post('a', 'h', 0), 'timeout'],
      [() => dsm.post('a', 'h', Infinity), 'timeout'],
      [() => dsm.post('a', 'h', Number.NaN), 'timeout'],
      [() => dsm.post('a', 5 as unknown as string, 100), 'holder'],
      [() => dsm.close('a', null as unknown as string), 'holder'],
    ];
    for (const [run, field] of cases) {
      const err = await errorOf(run() as Promise<unknown>);
      expect(err.code).toBe('INVALID_ARGUMENT');
      expect(Object.keys(err.fails ?? {})).toEqual([field]);
    }
    expect((await errorOf(dsm.read('a') as Promise<unknown>)).code).toBe('NOT_FOUND');
  });

  it('a malformed or unknown request over the wire gets an error reply, and no handler runs', async () => {
    cluster = await dsmCluster(3);
    const k = cluster.kernels[0];
    const owner = cluster.ring.find('w').id;
    const call = (event: string, data: unknown) => errorOf(k!.call({ node: owner, name: 'dsm' }, event, data));
    expect((await call('post', null)).code).toBe('INVALID_ARGUMENT');
    expect((await call('create', { id: 'w', n: '3' })).fails).toEqual({ n: 'must be an integer from 1 to 1000000, got "3"' });
    expect((await call('explode', { id: 'w' })).message).toContain('unknown command "explode"');
    expect((await call('constructor', {})).code).toBe('INVALID_ARGUMENT');
    expect((await errorOf(cluster.servers[0]!.read('w') as Promise<unknown>)).code).toBe('NOT_FOUND');
  });

  it('stop() waits until the requests in flight are answered', async () => {
    cluster = await dsmCluster(3);
    const { owner, other } = cluster.roles('busy');
    await other.create('busy', 1);
    owner.pause();
    const read = other.read('busy') as Promise<unknown>;
    await cluster.world.clock.advance(1);
    let stopped = false;
    const stopping = owner.stop().then(() => {
      stopped = true;
    });
    await expect(read).resolves.toEqual({ n: 1, active: 0 });
    await stopping;
    expect(stopped).toBe(true);
    expect(owner.idle()).toBe(true);
  });

  it('parseJob maps every bad field to why; calculateWaitTime stays within [min, max)', () => {
    const err = DSMServer.parseJob({ id: 7, holder: 'h', timeout: -1 }, 'post') as ClusterluckError;
    expect(Object.keys(err.fails ?? {}).sort()).toEqual(['id', 'timeout']);
    expect(DSMServer.parseJob({ id: 'a', holder: 'h', timeout: 5, extra: 1 }, 'post')).toEqual({ id: 'a', holder: 'h', timeout: 5 });
    for (let i = 0; i < 200; i++) {
      const w = DSMServer.calculateWaitTime(10, 100);
      expect(w >= 10 && w < 100).toBe(true);
    }
    expect(() => DSMServer.calculateWaitTime(10, 5)).toThrow('max must be');
  });
});
