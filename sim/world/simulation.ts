// One seeded run: a world, its clients (workload.ts: post/close, acquire/release and lock
// requests on a few semaphores), a nemesis injecting the chosen faults on a schedule drawn from
// the seed (faults.ts), then the checkers. Deterministic per seed.
import { sha256 } from '@noble/hashes/sha2.js';
import { toHex, utf8 } from '../../lib/env/bytes.js';
import { invalidArgument } from '../../lib/env/errors.js';
import { lockSemaphorePrefix } from '../../lib/dsm/locks.js';
import { randomInt } from '../../lib/env/random.js';
import { driftMaxDefault, semaphoreLimitMax } from '../../lib/constants.js';
import { checkFencing, checkSafety, type Violation } from '../checkers/checker.js';
import { BeliefLog, LiveSafety } from '../checkers/belief-log.js';
import { isFaultStory, semaphoreOf, type SimEvent, type SimEventListener } from './sim-event.js';
import { OwnershipSampler, ViewLog, type OwnerProbe } from '../checkers/view-checker.js';
import { FifoChecker } from '../checkers/fifo-checker.js';
import { seededRandom, type SeededRandom } from './seeded-random.js';
import { presets, World, type Preset } from './world.js';
import type { ClusterNode } from '../../lib/cluster/cluster-node.js';
import { faultKinds, nemesis, playSchedule, type FaultKind, type FaultRecord, type MsRange, type ScheduledFault } from './faults.js';
import { churn, client, type RunState } from './workload.js';

export { faultKinds, violationKeys, type FaultKind, type FaultRecord, type MsRange, type ScheduledFault } from './faults.js';

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
  /** Faults played on top of the nemesis's (or the schedule's): what a user injects, replayable with `--inject`. */
  readonly inject?: readonly ScheduledFault[];
  /** Called every simulated second of the workload; a returned promise is awaited (a page yields to draw). */
  readonly onProgress?: (simMs: number) => void | Promise<void>;
  /** Receives every event of the run, in order (see {@link SimEvent}). */
  readonly onEvent?: SimEventListener;
  /** Your own invariants, called at every step (every `sampleMs`) with the world; each distinct message found is a violation of class `invariant`. */
  readonly invariants?: readonly Invariant[];
  /** Your own clients, started with the built-in ones (set `clients: 0` for yours alone). */
  readonly workload?: UserWorkload;
  /** Ends the run early: it rejects with the signal's reason at the next simulated second. */
  readonly signal?: AbortSignal;
  /** Simulated ms between two ownership samples. @default 10 */
  readonly sampleMs?: number;
}

/** What a user's invariant is given at every step. */
export interface InvariantContext {
  readonly world: World;
  /** Virtual time, ms. */
  readonly now: number;
  /** The semaphores the built-in clients use. */
  readonly semaphores: readonly string[];
  /** Each semaphore's limit n (locks included). */
  readonly limits: ReadonlyMap<string, number>;
}

/** A user's invariant: what is wrong with the world now (nothing: an empty list). */
export type Invariant = (context: InvariantContext) => readonly { readonly message: string; readonly semaphore?: string }[];

/** What a user's workload is given, once the cluster is up and the semaphores exist. */
export interface WorkloadContext {
  readonly world: World;
  /** A stream of its own (forked from the seed), so the built-in clients' draws stay the same. */
  readonly random: SeededRandom;
  readonly semaphores: readonly string[];
  /** Virtual time at which the workload should stop. */
  readonly stopAt: number;
}

/**
 * A user's clients: they call `world.node(id)?.dsm` (post, acquire) or `.locks`, on
 * `world.clock`'s timers, and report what they believe they hold with `world.emit` `grant`,
 * `renew` and `release` events, which the safety and fencing checkers judge with the rest.
 */
export type UserWorkload = (context: WorkloadContext) => void;

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
  const beliefs = new BeliefLog();
  // One probe per node, made when first seen: the sampler asks for the running ones every step.
  const probes = new WeakMap<ClusterNode, OwnerProbe>();
  const running = (): OwnerProbe[] => {
    const out: OwnerProbe[] = [];
    for (const h of world.hosts.values()) {
      const node = h.process;
      if (node === undefined) continue;
      let probe = probes.get(node);
      if (probe === undefined) {
        probe = { id: h.id, serves: (key: string) => node.dsm.name !== undefined && node.gossip.ownership(key).state === 'owner' };
        probes.set(node, probe);
      }
      out.push(probe);
    }
    return out;
  };
  const world: World = new World({ seed: o.seed, nodes: o.nodes, disk: o.disk, safety: o.safety ?? 'strict', preset });
  // The checkers read the run's events, as any listener does.
  world.listen((e) => {
    beliefs.onEvent(e);
    if (e.type === 'view') views.adopted(e.process, e.view, e.at);
    else if (e.type === 'owner' && e.what === 'waiting') fifo.waiting(e.process, e.semaphore, e.holder, e.permits ?? 1);
    else if (e.type === 'owner' && e.what === 'wait-ended') fifo.ended(e.process, e.semaphore, e.holder);
    else if (e.type === 'owner') {
      fifo.granted(e.process, e.semaphore, e.holder, e.at);
      const all = running();
      const granter = all.find((p) => p.id === e.host);
      const host = world.hosts.get(e.host);
      if (granter !== undefined) owners.grant(granter, host?.process?.gossip.view()?.number ?? 0, all, e.semaphore, e.token ?? 0, e.at);
    }
  });
  if (options.onEvent !== undefined) world.listen(options.onEvent);
  await world.start();
  const sems = Array.from({ length: o.semaphores }, (_, i) => `sem-${i}`);
  const limits = new Map<string, number>(sems.map((s) => [s, o.limit]));
  for (const s of sems) limits.set(`${lockSemaphorePrefix}lk-${s}`, semaphoreLimitMax);
  const live = new LiveSafety(beliefs, limits);
  const found = new Set<string>();
  const invariantViolations: Violation[] = [];
  const sample = (): void => {
    const now = world.clock.now();
    owners.sample(running(), sems, now);
    for (const v of live.check(now)) {
      live.told(v);
      world.emit({ type: 'violation', at: v.at, violation: v });
    }
    for (const invariant of o.invariants ?? []) {
      for (const f of invariant({ world, now, semaphores: sems, limits })) {
        if (found.has(f.message)) continue;
        found.add(f.message);
        const v: Violation = { class: 'invariant', at: now, message: f.message, ...(f.semaphore === undefined ? {} : { semaphore: f.semaphore }) };
        invariantViolations.push(v);
        live.told(v);
        world.emit({ type: 'violation', at: now, violation: v });
      }
    }
    world.clock.setProbe(o.sampleMs, sample);
  };
  sample();
  // Create through n0 as an application would at start-up: retrying while ownership settles.
  for (const s of sems) {
    for (let attempt = 0; ; attempt++) {
      const created = await world.clock.drive((world.node('n0')?.dsm.create(s, o.limit, undefined, 2000) as Promise<void>).then(() => true, () => false));
      if (created) break;
      if (attempt >= 60) throw new Error(`could not create ${s} in 60 attempts`);
      await world.run(1000);
    }
  }
  const run: RunState = { inflight: new Map(), counts: { operations: 0, granted: 0, refused: 0, failed: 0, lost: 0 } };
  const faultLog: FaultRecord[] = [];
  const stopAt = world.clock.now() + o.durationMs;
  world.emit({ type: 'run', at: world.clock.now(), phase: 'workload' });
  for (let c = 0; c < o.clients; c++) client(world, world.random.fork(`client-${c}`), c, sems, o, stopAt, run);
  churn(world, world.random.fork('churn'), o, stopAt, run);
  o.workload?.({ world, random: world.random.fork('workload'), semaphores: sems, stopAt });
  const record = (r: FaultRecord): void => void faultLog.push(r);
  if (options.schedule === undefined) nemesis(world, world.random.fork('nemesis'), o, stopAt - 10_000, record);
  else playSchedule(world, options.schedule, stopAt - 10_000, record);
  if (options.inject !== undefined) playSchedule(world, options.inject, stopAt - 10_000, record);
  for (let t = 0; t < o.durationMs; t += 1000) {
    if (o.signal?.aborted === true) throw o.signal.reason;
    await world.run(1000);
    const paced = o.onProgress?.(t + 1000);
    if (paced !== undefined) await paced;
  }
  world.emit({ type: 'run', at: world.clock.now(), phase: 'healing' });
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
  const violations = [...checkSafety(beliefs.beliefs, limits), ...checkFencing(beliefs.beliefs), ...fifo.violations, ...views.violations, ...owners.violations, ...invariantViolations];
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
  // Found at the end (not live): told now, at the instant they were found.
  for (const v of violations) if (!live.reported(v)) world.emit({ type: 'violation', at: world.clock.now(), violation: v });
  world.emit({ type: 'run', at: world.clock.now(), phase: 'end' });
  const faults: Record<string, number> = {};
  for (const f of faultLog) faults[f.kind] = (faults[f.kind] ?? 0) + 1;
  const clockMs = world.clock.now();
  world.stop();
  const around = storyBefore(world.trace, world.traced, violations[0]);
  const trace = world.trace.join('\n') + `\ndeliveries ${world.deliveries.count} ${world.deliveries.hash}`;
  return {
    seed: o.seed, nodes: o.nodes, preset, simMs: o.durationMs, clockMs, ...run.counts, faults, faultLog, violations, converged, forcedOut, ...(allLost === undefined ? {} : { clusterLost: allLost }),
    views: { decided: views.decided, adopted: views.adoptions }, ownershipSamples: owners.samples, grantsChecked: owners.grants, queuedGrantsChecked: fifo.grants,
    frames: world.deliveries.count, traceHash: toHex(sha256(utf8(trace))).slice(0, 16), traceLines: world.trace.length,
    traceAroundViolation: around, ...(options.keepTrace === true ? { trace: world.trace } : {}),
  };
}

type Resolved = Required<Omit<SimulationOptions, 'onProgress' | 'schedule' | 'keepTrace' | 'safety' | 'preset' | 'inject' | 'onEvent' | 'invariants' | 'workload' | 'signal'>> & Pick<SimulationOptions, 'safety' | 'preset' | 'invariants' | 'workload' | 'signal'>;

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

/** The trace lines that tell a violation's story: its semaphore's grants, closes and failures (not plain refusals), and every fault. */
function storyBefore(trace: readonly string[], events: readonly SimEvent[], v: Violation | undefined): string[] {
  if (v === undefined) return [];
  return trace.filter((_, i) => {
    const e = events[i] as SimEvent;
    if (e.at > v.at || e.at < v.at - 5000) return false;
    if (isFaultStory(e) || v.semaphore === undefined) return true;
    return semaphoreOf(e) === v.semaphore && !(e.type === 'refuse' && e.reason === 'SEMAPHORE_FULL');
  }).slice(-80);
}
