// `npm run fuzz -- --seeds 1000`: many seeded simulator runs spread over worker threads, a progress
// bar, a summary of every violation class with seeds that replay it; exit code 1 on any violation.
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { intArg, replayCommand, runCommand, runOptionHelp, runOptions, runOptionSpec, type RunOptions } from './sim-args.node.js';
import { progressBar } from './progress-bar.node.js';
import { simulate, violationKeys } from '../world/simulation.js';

const usage = `usage: npm run fuzz -- [--seeds N] [--from K] [--workers W] [options]

Runs seeds K … K+N−1 (default 0 … 99) of the simulator on W worker threads (default: one per
core), shows progress, then lists every violation class found with up to 5 seeds each and the
command that replays one. Exit code: 0 clean, 1 a violation, 2 bad usage.

  --seeds N          how many seeds (default 100)
  --from K           first seed (default 0)
  --workers W        worker threads (default ${availableParallelism()})
${runOptionHelp}`;

/** Workers load this file through tsx, as the main thread did. */
const workerBoot = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(import.meta.url)}); })`;

/** What a worker sends back per seed. */
interface SeedResult {
  readonly seed: string;
  readonly keys: string[];
  readonly operations: number;
  readonly simMs: number;
  /** The preset the seed ran. */
  readonly preset?: string;
  /** Whether an operator had to force out voters lost for good (see SimulationSummary.forcedOut). */
  readonly forced?: boolean;
  /** Whether every member of the newest view lost its state for good (see SimulationSummary.clusterLost). */
  readonly clusterLost?: boolean;
  readonly error?: string;
}

interface WorkerMessage {
  readonly result?: SeedResult;
  /** The worker exits after this message. */
  readonly fatal?: boolean;
}

async function runSeed(seed: string, o: RunOptions): Promise<SeedResult> {
  try {
    const s = await simulate({ ...o, seed });
    return { seed, keys: violationKeys(s), operations: s.operations, simMs: s.simMs, preset: s.preset, forced: s.forcedOut.length > 0, clusterLost: s.clusterLost !== undefined };
  } catch (err) {
    const error = err instanceof Error ? (err.stack ?? err.message) : String(err);
    return { seed, keys: ['simulate() threw'], operations: 0, simMs: 0, error };
  }
}

export async function main(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv], strict: true,
    options: { ...runOptionSpec, seeds: { type: 'string' }, from: { type: 'string' }, workers: { type: 'string' } },
  });
  if (values.help === true) {
    console.log(usage);
    return 0;
  }
  const o = runOptions(values);
  const count = intArg('seeds', values.seeds ?? '100', 1);
  const from = intArg('from', values.from ?? '0', 0);
  const workers = Math.min(count, intArg('workers', values.workers ?? String(availableParallelism()), 1));
  const seeds = Array.from({ length: count }, (_, i) => String(from + i));
  const started = performance.now();
  const results: SeedResult[] = [];
  const bar = progressBar(count);
  let nextSeed = 0;
  await new Promise<void>((resolve) => {
    let running = 0;
    // A worker that dies (an exception escaped the simulated code) has reported its seed; another takes its place.
    const spawn = (): void => {
      running++;
      const worker = new Worker(workerBoot, { eval: true, workerData: o });
      const feed = (): void => {
        const seed = seeds[nextSeed++];
        if (seed === undefined) void worker.terminate();
        else worker.postMessage(seed);
      };
      worker.on('message', (m: WorkerMessage) => {
        if (m.result === undefined) return;
        results.push(m.result);
        if (m.result.keys.length > 0) bar.note(`seed ${m.result.seed}: ${m.result.keys.join('; ')}`);
        bar(results.length, results.filter((r) => r.keys.length > 0).length);
        if (m.fatal !== true) feed();
      });
      worker.on('exit', () => {
        running--;
        if (nextSeed < seeds.length) spawn();
        else if (running === 0) resolve();
      });
      feed();
    };
    for (let i = 0; i < workers; i++) spawn();
  });
  const wallS = (performance.now() - started) / 1000;
  const simS = results.reduce((a, r) => a + r.simMs, 0) / 1000;
  const byKey = new Map<string, string[]>();
  for (const r of results.sort((a, b) => Number(a.seed) - Number(b.seed))) for (const k of r.keys) (byKey.get(k) ?? byKey.set(k, []).get(k))?.push(r.seed);
  const bad = results.filter((r) => r.keys.length > 0);
  console.log(`${count} seeds (${seeds[0]} … ${seeds.at(-1)}) in ${wallS.toFixed(1)} s on ${workers} workers: ${(count / wallS * 60).toFixed(0)} seeds/min, ${(simS / wallS).toFixed(0)} simulated s per wall s`);
  const presetsRun = [...new Set(results.flatMap((r) => (r.preset === undefined ? [] : [r.preset])))].sort();
  const forced = results.filter((r) => r.forced === true).map((r) => r.seed);
  console.log(`  presets: ${presetsRun.map((p) => `${p} ${results.filter((r) => r.preset === p).length}`).join(', ')}; operations: ${results.reduce((a, r) => a + r.operations, 0)}; seeds with a violation: ${bad.length}`);
  const lostAll = results.filter((r) => r.clusterLost === true).map((r) => r.seed);
  if (lostAll.length > 0) console.log(`  seeds where every member of the newest view lost its state for good (wiped), so no convergence was required: ${lostAll.length}, e.g. ${lostAll.slice(0, 5).join(', ')}`);
  if (forced.length > 0) console.log(`  seeds where a view lost a majority of its voters for good and an operator forced them out after healing: ${forced.length}, e.g. ${forced.slice(0, 5).join(', ')}`);
  for (const [key, list] of [...byKey].sort((a, b) => b[1].length - a[1].length)) {
    console.log(`  ${key}: ${list.length} seeds, e.g. ${list.slice(0, 5).join(', ')}`);
    console.log(`    replay: ${replayCommand(list[0] as string, o)}`);
  }
  for (const r of results) if (r.error !== undefined) console.log(`\nseed ${r.seed} threw:\n${r.error}`);
  return bad.length === 0 ? 0 : 1;
}

if (!isMainThread) {
  const o = workerData as RunOptions;
  let current = '';
  const died = (err: unknown): void => {
    const error = err instanceof Error ? (err.stack ?? err.message) : String(err);
    parentPort?.postMessage({ result: { seed: current, keys: ['uncaught exception in the simulated code'], operations: 0, simMs: 0, error }, fatal: true } satisfies WorkerMessage);
    process.exit(1);
  };
  process.on('uncaughtException', died);
  process.on('unhandledRejection', died);
  parentPort?.on('message', (seed: string) => {
    current = seed;
    void runSeed(seed, o).then((result) => parentPort?.postMessage({ result } satisfies WorkerMessage));
  });
} else if (import.meta.url === `file://${process.argv[1]}`) {
  runCommand('fuzz', main);
}
