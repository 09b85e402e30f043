// One seeded run: a world, clients doing post/close and acquire/release on a few semaphores (acquires
// with permits, refresh, aborts and timeouts), a nemesis injecting the
// chosen faults on a schedule drawn from the seed, then the checkers. Deterministic per seed.
import { sha256 } from '@noble/hashes/sha2.js';
import { toHex, utf8 } from '../../lib/env/bytes.js';
import { ClusterluckError, invalidArgument } from '../../lib/env/errors.js';
import type { DSMServer } from '../../lib/dsm/dsm-server.js';
import { lockSemaphorePrefix, type DistributedLocks } from '../../lib/dsm/locks.js';
import { randomInt } from '../../lib/env/random.js';
import type { Random } from '../../lib/env/random.js';
import { driftMaxDefault, semaphoreLimitMax } from '../../lib/constants.js';
import { checkFencing, checkSafety, type Belief, type Violation } from '../checkers/checker.js';
import { OwnershipSampler, ViewLog, type OwnerProbe } from '../checkers/view-checker.js';
import { FifoChecker } from '../checkers/fifo-checker.js';
import { seededRandom } from './seeded-random.js';
import { presets, World, type Preset } from './world.js';

/** At most this many machines join during a run, beyond the first `nodes`. */
const joinsMax = 2;

/** Faults the nemesis can inject. */
export const faultKinds = ['partition', 'long-partition', 'one-way', 'clog', 'crash', 'wipe', 'leave', 'remove', 'join', 'pause', 'drift', 'jump'] as const;
/** One of {@link faultKinds}. */
export type FaultKind = (typeof faultKinds)[number];

/** A range of simulated milliseconds, drawn uniformly. */
export interface MsRange {
  readonly min: number;
  readonly max: number;
}

/** Options of {@link simulate}. */
export interface SimulationOptions {
  readonly seed: string;
  /** @default 5 */
  readonly nodes?: number;
  /** Simulated run length, ms; faults stop 10 s before the end, then the cluster heals. @default 60000 */
  readonly durationMs?: number;
  /** @default faultKinds (all) */
  readonly faults?: readonly FaultKind[];
  /** @default 20 */
  readonly clients?: number;
  /** Operations per second per client. @default 10 */
  readonly opsPerSecond?: number;
  /** The share of operations that are `acquire` leases (the rest are the seed API's `post`); Clusterluck's scenarios (amnesia, handoff, drift-beyond) use `post` only. @default 0.5 */
  readonly acquireShare?: number;
  /** Semaphores the clients share. @default 3 */
  readonly semaphores?: number;
  /** Each semaphore's limit n. @default 2 */
  readonly limit?: number;
  /** Lease a client asks for. @default { min: 200, max: 2000 } */
  readonly leaseMs?: MsRange;
  /** How long a partition, clog, crash or pause lasts. @default { min: 1000, max: 6000 } */
  readonly faultMs?: MsRange;
  /** How long a long partition lasts: longer than detection plus auto-remove, so views change. @default { min: 20000, max: 120000 } */
  readonly longFaultMs?: MsRange;
  /** Clock rates drawn by the drift fault lie in [1/(1+ρ), 1+ρ] for this ρ (the product's bound: beyond it, leases are not safe). @default driftMaxDefault */
  readonly driftMax?: number;
  /** Time between two faults. @default { min: 2000, max: 8000 } */
  readonly faultGapMs?: MsRange;
  /** Persist semaphores. Off reproduces Clusterluck's amnesia on restart. @default true */
  readonly disk?: boolean;
  /**
   * `'clusterluck'` turns off handoff, lock-delay, the drift bound and synced acknowledgements on
   * every node (the DSM's and the ring's `safety`), to show what they buy. @default 'strict'
   */
  readonly safety?: 'strict' | 'clusterluck';
  /** Play these faults instead of drawing them from the seed (a fast-check search shrinks them). */
  readonly schedule?: readonly ScheduledFault[];
  /**
   * The shipped entry the processes are (see {@link WorldOptions.preset}). @default drawn from the
   * seed, so a sweep runs both
   */
  readonly preset?: Preset;
  /** Return the whole trace in the summary. @default false */
  readonly keepTrace?: boolean;
  /** Called every simulated second. */
  readonly onProgress?: (simMs: number) => void;
  /** Simulated ms between two ownership samples. @default 10 */
  readonly sampleMs?: number;
}

/** One fault of an explicit schedule. */
export interface ScheduledFault {
  /** Simulated ms after the workload starts. */
  readonly at: number;
  readonly kind: FaultKind;
  /** The victim (first id), or one side of a partition (the rest of the hosts are the other). */
  readonly nodes: readonly string[];
  /** How long it lasts (partition, one-way, clog, crash, pause), or until a node that left, or was removed, comes back. */
  readonly ms: number;
  /** Drift rate (1.01: 1 % fast) or wall-clock jump in ms. */
  readonly amount?: number;
}

/** One fault the nemesis injected. */
export interface FaultRecord {
  readonly at: number;
  readonly kind: FaultKind;
  /** The host, or the two sides of a partition. */
  readonly target: string;
}

/** What a run did and found. */
export interface SimulationSummary {
  readonly seed: string;
  readonly nodes: number;
  readonly preset: Preset;
  /** The workload's length, ms. */
  readonly simMs: number;
  /** Virtual time the whole run took: boot, workload, healing and the last checks, ms. */
  readonly clockMs: number;
  readonly operations: number;
  readonly granted: number;
  readonly refused: number;
  readonly failed: number;
  /** Posts whose client's process crashed before the answer (not a liveness failure). */
  readonly lost: number;
  readonly faults: Record<string, number>;
  readonly faultLog: FaultRecord[];
  readonly violations: Violation[];
  readonly converged: boolean;
  /** Members an operator forced out after healing (`remove --force`) because their view had lost a majority of its voters for good; empty in most runs. */
  readonly forcedOut: string[];
  /** Set when every member of the newest view lost its state for good (no convergence is required then): what was lost. */
  readonly clusterLost?: string;
  /** Distinct views decided, and views adopted by all processes together. */
  readonly views: { readonly decided: number; readonly adopted: number };
  /** Ownership samples taken. */
  readonly ownershipSamples: number;
  /** Grants checked at the instant they were made (owner, alone, token's view). */
  readonly grantsChecked: number;
  /** Grants of queued acquires checked for FIFO order. */
  readonly queuedGrantsChecked: number;
  /** Frames the simulated network delivered. */
  readonly frames: number;
  readonly traceHash: string;
  readonly traceLines: number;
  /** The 5 s of trace before the first violation: its semaphore's events and every fault (empty when there is none). */
  readonly traceAroundViolation: string[];
  /** The whole trace, with `keepTrace`. */
  readonly trace?: string[];
}

/**
 * Scenarios the safety checker must catch where the product's rules do not hold or are turned off.
 * `amnesia`: no disk; owners crash and come back at once (same id: the node preset) with empty
 * tables while clients hold long leases. `handoff`: nodes leave and rejoin under load: safe with handoff and lock-delay, a double
 * grant in Clusterluck mode (`safety: 'clusterluck'`), where the new owner knows nothing of the
 * holders the old one granted. `drift-beyond`: clocks drift up to 20 %, beyond the ρ = 1 % the
 * product assumes.
 */
export const scenarios = {
  default: {},
  amnesia: { acquireShare: 0, preset: 'node', disk: false, faults: ['crash'], leaseMs: { min: 5000, max: 10_000 }, faultMs: { min: 100, max: 800 }, faultGapMs: { min: 1000, max: 3000 } },
  handoff: { acquireShare: 0, faults: ['leave'], leaseMs: { min: 5000, max: 10_000 }, faultMs: { min: 2000, max: 4000 }, faultGapMs: { min: 1000, max: 3000 } },
  'drift-beyond': { acquireShare: 0, faults: ['drift'], driftMax: 0.2, leaseMs: { min: 2000, max: 8000 }, faultGapMs: { min: 1000, max: 3000 } },
} as const satisfies Record<string, Partial<SimulationOptions>>;
/** A key of {@link scenarios}. */
export type ScenarioName = keyof typeof scenarios;

/** Runs one simulation. */
export async function simulate(options: SimulationOptions): Promise<SimulationSummary> {
  const o = {
    nodes: 5, durationMs: 60_000, faults: faultKinds, clients: 20, opsPerSecond: 10, acquireShare: 0.5, semaphores: 3, limit: 2, disk: true,
    leaseMs: { min: 200, max: 2000 }, faultMs: { min: 1000, max: 6000 }, longFaultMs: { min: 20_000, max: 120_000 },
    faultGapMs: { min: 2000, max: 8000 }, driftMax: driftMaxDefault, sampleMs: 10, ...options,
  };
  check(o);
  const preset = o.preset ?? (presets[randomInt(seededRandom(o.seed).fork('preset'), presets.length)] as Preset);
  const views = new ViewLog();
  const owners = new OwnershipSampler();
  const fifo = new FifoChecker();
  const running = (): OwnerProbe[] => [...world.hosts.values()].flatMap((h) => {
    const node = h.process;
    return node === undefined ? [] : [{ id: h.id, serves: (key: string) => node.dsm.name !== undefined && node.gossip.ownership(key).state === 'owner' }];
  });
  const world: World = new World({
    seed: o.seed, nodes: o.nodes, disk: o.disk, safety: o.safety ?? 'strict', preset,
    onView: (p, v, at) => views.adopted(p, v, at),
    onQueue: (p, e, at) => {
      if (e.type === 'waiting') fifo.waiting(p, e.id, e.holder, e.permits ?? 1);
      else fifo.ended(p, e.id, e.holder);
      void at;
    },
    onGrant: (host, g, at) => {
      fifo.granted(`${host.id}#${host.epoch}`, g.id, g.holder, at);
      const all = running();
      const granter = all.find((p) => p.id === host.id);
      if (granter !== undefined) owners.grant(granter, host.process?.gossip.view()?.number ?? 0, all, g.id, g.token, at);
    },
  });
  await world.start();
  const sems = Array.from({ length: o.semaphores }, (_, i) => `sem-${i}`);
  const sample = (): void => {
    owners.sample(running(), sems, world.clock.now());
    world.clock.setTimer(o.sampleMs, sample);
  };
  sample();
  const limits = new Map<string, number>(sems.map((s) => [s, o.limit]));
  for (const s of sems) limits.set(`${lockSemaphorePrefix}lk-${s}`, semaphoreLimitMax);
  // Create through n0 as an application would at start-up: retrying while ownership settles.
  for (const s of sems) {
    for (let attempt = 0; ; attempt++) {
      const created = await world.clock.drive((world.node('n0')?.dsm.create(s, o.limit, undefined, 2000) as Promise<void>).then(() => true, () => false));
      if (created) break;
      if (attempt >= 60) throw new Error(`could not create ${s} in 60 attempts`);
      await world.run(1000);
    }
  }
  const run: RunState = { beliefs: [], inflight: new Map(), counts: { operations: 0, granted: 0, refused: 0, failed: 0, lost: 0 } };
  const faultLog: FaultRecord[] = [];
  const stopAt = world.clock.now() + o.durationMs;
  for (let c = 0; c < o.clients; c++) client(world, world.random.fork(`client-${c}`), c, sems, o, stopAt, run);
  churn(world, world.random.fork('churn'), o, stopAt, run);
  const record = (r: FaultRecord): void => void faultLog.push(r);
  if (options.schedule === undefined) nemesis(world, world.random.fork('nemesis'), o, stopAt - 10_000, record);
  else playSchedule(world, options.schedule, stopAt - 10_000, record);
  for (let t = 0; t < o.durationMs; t += 1000) {
    await world.run(1000);
    o.onProgress?.(t + 1000);
  }
  world.heal();
  for (const h of world.hosts.values()) if (!h.alive) void world.restart(h.id);
  let converged = await world.settle(30_000);
  // A view that lost a majority of its voters for good (a wiped member of a view of two) cannot
  // decide again by design; the operator's way out is forcing them out. Convergence is then
  // required after that, and the run reports it.
  const lostQuorum = converged ? undefined : world.forceOutLostVoters();
  const forcedOut = lostQuorum?.forced ?? [];
  if (forcedOut.length > 0) converged = await world.settle(30_000);
  // Every member of the view lost for good: nothing of the cluster is left to converge (TigerBeetle's
  // simulator reports "no liveness, core replicas cannot view-change" the same way, as an outcome).
  const allLost = lostQuorum !== undefined && lostQuorum.forced.length === 0 ? `view ${lostQuorum.view.number} lost every member (${lostQuorum.lost.join(', ')}) for good` : undefined;
  await world.run(10_000); // every post still open has had its request timeouts and retries
  const violations = [...checkSafety(run.beliefs, limits), ...checkFencing(run.beliefs), ...fifo.violations, ...views.violations, ...owners.violations];
  if (!converged && allLost === undefined) {
    const views = [...world.hosts.values()].map((h) => {
      const i = h.node?.gossip.inspect();
      return `${h.id}: ${i === undefined ? 'not serving' : `view ${i.view?.number ?? '-'} [${i.view?.members.map((m) => m.id).join(',') ?? ''}]${i.serving ? ' serving' : ''}`}`;
    });
    violations.push({ class: 'convergence', at: world.clock.now(), message: `rings still disagree 30 s after the faults healed${forcedOut.length > 0 ? ` and ${forcedOut.join(', ')} were forced out` : ''} (${views.join('; ')})` });
  }
  for (const [holder, p] of run.inflight) {
    if (world.hosts.get(p.host)?.epoch !== p.epoch) run.counts.lost++;
    else violations.push({ class: 'liveness', at: p.sentAt, semaphore: p.semaphore, message: `post ${p.semaphore} ${holder} via ${p.host} sent at ${p.sentAt.toFixed(1)} never ended` });
  }
  violations.sort((a, b) => a.at - b.at);
  const faults: Record<string, number> = {};
  for (const f of faultLog) faults[f.kind] = (faults[f.kind] ?? 0) + 1;
  const clockMs = world.clock.now();
  world.stop();
  const around = storyBefore(world.trace, violations[0]);
  const trace = world.trace.join('\n') + `\ndeliveries ${world.deliveries.count} ${world.deliveries.hash}`;
  return {
    seed: o.seed, nodes: o.nodes, preset, simMs: o.durationMs, clockMs, ...run.counts, faults, faultLog, violations, converged, forcedOut, ...(allLost === undefined ? {} : { clusterLost: allLost }),
    views: { decided: views.decided, adopted: views.adoptions }, ownershipSamples: owners.samples, grantsChecked: owners.grants, queuedGrantsChecked: fifo.grants,
    frames: world.deliveries.count, traceHash: toHex(sha256(utf8(trace))).slice(0, 16), traceLines: world.trace.length,
    traceAroundViolation: around, ...(options.keepTrace === true ? { trace: world.trace } : {}),
  };
}

interface Inflight {
  readonly semaphore: string;
  readonly host: string;
  readonly epoch: number;
  readonly sentAt: number;
}

interface RunState {
  readonly beliefs: Belief[];
  /** Posts sent and not answered, by holder. */
  readonly inflight: Map<string, Inflight>;
  readonly counts: { operations: number; granted: number; refused: number; failed: number; lost: number };
}

type Resolved = Required<Omit<SimulationOptions, 'onProgress' | 'schedule' | 'keepTrace' | 'safety' | 'preset'>> & Pick<SimulationOptions, 'safety' | 'preset'>;

function check(o: Resolved): void {
  const int = (name: string, v: unknown, min: number): void => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw invalidArgument(name, v, `an integer ≥ ${min}`);
  };
  int('nodes', o.nodes, 1);
  int('durationMs', o.durationMs, 1000);
  int('clients', o.clients, 0);
  int('semaphores', o.semaphores, 1);
  int('limit', o.limit, 1);
  if (typeof o.opsPerSecond !== 'number' || !(o.opsPerSecond > 0)) throw invalidArgument('opsPerSecond', o.opsPerSecond, 'a number > 0');
  if (typeof o.acquireShare !== 'number' || !(o.acquireShare >= 0 && o.acquireShare <= 1)) throw invalidArgument('acquireShare', o.acquireShare, 'a number in [0, 1]');
  for (const f of o.faults) if (!(faultKinds as readonly string[]).includes(f)) throw invalidArgument('faults', f, `one of ${faultKinds.join(', ')}`);
  if (o.preset !== undefined && !(presets as readonly string[]).includes(o.preset)) throw invalidArgument('preset', o.preset, `one of ${presets.join(', ')}`);
  if (typeof o.driftMax !== 'number' || !(o.driftMax >= 0 && o.driftMax < 1)) throw invalidArgument('driftMax', o.driftMax, 'a number in [0, 1)');
  if (typeof o.sampleMs !== 'number' || !(o.sampleMs > 0)) throw invalidArgument('sampleMs', o.sampleMs, 'a number > 0');
  for (const [name, r] of [['leaseMs', o.leaseMs], ['faultMs', o.faultMs], ['longFaultMs', o.longFaultMs], ['faultGapMs', o.faultGapMs]] as const) {
    if (!(r.min >= 0 && r.max >= r.min && Number.isFinite(r.max))) throw invalidArgument(name, r, 'a range with 0 ≤ min ≤ max');
  }
}

function draw(random: Random, r: MsRange): number {
  return r.min + randomInt(random, r.max - r.min + 1);
}

function client(world: World, random: Random, index: number, sems: string[], o: Resolved, stopAt: number, run: RunState): void {
  let k = 0;
  const host = `n${index % world.hosts.size}`;
  const next = (): void => {
    const wait = -Math.log(1 - random.next()) * (1000 / o.opsPerSecond);
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
          const belief: Belief = { semaphore, holder, sentAt, from: now, to: sentAt + timeout * (1 + o.driftMax), token };
          run.beliefs.push(belief);
          world.log(`grant ${semaphore} ${holder} via ${host} until ${belief.to.toFixed(1)} token ${token}`);
          const hold = random.next() * Math.max(0, belief.to - now);
          world.clock.setTimer(hold, () => {
            if (world.hosts.get(host)?.epoch !== epoch) return; // the client died with its process: it believes until the lease ends
            belief.to = Math.min(belief.to, world.clock.now());
            world.log(`close ${semaphore} ${holder}`);
            world.node(host)?.dsm.closeAsync(semaphore, holder);
          });
          next();
        },
        (err: Error & { code?: string }) => {
          run.inflight.delete(holder);
          if (err.code === 'SEMAPHORE_FULL') run.counts.refused++;
          else run.counts.failed++;
          world.log(`no ${semaphore} ${holder}: ${err.code ?? 'error'}`);
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
function acquire(world: World, random: Random, a: { dsm: DSMServer; semaphore: string; holder: string; leaseMs: number; host: string; epoch: number; sentAt: number }, o: Resolved, run: RunState, next: () => void): void {
  const { semaphore, holder, host, epoch } = a;
  const permits = o.limit >= 2 && random.next() < 0.25 ? 2 : 1;
  const refresh = random.next() < 0.5;
  const timeoutMs = 500 + randomInt(random, 2501);
  const controller = new AbortController();
  const abortAt = random.next() < 0.1 ? randomInt(random, timeoutMs) : undefined;
  const holdFor = random.next();
  if (abortAt !== undefined) {
    world.clock.setTimer(abortAt, () => {
      if (world.hosts.get(host)?.epoch === epoch) controller.abort(new ClusterluckError('ABORTED', 'the client gave up'));
    });
  }
  a.dsm.acquire(semaphore, { leaseMs: a.leaseMs, timeoutMs, permits, refresh, holder, signal: controller.signal }).then(
    (lease) => {
      run.inflight.delete(holder);
      if (lease === null) throw new Error('acquire without ifAvailable answered null');
      const now = world.clock.now();
      run.counts.granted++;
      const stretch = 1 + o.driftMax;
      const belief: Belief = { semaphore, holder, sentAt: a.sentAt, from: now, to: now + lease.remainingMs() * stretch, token: lease.token, permits };
      run.beliefs.push(belief);
      world.log(`grant ${semaphore} ${holder} via ${host} until ${belief.to.toFixed(1)} token ${lease.token}${permits > 1 ? ` permits ${permits}` : ''}`);
      lease.events.addEventListener('renewed', () => {
        belief.to = Math.max(belief.to, world.clock.now() + lease.remainingMs() * stretch);
      });
      lease.signal.addEventListener('abort', () => {
        belief.to = Math.min(belief.to, world.clock.now());
        world.log(`lost ${semaphore} ${holder}: ${(lease.signal.reason as { code?: string }).code ?? 'error'}`);
      });
      const hold = holdFor * (refresh ? 2 * a.leaseMs : lease.remainingMs());
      world.clock.setTimer(hold, () => {
        if (world.hosts.get(host)?.epoch !== epoch || !lease.held) return; // died with its process, or lost: it believes no longer than the lease says
        belief.to = Math.min(belief.to, world.clock.now());
        world.log(`release ${semaphore} ${holder}`);
        void lease.release();
      });
      next();
    },
    (err: Error & { code?: string }) => {
      run.inflight.delete(holder);
      run.counts[err.code === 'TIMEOUT' || err.code === 'ABORTED' ? 'refused' : 'failed']++;
      world.log(`no ${semaphore} ${holder}: ${err.code ?? 'error'}`);
      if (err.code === 'NOT_FOUND') (world.node(host)?.dsm.create(semaphore, o.limit) as Promise<void> | undefined)?.catch(() => undefined);
      next();
    },
  );
}

/**
 * One Web Locks request of a client on lock `lk-<semaphore>` (the semaphore `locks/lk-…` with
 * n = semaphoreLimitMax, an exclusive lock taking every slot): shared or exclusive, one in ten
 * `ifAvailable`, the others aborted if not granted within 0.5–3 s; the callback holds the lock
 * for up to two leases (it renews itself). The client believes from the callback's start until
 * the callback ends or the lease says it no longer holds, bounded as for `acquire`.
 */
function lockRequest(world: World, random: Random, a: { locks: DistributedLocks; semaphore: string; holder: string; leaseMs: number; host: string; epoch: number; sentAt: number }, o: Resolved, run: RunState, next: () => void): void {
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
      if (world.hosts.get(host)?.epoch === epoch) controller.abort(new ClusterluckError('ABORTED', 'the client gave up waiting'));
    });
  }
  let granted = false;
  a.locks.request(name, { mode, leaseMs: a.leaseMs, clientId: holder, ...(ifAvailable ? { ifAvailable: true } : { signal: controller.signal }) }, async (lock) => {
    run.inflight.delete(holder);
    if (lock === null) return;
    granted = true;
    const now = world.clock.now();
    run.counts.granted++;
    const stretch = 1 + o.driftMax;
    const lease = lock.lease;
    const belief: Belief = { semaphore, holder, sentAt: a.sentAt, from: now, to: now + lease.remainingMs() * stretch, token: lock.token, permits: mode === 'exclusive' ? semaphoreLimitMax : 1 }; // what the mode means, not what the lease says
    run.beliefs.push(belief);
    world.log(`grant ${semaphore} ${holder} via ${host} until ${belief.to.toFixed(1)} token ${lock.token} ${mode}`);
    lease.events.addEventListener('renewed', () => {
      belief.to = Math.max(belief.to, world.clock.now() + lease.remainingMs() * stretch);
    });
    lock.signal.addEventListener('abort', () => {
      belief.to = Math.min(belief.to, world.clock.now());
      world.log(`lost ${semaphore} ${holder}: ${(lock.signal.reason as { code?: string }).code ?? 'error'}`);
    });
    next();
    await new Promise<void>((resolve) => world.clock.setTimer(holdFor * 2 * a.leaseMs, resolve));
    if (world.hosts.get(host)?.epoch !== epoch) return new Promise<void>(() => undefined); // died with its process: the lease says how long it believed
    // The callback ends, and request() releases the lock: whatever the lease says, the client
    // believes no longer (fuzz seed 27: a wall-clock jump had ended the lease on the client's
    // clocks, its signal had not aborted yet, and the belief outlived the release).
    belief.to = Math.min(belief.to, world.clock.now());
    world.log(`release ${semaphore} ${holder}${lease.held ? '' : ' (no longer held)'}`);
  }).then(
    () => {
      if (granted) return;
      run.counts.refused++;
      world.log(`no ${semaphore} ${holder}: not available`);
      next();
    },
    (err: Error & { code?: string }) => {
      run.inflight.delete(holder);
      if (granted) return; // a steal or a lost lease after the grant (next already ran)
      run.counts[err.code === 'ABORTED' || err.code === 'TIMEOUT' ? 'refused' : 'failed']++;
      world.log(`no ${semaphore} ${holder}: ${err.code ?? err.name}`);
      next();
    },
  );
}

/**
 * Create/destroy churn: every second or so a fresh semaphore is created through a random node, a
 * holder posts on it, and it is destroyed. Names are never reused, so its holders end with it.
 */
function churn(world: World, random: Random, o: Resolved, stopAt: number, run: RunState): void {
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
          world.log(`churn ${what} ${id} via ${host}: ${err.code ?? 'error'}`);
        });
      void step('create', dsm.create(id, 1) as Promise<void>)
        .then(() => step('post', dsm.post(id, `${id}-h`, 1000, undefined, 1000, 0) as Promise<number>))
        .then(() => step('destroy', dsm.destroy(id) as Promise<void>));
    });
  };
  next();
}

/** A seeded split of `ids` into two non-empty groups (Fisher–Yates, so the draw count is fixed); the first group. */
function split(random: Random, ids: readonly string[]): string[] {
  const shuffled = ids.slice();
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = randomInt(random, i + 1);
    [shuffled[i], shuffled[j]] = [shuffled[j] as string, shuffled[i] as string];
  }
  return shuffled.slice(0, 1 + randomInt(random, Math.max(1, ids.length - 1)));
}

/** Injects one fault now; partitions and clogs end (and crashed hosts restart) `ms` later. */
function inject(world: World, f: Omit<ScheduledFault, 'at'>): FaultRecord {
  const ids = [...world.hosts.keys()];
  const side = f.nodes.filter((id) => world.hosts.has(id));
  const victim = side[0] ?? (ids[0] as string);
  let target = victim;
  if (f.kind === 'partition' || f.kind === 'long-partition' || f.kind === 'one-way') {
    const other = ids.filter((id) => !side.includes(id));
    target = `${side.join(',')}|${other.join(',')}`;
    if (side.length > 0 && other.length > 0) {
      if (f.kind !== 'one-way') world.partition(side, other);
      else world.partitionOneWay(side, other);
      world.clock.setTimer(f.ms, () => world.heal());
    }
  } else if (f.kind === 'clog') {
    world.clog(victim, f.ms);
  } else if (f.kind === 'crash' || f.kind === 'wipe') {
    if (f.kind === 'crash') world.crash(victim);
    else world.wipe(victim);
    world.clock.setTimer(f.ms, () => void world.restart(victim));
  } else if (f.kind === 'leave') {
    void world.leave(victim);
    world.clock.setTimer(f.ms, () => void world.restart(victim));
  } else if (f.kind === 'join') {
    target = world.hosts.size < world.options.nodes + joinsMax ? world.join() : 'none';
  } else if (f.kind === 'remove') {
    if (world.remove(victim)) world.clock.setTimer(f.ms, () => world.insert(victim));
  } else if (f.kind === 'pause') {
    world.pause(victim, f.ms);
  } else if (f.kind === 'drift') {
    world.drift(victim, f.amount ?? 1);
  } else {
    world.jumpWall(victim, f.amount ?? 0);
  }
  return { at: world.clock.now(), kind: f.kind, target };
}

function nemesis(world: World, random: Random, o: Resolved, until: number, record: (r: FaultRecord) => void): void {
  const kinds = o.faults;
  if (kinds.length === 0) return;
  const act = (): void => {
    if (world.clock.now() >= until) return;
    const ids = [...world.hosts.keys()]; // machines that joined are victims too
    const kind = kinds[randomInt(random, kinds.length)] as FaultKind;
    const victim = ids[randomInt(random, ids.length)] as string;
    const ms = draw(random, kind === 'long-partition' ? o.longFaultMs : o.faultMs);
    const nodes = kind === 'partition' || kind === 'long-partition' || kind === 'one-way' ? split(random, ids) : [victim];
    // A rate within [1/(1+ρ), 1+ρ] of real time, as the product assumes of every clock.
    const amount = kind === 'drift' ? (1 + o.driftMax) ** (2 * random.next() - 1) : kind === 'jump' ? randomInt(random, 20_001) - 10_000 : undefined;
    record(inject(world, { kind, nodes, ms, ...(amount === undefined ? {} : { amount }) }));
    world.clock.setTimer(draw(random, o.faultGapMs), act);
  };
  world.clock.setTimer(3000, act);
}

/** Plays an explicit fault schedule (what fast-check generates and shrinks) instead of the seeded nemesis. */
function playSchedule(world: World, schedule: readonly ScheduledFault[], until: number, record: (r: FaultRecord) => void): void {
  const start = world.clock.now();
  for (const f of schedule) {
    if (start + f.at >= until) continue;
    world.clock.setTimer(f.at, () => record(inject(world, f)));
  }
}

/** Faults that stay in force once injected (a drifting clock keeps drifting, a jumped clock stays off). */
const lasting: readonly FaultKind[] = ['drift', 'jump'];

/** Suspected causes, most telling first: the first one among the faults in force names a violation's class. */
const causes: readonly (readonly [string, readonly FaultKind[]])[] = [
  ['handoff', ['leave', 'remove', 'join']],
  ['clock drift', ['drift']],
  ['crash', ['crash', 'wipe']],
  ['partition', ['partition', 'long-partition', 'one-way']],
  ['clog', ['clog']],
  ['pause', ['pause']],
  ['wall-clock jump', ['jump']],
];

/**
 * The violation classes of a run, one key per distinct kind: the checker's class and the suspected
 * cause, the most telling of the faults in force when it was seen (those injected in the 10 s
 * before it, and drift or jumps injected at any time before): `safety: handoff`,
 * `safety: clock drift`, … or `safety: no fault`.
 */
export function violationKeys(summary: Pick<SimulationSummary, 'violations' | 'faultLog'>): string[] {
  const keys = new Set<string>();
  for (const v of summary.violations) {
    const inForce = new Set(summary.faultLog.filter((f) => f.at <= v.at && (f.at >= v.at - 10_000 || lasting.includes(f.kind))).map((f) => f.kind));
    const cause = causes.find(([, kinds]) => kinds.some((k) => inForce.has(k)))?.[0] ?? 'no fault';
    keys.add(`${v.class}: ${cause}`);
  }
  return [...keys].sort();
}

const faultLine = /^[\d.]+ (crash|wipe|restart|up|boot-failed|leave|exit|remove|insert|join|pause|resume|drift|jump|partition|partition-one-way|isolate|heal|clog|reset|break) /;

/** The trace lines that tell a violation's story: its semaphore's grants, closes and failures (not plain refusals), and every fault. */
function storyBefore(trace: readonly string[], v: Violation | undefined): string[] {
  if (v === undefined) return [];
  const mentions = v.semaphore === undefined ? undefined : ` ${v.semaphore} `;
  return trace.filter((l) => {
    const t = Number(l.slice(0, l.indexOf(' ')));
    if (t > v.at || t < v.at - 5000) return false;
    return faultLine.test(l) || mentions === undefined || (l.includes(mentions) && !l.endsWith('SEMAPHORE_FULL'));
  }).slice(-80);
}
