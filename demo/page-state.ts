// The page's state, all of it in the URL: a link replays the same run, the same injected faults,
// and opens at the same simulated instant.
import { replayCommand, type RunOptions } from '../sim/cli/replay-command.js';
import { faultKinds, type FaultKind, type ScheduledFault } from '../sim/world/faults.js';
import { formatInjection, parseInjection } from '../sim/world/inject-text.js';
import { scenarios, type ScenarioName, type SimulationOptions } from '../sim/world/simulation.js';

/** What the page runs and shows. */
export interface PageState {
  readonly seed: string;
  readonly nodes: number;
  readonly clients: number;
  readonly durationS: number;
  readonly scenario: ScenarioName;
  /** Undefined: the scenario's (all for the default world). */
  readonly faults: readonly FaultKind[] | undefined;
  readonly clusterluck: boolean;
  readonly inject: readonly ScheduledFault[];
  /** Simulated ms the view opens at (a violation's link), if any. */
  readonly t: number | undefined;
  /** Simulated seconds per real second; 0: as fast as it goes. */
  readonly speed: number;
}

const int = (text: string | null, fallback: number, min: number, max: number): number => {
  const n = Number(text);
  return text === null || text === '' || !Number.isInteger(n) ? fallback : Math.min(max, Math.max(min, n));
};

/** Reads a `location.search`; bad values fall back to defaults. */
export function readState(search: string): PageState {
  const q = new URLSearchParams(search);
  const scenario = (q.get('scenario') ?? 'default') in scenarios ? (q.get('scenario') ?? 'default') as ScenarioName : 'default';
  const faultsText = q.get('faults');
  const faults = faultsText === null ? undefined : faultsText === 'none' ? [] : faultsText.split(',').filter((f): f is FaultKind => (faultKinds as readonly string[]).includes(f));
  let inject: ScheduledFault[] = [];
  try {
    inject = parseInjection(q.get('inject') ?? '');
  } catch {
    inject = [];
  }
  const t = Number(q.get('t'));
  const speed = Number(q.get('speed') ?? '5');
  return {
    seed: q.get('seed') ?? '1', nodes: int(q.get('nodes'), 5, 1, 9), clients: int(q.get('clients'), 20, 0, 60),
    durationS: int(q.get('duration'), 60, 5, 300), scenario, faults, clusterluck: q.get('clusterluck') === '1', inject,
    t: q.has('t') && Number.isFinite(t) && t >= 0 ? t : undefined, speed: Number.isFinite(speed) && speed >= 0 ? speed : 5,
  };
}

/** The query string of a state. */
export function writeState(s: PageState): string {
  const q = new URLSearchParams({ seed: s.seed, nodes: String(s.nodes), clients: String(s.clients), duration: String(s.durationS) });
  if (s.scenario !== 'default') q.set('scenario', s.scenario);
  if (s.faults !== undefined) q.set('faults', s.faults.length === 0 ? 'none' : s.faults.join(','));
  if (s.clusterluck) q.set('clusterluck', '1');
  if (s.inject.length > 0) q.set('inject', formatInjection(s.inject));
  q.set('speed', String(s.speed));
  if (s.t !== undefined) q.set('t', String(Math.round(s.t)));
  return `?${q.toString()}`;
}

/** The run options of a state, as `npm run sim` would build them (so the replay line is the same run). */
export function runOptionsOf(s: PageState): RunOptions {
  const base: Partial<SimulationOptions> = scenarios[s.scenario];
  return {
    ...base, scenario: s.scenario, nodes: s.nodes, clients: s.clients, durationMs: s.durationS * 1000,
    ...(s.faults === undefined ? {} : { faults: s.faults }),
    ...(s.clusterluck ? { safety: 'clusterluck' as const } : {}),
    ...(s.inject.length > 0 ? { inject: s.inject } : {}),
  };
}

/** The simulate() options of a state. */
export function simulationOptionsOf(s: PageState): SimulationOptions {
  const { scenario: _scenario, ...o } = runOptionsOf(s);
  return { ...o, seed: s.seed };
}

/** The one line that replays this run in a terminal. */
export function replayLine(s: PageState): string {
  return replayCommand(s.seed, runOptionsOf(s));
}
