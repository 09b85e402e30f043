// Command-line options shared by `npm run sim` and `npm run fuzz`: one parser, one replay line.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { faultKinds, scenarios, type FaultKind, type ScenarioName, type SimulationOptions } from '../world/simulation.js';
import { parseInjection } from '../world/inject-text.js';
import type { RunOptions } from './replay-command.js';
import { presets, type Preset } from '../world/world.js';

/** A bad command line: printed with a hint, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export { replayCommand, type RunOptions } from './replay-command.js';

/** The run options both commands take, for parseArgs. */
export const runOptionSpec = {
  scenario: { type: 'string' },
  nodes: { type: 'string' },
  duration: { type: 'string' },
  faults: { type: 'string' },
  clients: { type: 'string' },
  'acquire-share': { type: 'string' },
  preset: { type: 'string' },
  'no-disk': { type: 'boolean' },
  clusterluck: { type: 'boolean' },
  inject: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

/** Help text of the run options. */
export const runOptionHelp = `  --scenario NAME    ${Object.keys(scenarios).join(' | ')} (default: default). Clusterluck's known
                     weaknesses: amnesia = no disk, owners crash and restart at once under long
                     leases; handoff = nodes leave and rejoin, ownership moves without holders
  --nodes N          nodes in the cluster (default 5)
  --duration D       simulated run length: 60s, 90000ms, 2m (default 60s)
  --faults LIST      comma-separated, from: ${faultKinds.join(',')}; "none" for no faults
                     (default: all, or the scenario's)
  --clients N        clients, about 10 operations per second each (default 20)
  --acquire-share X  the share of operations that are acquire leases (permits, refresh, aborts,
                     timeouts), the rest being post/close; 0 to 1 (default 0.5; the Clusterluck
                     scenarios: 0)
  --preset P         node | browser | any: the processes are createCluster members (a restart keeps
                     its id and data directory) or createBrowserNode tabs (a page load takes the id
                     kept in its IndexedDB database; a wiped one gets a new id), with their shipped
                     defaults; any draws one from the seed (default: any)
  --no-disk          no DTable persistence (a restarted owner forgets its holders)
  --clusterluck      Clusterluck mode: no handoff, no lock-delay, no drift bound, grants acknowledged
                     before they are synced (safety: 'clusterluck'), to see what those rules buy
  --inject FAULTS    faults played on top of the drawn ones, as the demo page writes them:
                     kind@atMs:node,node:ms[:amount] joined by +, e.g. crash@12000:n2:5000
  -h, --help         this text`;

/** Parses `60s`, `90000ms`, `2m` or a bare number of seconds into ms. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (m === null) throw new UsageError(`--duration must look like 60s, 90000ms or 2m, got ${JSON.stringify(text)}`);
  const n = Number(m[1]);
  const ms = m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000;
  if (ms < 1000) throw new UsageError('--duration must be at least 1s');
  return Math.round(ms);
}

/** An integer option's value, at least `min` (UsageError otherwise). */
export function intArg(name: string, text: string, min: number): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`--${name} must be an integer ≥ ${min}, got ${JSON.stringify(text)}`);
  return n;
}

/** Turns parsed values into run options. */
export function runOptions(values: { [K in keyof typeof runOptionSpec]?: string | boolean | undefined }): RunOptions {
  const scenario = (values.scenario ?? 'default') as string;
  if (!(scenario in scenarios)) throw new UsageError(`--scenario must be one of ${Object.keys(scenarios).join(', ')}, got ${JSON.stringify(scenario)}`);
  const base: Partial<SimulationOptions> = scenarios[scenario as ScenarioName];
  let faults: readonly FaultKind[] | undefined;
  if (typeof values.faults === 'string') {
    const list = values.faults === 'none' ? [] : values.faults.split(',').map((f) => f.trim()).filter((f) => f !== '');
    for (const f of list) if (!(faultKinds as readonly string[]).includes(f)) throw new UsageError(`unknown fault ${JSON.stringify(f)}; faults: ${faultKinds.join(', ')}`);
    faults = list as FaultKind[];
  }
  const nodes = typeof values.nodes === 'string' ? intArg('nodes', values.nodes, 1) : undefined;
  const clients = typeof values.clients === 'string' ? intArg('clients', values.clients, 0) : undefined;
  const shareText = values['acquire-share'];
  const acquireShare = typeof shareText === 'string' ? Number(shareText) : undefined;
  if (acquireShare !== undefined && !(shareText !== '' && acquireShare >= 0 && acquireShare <= 1)) throw new UsageError(`--acquire-share must be a number from 0 to 1, got ${JSON.stringify(shareText)}`);
  let inject: SimulationOptions['inject'];
  if (typeof values.inject === 'string') {
    try {
      inject = parseInjection(values.inject);
    } catch (err) {
      throw new UsageError(`--inject: ${(err as Error).message}`);
    }
  }
  const durationMs = typeof values.duration === 'string' ? parseDuration(values.duration) : undefined;
  const preset = values.preset;
  if (typeof preset === 'string' && preset !== 'any' && !(presets as readonly string[]).includes(preset)) throw new UsageError(`--preset must be one of ${presets.join(', ')}, any, got ${JSON.stringify(preset)}`);
  return {
    ...base,
    scenario: scenario as ScenarioName,
    ...(nodes === undefined ? {} : { nodes }),
    ...(clients === undefined ? {} : { clients }),
    ...(acquireShare === undefined ? {} : { acquireShare }),
    ...(durationMs === undefined ? {} : { durationMs }),
    ...(typeof preset === 'string' && preset !== 'any' ? { preset: preset as Preset } : {}),
    ...(faults === undefined ? {} : { faults }),
    ...(values['no-disk'] === true ? { disk: false } : {}),
    ...(values.clusterluck === true ? { safety: 'clusterluck' as const } : {}),
    ...(inject === undefined || inject.length === 0 ? {} : { inject }),
  };
}

/** Runs a command's `main` as the process: its result is the exit code; bad usage exits 2, anything else 3. */
export function runCommand(name: string, main: (argv: readonly string[]) => Promise<number>): void {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true) {
        console.error(`${(err as Error).message}\n(see npm run ${name} -- --help)`);
        process.exitCode = 2;
      } else {
        console.error(err);
        process.exitCode = 3;
      }
    },
  );
}
