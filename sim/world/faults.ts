// The nemesis: the faults a run can inject, drawn from the seed or played from an explicit
// schedule, and how a violation is named after the faults in force when it was seen.
import { randomInt, type Random } from '../../lib/env/random.js';
import type { Violation } from '../checkers/checker.js';
import type { World } from './world.js';

/** At most this many machines join during a run, beyond the first `nodes`. */
const joinsMax = 2;

import type { FaultKind } from './fault-kinds.js';
import { detPow } from '../../lib/core/det-math.js';

export { faultKinds, type FaultKind } from './fault-kinds.js';

/** A range of simulated milliseconds, drawn uniformly. */
export interface MsRange {
  readonly min: number;
  readonly max: number;
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

/** What the nemesis draws from. */
export interface NemesisOptions {
  readonly faults: readonly FaultKind[];
  readonly faultMs: MsRange;
  readonly longFaultMs: MsRange;
  readonly faultGapMs: MsRange;
  readonly driftMax: number;
}

/** A draw from `r`, uniform over its whole milliseconds. */
export function draw(random: Random, r: MsRange): number {
  return r.min + randomInt(random, r.max - r.min + 1);
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
      world.clock.setTimer(f.ms, () => {
        ended(world, f.kind, target);
        world.heal();
      });
    }
  } else if (f.kind === 'clog') {
    world.clog(victim, f.ms);
  } else if (f.kind === 'crash' || f.kind === 'wipe') {
    if (f.kind === 'crash') world.crash(victim);
    else world.wipe(victim);
    world.clock.setTimer(f.ms, () => {
      ended(world, f.kind, target);
      void world.restart(victim);
    });
  } else if (f.kind === 'leave') {
    void world.leave(victim);
    world.clock.setTimer(f.ms, () => {
      ended(world, f.kind, target);
      void world.restart(victim);
    });
  } else if (f.kind === 'join') {
    target = world.hosts.size < world.options.nodes + joinsMax ? world.join() : 'none';
  } else if (f.kind === 'remove') {
    if (world.remove(victim)) {
      world.clock.setTimer(f.ms, () => {
        ended(world, f.kind, target);
        world.insert(victim);
      });
    }
  } else if (f.kind === 'pause') {
    world.pause(victim, f.ms);
  } else if (f.kind === 'drift') {
    world.drift(victim, f.amount ?? 1);
  } else {
    world.jumpWall(victim, f.amount ?? 0);
  }
  world.emit({ type: 'fault', at: world.clock.now(), phase: 'begin', kind: f.kind, target, ms: f.ms });
  return { at: world.clock.now(), kind: f.kind, target };
}

function ended(world: World, kind: FaultKind, target: string): void {
  world.emit({ type: 'fault', at: world.clock.now(), phase: 'end', kind, target });
}

export function nemesis(world: World, random: Random, o: NemesisOptions, until: number, record: (r: FaultRecord) => void): void {
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
    const amount = kind === 'drift' ? detPow(1 + o.driftMax, 2 * random.next() - 1) : kind === 'jump' ? randomInt(random, 20_001) - 10_000 : undefined;
    record(inject(world, { kind, nodes, ms, ...(amount === undefined ? {} : { amount }) }));
    world.clock.setTimer(draw(random, o.faultGapMs), act);
  };
  world.clock.setTimer(3000, act);
}

/** Plays an explicit fault schedule (what fast-check generates and shrinks) instead of the seeded nemesis. */
export function playSchedule(world: World, schedule: readonly ScheduledFault[], until: number, record: (r: FaultRecord) => void): void {
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
export function violationKeys(summary: { readonly violations: readonly Violation[]; readonly faultLog: readonly FaultRecord[] }): string[] {
  const keys = new Set<string>();
  for (const v of summary.violations) {
    const inForce = new Set(summary.faultLog.filter((f) => f.at <= v.at && (f.at >= v.at - 10_000 || lasting.includes(f.kind))).map((f) => f.kind));
    const cause = causes.find(([, kinds]) => kinds.some((k) => inForce.has(k)))?.[0] ?? 'no fault';
    keys.add(`${v.class}: ${cause}`);
  }
  return [...keys].sort();
}
