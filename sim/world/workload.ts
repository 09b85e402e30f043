// The clients of a run: each posts and closes, or acquires leases and locks, on a few semaphores,
// and records what it believes it holds for the checkers; and the churn client, which creates,
// uses and destroys fresh semaphores.
import { semaphoreLimitMax } from '../../lib/constants.js';
import type { DSMServer } from '../../lib/dsm/dsm-server.js';
import { lockSemaphorePrefix, type DistributedLocks } from '../../lib/dsm/locks.js';
import { stacklessError } from '../../lib/env/errors.js';
import { randomInt, type Random } from '../../lib/env/random.js';
import { draw, type MsRange } from './faults.js';
import type { World } from './world.js';
import { detLn } from '../../lib/core/det-math.js';

/** What the clients draw from. */
export interface WorkloadOptions {
  readonly opsPerSecond: number;
  readonly acquireShare: number;
  readonly limit: number;
  readonly leaseMs: MsRange;
  readonly driftMax: number;
}

interface Inflight {
  readonly semaphore: string;
  readonly host: string;
  readonly epoch: number;
  readonly sentAt: number;
}

export interface RunState {
  /** Posts sent and not answered, by holder. */
  readonly inflight: Map<string, Inflight>;
  readonly counts: { operations: number; granted: number; refused: number; failed: number; lost: number };
}

export function client(world: World, random: Random, index: number, sems: string[], o: WorkloadOptions, stopAt: number, run: RunState): void {
  let k = 0;
  const host = `n${index % world.hosts.size}`;
  const next = (): void => {
    const wait = -detLn(1 - random.next()) * (1000 / o.opsPerSecond);
    world.clock.setTimer(wait, () => {
      if (world.clock.now() >= stopAt) return;
      const dsm = world.node(host)?.dsm;
      if (dsm === undefined) return next();
      const semaphore = sems[randomInt(random, sems.length)] as string;
      const holder = `c${index}-${k++}`;
      const timeout = draw(random, o.leaseMs);
      const sentAt = world.clock.now();
      const epoch = world.hosts.get(host)?.epoch ?? 0;
      run.counts.operations++;
      run.inflight.set(holder, { semaphore, host, epoch, sentAt });
      if (o.acquireShare > 0 && random.next() < o.acquireShare) {
        const a = { dsm, semaphore, holder, leaseMs: timeout, host, epoch, sentAt };
        // One acquire in five is a Web Locks request on the lock of the same name.
        if (random.next() < 0.2) return lockRequest(world, random, { ...a, locks: world.node(host)?.locks as DistributedLocks }, o, run, next);
        return acquire(world, random, a, o, run, next);
      }
      (dsm.post(semaphore, holder, timeout, undefined, 1000, 3) as Promise<number>).then(
        (token) => {
          run.inflight.delete(holder);
          const now = world.clock.now();
          run.counts.granted++;
          // The client's clock may run up to (1+ρ) slow: it believes that much longer in real time.
          const until = sentAt + timeout * (1 + o.driftMax);
          world.emit({ type: 'grant', at: now, kind: 'post', semaphore, holder, host, token, sentAt, until });
          const hold = random.next() * Math.max(0, until - now);
          world.clock.setTimer(hold, () => {
            if (world.hosts.get(host)?.epoch !== epoch) return; // the client died with its process: it believes until the lease ends
            world.emit({ type: 'release', at: world.clock.now(), how: 'close', kind: 'post', semaphore, holder });
            world.node(host)?.dsm.closeAsync(semaphore, holder);
          });
          next();
        },
        (err: Error & { code?: string }) => {
          run.inflight.delete(holder);
          if (err.code === 'SEMAPHORE_FULL') run.counts.refused++;
          else run.counts.failed++;
          world.emit({ type: 'refuse', at: world.clock.now(), semaphore, holder, reason: err.code ?? 'error' });
          // An application creates what it uses when it finds it missing (ALREADY_EXISTS is fine).
          if (err.code === 'NOT_FOUND') (world.node(host)?.dsm.create(semaphore, o.limit) as Promise<void> | undefined)?.catch(() => undefined);
          next();
        },
      );
    });
  };
  next();
}

/**
 * One `acquire` of a client: 1 or 2 permits, a wait of 0.5–3 s (one in ten aborted before that),
 * refresh on or off; held for a while (with refresh, up to two leases long), then released. The
 * client believes from the grant until `lease.held` turns false, bounded from above in real time:
 * at the grant and at each renewal, the time the lease still has on the client's clocks, stretched
 * by (1+ρ) for a slow client clock.
 */
function acquire(world: World, random: Random, a: { dsm: DSMServer; semaphore: string; holder: string; leaseMs: number; host: string; epoch: number; sentAt: number }, o: WorkloadOptions, run: RunState, next: () => void): void {
  const { semaphore, holder, host, epoch } = a;
  const permits = o.limit >= 2 && random.next() < 0.25 ? 2 : 1;
  const refresh = random.next() < 0.5;
  const timeoutMs = 500 + randomInt(random, 2501);
  const controller = new AbortController();
  const abortAt = random.next() < 0.1 ? randomInt(random, timeoutMs) : undefined;
  const holdFor = random.next();
  if (abortAt !== undefined) {
    world.clock.setTimer(abortAt, () => {
      if (world.hosts.get(host)?.epoch === epoch) controller.abort(stacklessError('ABORTED', 'the client gave up'));
    });
  }
  a.dsm.acquire(semaphore, { leaseMs: a.leaseMs, timeoutMs, permits, refresh, holder, signal: controller.signal }).then(
    (lease) => {
      run.inflight.delete(holder);
      if (lease === null) throw new Error('acquire without ifAvailable answered null');
      const now = world.clock.now();
      run.counts.granted++;
      const stretch = 1 + o.driftMax;
      world.emit({ type: 'grant', at: now, kind: 'acquire', semaphore, holder, host, token: lease.token, sentAt: a.sentAt, until: now + lease.remainingMs() * stretch, permits });
      lease.events.addEventListener('renewed', () => {
        world.emit({ type: 'renew', at: world.clock.now(), semaphore, holder, until: world.clock.now() + lease.remainingMs() * stretch });
      });
      lease.signal.addEventListener('abort', () => {
        world.emit({ type: 'release', at: world.clock.now(), how: 'lost', kind: 'acquire', semaphore, holder, reason: (lease.signal.reason as { code?: string }).code ?? 'error' });
      });
      const hold = holdFor * (refresh ? 2 * a.leaseMs : lease.remainingMs());
      world.clock.setTimer(hold, () => {
        if (world.hosts.get(host)?.epoch !== epoch || !lease.held) return; // died with its process, or lost: it believes no longer than the lease says
        world.emit({ type: 'release', at: world.clock.now(), how: 'release', kind: 'acquire', semaphore, holder });
        void lease.release();
      });
      next();
    },
    (err: Error & { code?: string }) => {
      run.inflight.delete(holder);
      run.counts[err.code === 'TIMEOUT' || err.code === 'ABORTED' ? 'refused' : 'failed']++;
      world.emit({ type: 'refuse', at: world.clock.now(), semaphore, holder, reason: err.code ?? 'error' });
      if (err.code === 'NOT_FOUND') (world.node(host)?.dsm.create(semaphore, o.limit) as Promise<void> | undefined)?.catch(() => undefined);
      next();
    },
  );
}

/**
 * One Web Locks request of a client on lock `lk-<semaphore>` (the semaphore `locks/lk-…` with
 * n = semaphoreLimitMax, an exclusive lock taking every slot): shared or exclusive, one in ten
 * `ifAvailable` (answered within 0.5–3 s or TIMEOUT), the others aborted if not granted within 0.5–3 s; the callback holds the lock
 * for up to two leases (it renews itself). The client believes from the callback's start until
 * the callback ends or the lease says it no longer holds, bounded as for `acquire`.
 */
function lockRequest(world: World, random: Random, a: { locks: DistributedLocks; semaphore: string; holder: string; leaseMs: number; host: string; epoch: number; sentAt: number }, o: WorkloadOptions, run: RunState, next: () => void): void {
  const { holder, host, epoch } = a;
  const name = `lk-${a.semaphore}`;
  const semaphore = lockSemaphorePrefix + name;
  const mode = random.next() < 0.5 ? 'shared' : 'exclusive';
  const ifAvailable = random.next() < 0.1;
  const waitMs = 500 + randomInt(random, 2501);
  const holdFor = random.next();
  const controller = new AbortController();
  if (!ifAvailable) {
    world.clock.setTimer(waitMs, () => {
      if (world.hosts.get(host)?.epoch === epoch) controller.abort(stacklessError('ABORTED', 'the client gave up waiting'));
    });
  }
  let granted = false;
  // An ifAvailable request cannot take a signal (as with navigator.locks); its wait for the owner's
  // answer is bounded by timeoutMs instead (fuzz seed 7334: with the 10 s default, one sent as the
  // workload ended was still waiting when the checkers ran).
  a.locks.request(name, { mode, leaseMs: a.leaseMs, clientId: holder, ...(ifAvailable ? { ifAvailable: true, timeoutMs: waitMs } : { signal: controller.signal }) }, async (lock) => {
    run.inflight.delete(holder);
    if (lock === null) return;
    granted = true;
    const now = world.clock.now();
    run.counts.granted++;
    const stretch = 1 + o.driftMax;
    const lease = lock.lease;
    // Permits: what the mode means, not what the lease says.
    world.emit({ type: 'grant', at: now, kind: 'lock', semaphore, holder, host, token: lock.token, sentAt: a.sentAt, until: now + lease.remainingMs() * stretch, permits: mode === 'exclusive' ? semaphoreLimitMax : 1, mode });
    lease.events.addEventListener('renewed', () => {
      world.emit({ type: 'renew', at: world.clock.now(), semaphore, holder, until: world.clock.now() + lease.remainingMs() * stretch });
    });
    lock.signal.addEventListener('abort', () => {
      world.emit({ type: 'release', at: world.clock.now(), how: 'lost', kind: 'lock', semaphore, holder, reason: (lock.signal.reason as { code?: string }).code ?? 'error' });
    });
    next();
    await new Promise<void>((resolve) => world.clock.setTimer(holdFor * 2 * a.leaseMs, resolve));
    if (world.hosts.get(host)?.epoch !== epoch) return new Promise<void>(() => undefined); // died with its process: the lease says how long it believed
    // The callback ends, and request() releases the lock: whatever the lease says, the client
    // believes no longer (fuzz seed 27: a wall-clock jump had ended the lease on the client's
    // clocks, its signal had not aborted yet, and the belief outlived the release).
    world.emit({ type: 'release', at: world.clock.now(), how: 'release', kind: 'lock', semaphore, holder, ...(lease.held ? {} : { reason: 'no longer held' }) });
  }).then(
    () => {
      if (granted) return;
      run.counts.refused++;
      world.emit({ type: 'refuse', at: world.clock.now(), semaphore, holder, reason: 'not available' });
      next();
    },
    (err: Error & { code?: string }) => {
      run.inflight.delete(holder);
      if (granted) return; // a steal or a lost lease after the grant (next already ran)
      run.counts[err.code === 'ABORTED' || err.code === 'TIMEOUT' ? 'refused' : 'failed']++;
      world.emit({ type: 'refuse', at: world.clock.now(), semaphore, holder, reason: err.code ?? err.name });
      next();
    },
  );
}

/**
 * Create/destroy churn: every second or so a fresh semaphore is created through a random node, a
 * holder posts on it, and it is destroyed. Names are never reused, so its holders end with it.
 */
export function churn(world: World, random: Random, o: WorkloadOptions, stopAt: number, run: RunState): void {
  let k = 0;
  const next = (): void => {
    world.clock.setTimer(500 + randomInt(random, 1000), () => {
      if (world.clock.now() >= stopAt) return;
      const host = `n${randomInt(random, world.hosts.size)}`;
      const dsm = world.node(host)?.dsm;
      const id = `churn-${k++}`;
      next();
      if (dsm === undefined) return;
      run.counts.operations += 3;
      const step = (what: string, p: Promise<unknown> | undefined): Promise<unknown> =>
        (p ?? Promise.resolve()).catch((err: { code?: string }) => {
          run.counts.failed++;
          world.emit({ type: 'churn', at: world.clock.now(), what, semaphore: id, host, reason: err.code ?? 'error' });
        });
      void step('create', dsm.create(id, 1) as Promise<void>)
        .then(() => step('post', dsm.post(id, `${id}-h`, 1000, undefined, 1000, 0) as Promise<number>))
        .then(() => step('destroy', dsm.destroy(id) as Promise<void>));
    });
  };
  next();
}
