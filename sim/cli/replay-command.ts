// The one-line command that replays a run: printed by `npm run sim` and `npm run fuzz`, and
// offered by the demo page (so this file stays free of Node).
import { scenarios, type ScenarioName, type SimulationOptions } from '../world/simulation.js';
import { formatInjection } from '../world/inject-text.js';

/** Options of one run, without the seed. */
export type RunOptions = Omit<SimulationOptions, 'seed' | 'onProgress' | 'schedule' | 'onEvent' | 'invariants' | 'workload' | 'signal'> & { readonly scenario: ScenarioName };

/** The one command that replays `seed` with these options. */
export function replayCommand(seed: string, o: RunOptions): string {
  const parts = ['npm run sim --', '--seed', /^[\w.-]+$/.test(seed) ? seed : JSON.stringify(seed)];
  if (o.scenario !== 'default') parts.push('--scenario', o.scenario);
  if (o.nodes !== undefined) parts.push('--nodes', String(o.nodes));
  if (o.clients !== undefined) parts.push('--clients', String(o.clients));
  if (o.acquireShare !== undefined && o.acquireShare !== (scenarios[o.scenario] as Partial<SimulationOptions>).acquireShare) parts.push('--acquire-share', String(o.acquireShare));
  if (o.durationMs !== undefined) parts.push('--duration', `${o.durationMs / 1000}s`);
  if (o.preset !== undefined && o.preset !== (scenarios[o.scenario] as Partial<SimulationOptions>).preset) parts.push('--preset', o.preset);
  const scenarioFaults = (scenarios[o.scenario] as Partial<SimulationOptions>).faults;
  if (o.faults !== undefined && o.faults !== scenarioFaults) parts.push('--faults', o.faults.length === 0 ? 'none' : o.faults.join(','));
  if (o.disk === false && (scenarios[o.scenario] as Partial<SimulationOptions>).disk !== false) parts.push('--no-disk');
  if (o.safety === 'clusterluck') parts.push('--clusterluck');
  if (o.inject !== undefined && o.inject.length > 0) parts.push('--inject', formatInjection(o.inject));
  return parts.join(' ');
}

