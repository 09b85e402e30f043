// One seeded run: a world, clients doing post/close on a few semaphores, a nemesis injecting the
// chosen faults on a schedule drawn from the seed, then the checkers. Deterministic per seed.
import { sha256 } from '@noble/hashes/sha2.js';
import { toHex, utf8 } from '../lib/env/bytes.js';
import { randomInt } from '../lib/env/random.js';
import type { Random } from '../lib/env/random.js';
import { checkSafety, type Belief, type Violation } from './checker.js';
import { World } from './world.js';

/** Faults the nemesis can inject. */
export const faultKinds = ['partition', 'crash', 'pause', 'drift'] as const;
/** One of {@link faultKinds}. */
export type FaultKind = (typeof faultKinds)[number];

/** Options of {@link simulate}. */
export interface SimulationOptions {
  readonly seed: string;
  /** @default 5 */
  readonly nodes?: number;
  /** Simulated run length, ms (faults stop 10 s before the end, so the cluster can heal). @default 60000 */
  readonly durationMs?: number;
  /** @default faultKinds (all) */
  readonly faults?: readonly FaultKind[];
  /** @default 20 */
  readonly clients?: number;
  /** Operations per second per client. @default 10 */
  readonly opsPerSecond?: number;
  /** Semaphores the clients share, each with limit 2. @default 3 */
  readonly semaphores?: number;
  /** Persist semaphores. Off reproduces Clusterluck's amnesia on restart. @default true */
  readonly disk?: boolean;
  /** Gossip auto-remove of down members, ms. @default undefined (off) */
  readonly autoRemoveAfterMs?: number;
  /** Called every simulated second. */
  readonly onProgress?: (simMs: number) => void;
}

/** What a run did and found. */
export interface SimulationSummary {
  readonly seed: string;
  readonly simMs: number;
  readonly operations: number;
  readonly granted: number;
  readonly refused: number;
  readonly failed: number;
  readonly faults: Record<string, number>;
  readonly violations: Violation[];
  readonly converged: boolean;
  readonly traceHash: string;
  /** The trace lines just before the first violation (empty when there is none). */
  readonly traceAroundViolation: string[];
}

const limit = 2;

/** Runs one simulation. */
export async function simulate(options: SimulationOptions): Promise<SimulationSummary> {
  const o = { nodes: 5, durationMs: 60_000, faults: faultKinds, clients: 20, opsPerSecond: 10, semaphores: 3, disk: true, ...options };
  const world = new World({ seed: o.seed, nodes: o.nodes, disk: o.disk, ...(o.autoRemoveAfterMs === undefined ? {} : { autoRemoveAfterMs: o.autoRemoveAfterMs }) });
  await world.start();
  const sems = Array.from({ length: o.semaphores }, (_, i) => `sem-${i}`);
  const limits = new Map(sems.map((s) => [s, limit]));
  const first = world.node('n0');
  for (const s of sems) await drive(world, first?.dsm.create(s, limit) as Promise<void>);
  const beliefs: Belief[] = [];
  const counts = { operations: 0, granted: 0, refused: 0, failed: 0 };
  const faults: Record<string, number> = {};
  const stopAt = world.clock.now() + o.durationMs;
  const faultsUntil = stopAt - 10_000;
  for (let c = 0; c < o.clients; c++) client(world, world.random.fork(`client-${c}`), c, sems, o.opsPerSecond, stopAt, beliefs, counts);
  nemesis(world, world.random.fork('nemesis'), o.faults, faultsUntil, faults);
  for (let t = 0; t < o.durationMs; t += 1000) {
    await world.run(1000);
    o.onProgress?.(t + 1000);
  }
  world.heal();
  for (const h of world.hosts.values()) if (h.node === undefined) await world.restart(h.id);
  const converged = await world.settle(30_000);
  await world.stop();
  const violations = checkSafety(beliefs, limits);
  const firstAt = violations[0]?.at;
  const around = firstAt === undefined ? [] : world.trace.filter((l) => {
    const t = Number(l.split(' ')[0]);
    return t <= firstAt && t >= firstAt - 2000;
  }).slice(-40);
  return {
    seed: o.seed, simMs: o.durationMs, ...counts, faults, violations, converged,
    traceHash: toHex(sha256(utf8(world.trace.join('\n')))).slice(0, 16), traceAroundViolation: around,
  };
}

/** Advances the world until `p` settles. */
async function drive<T>(world: World, p: Promise<T>): Promise<T> {
  let done = false;
  const watched = p.finally(() => (done = true));
  watched.catch(() => undefined);
  while (!done) await world.clock.advance(5);
  return watched;
}

function client(world: World, random: Random, index: number, sems: string[], opsPerSecond: number, stopAt: number,
  beliefs: Belief[], counts: { operations: number; granted: number; refused: number; failed: number }): void {
  let k = 0;
  const next = (): void => {
    const wait = -Math.log(1 - random.next()) * (1000 / opsPerSecond);
    world.clock.setTimer(wait, () => {
      if (world.clock.now() >= stopAt) return;
      const host = `n${index % world.hosts.size}`;
      const dsm = world.node(host)?.dsm;
      if (dsm === undefined) return next();
      const semaphore = sems[randomInt(random, sems.length)] as string;
      const holder = `c${index}-${k++}`;
      const timeout = 200 + randomInt(random, 1800);
      const sentAt = world.clock.now();
      counts.operations++;
      (dsm.post(semaphore, holder, timeout, undefined, 1000, 3) as Promise<void>).then(
        () => {
          const now = world.clock.now();
          counts.granted++;
          const belief: Belief = { semaphore, holder, from: now, to: sentAt + timeout };
          beliefs.push(belief);
          world.log(`grant ${semaphore} ${holder} via ${host} until ${belief.to.toFixed(1)}`);
          const hold = random.next() * Math.max(0, belief.to - now);
          world.clock.setTimer(hold, () => {
            belief.to = Math.min(belief.to, world.clock.now());
            world.log(`close ${semaphore} ${holder}`);
            world.node(host)?.dsm.closeAsync(semaphore, holder);
          });
          next();
        },
        (err: Error & { code?: string }) => {
          if (err.code === 'SEMAPHORE_FULL') counts.refused++;
          else counts.failed++;
          world.log(`no ${semaphore} ${holder}: ${err.code ?? 'error'}`);
          next();
        },
      );
    });
  };
  next();
}

function nemesis(world: World, random: Random, kinds: readonly FaultKind[], until: number, faults: Record<string, number>): void {
  if (kinds.length === 0) return;
  const ids = [...world.hosts.keys()];
  const act = (): void => {
    if (world.clock.now() >= until) return;
    const kind = kinds[randomInt(random, kinds.length)] as FaultKind;
    faults[kind] = (faults[kind] ?? 0) + 1;
    const victim = ids[randomInt(random, ids.length)] as string;
    const lasting = 1000 + randomInt(random, 5000);
    if (kind === 'partition') {
      const shuffled = ids.slice().sort(() => random.next() - 0.5);
      const cut = 1 + randomInt(random, ids.length - 1);
      world.partition([shuffled.slice(0, cut), shuffled.slice(cut)]);
      world.clock.setTimer(lasting, () => world.heal());
    } else if (kind === 'crash') {
      world.crash(victim);
      world.clock.setTimer(lasting, () => void world.restart(victim));
    } else if (kind === 'pause') {
      world.pause(victim, lasting);
    } else {
      world.drift(victim, 0.95 + random.next() * 0.1);
    }
    world.clock.setTimer(2000 + randomInt(random, 6000), act);
  };
  world.clock.setTimer(3000, act);
}
