// `npm run sim -- --seed 123 [--nodes 5 --duration 60s --faults partition,crash]`: one seeded run of
// the simulator, a summary, and on a violation the trace around it and the line that replays it.
import { parseArgs } from 'node:util';
import { replayCommand, runCommand, runOptionHelp, runOptions, runOptionSpec } from './sim-args.node.js';
import { simulate, violationKeys, type SimulationSummary } from '../world/simulation.js';
import { formatSimEvent, type SimEvent } from '../world/sim-event.js';

const usage = `usage: npm run sim -- [--seed S] [options]

Runs the real kernel, gossip, DSM and DTable code of N nodes on a virtual clock, a simulated
network and simulated disks, with faults drawn from the seed, and checks that no semaphore ever
had more than n believers (safety), every post ended after the faults healed (liveness) and the
rings agreed again (convergence). The same seed and options always give the same trace hash.
Exit code: 0 clean, 1 a violation, 2 bad usage.

  --seed S           the seed (default 1)
${runOptionHelp}
  --json             print the summary as JSON (no progress)
  --trace            print the whole trace`;

export async function main(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({ args: [...argv], options: { ...runOptionSpec, seed: { type: 'string' }, json: { type: 'boolean' }, trace: { type: 'boolean' } }, strict: true });
  if (values.help === true) {
    console.log(usage);
    return 0;
  }
  const o = runOptions(values);
  const seed = values.seed ?? '1';
  const progress = values.json !== true && process.stderr.isTTY === true;
  const started = performance.now();
  const printTrace = values.trace === true && values.json !== true;
  const summary = await simulate({
    ...o, seed,
    // The text trace is the events' trace lines, printed as they happen.
    ...(printTrace ? { onEvent: (e: SimEvent) => { const line = formatSimEvent(e); if (line !== undefined) console.log(line); } } : {}),
    onProgress: (simMs) => {
      if (progress) process.stderr.write(`\r  simulated ${(simMs / 1000).toFixed(0)} s of ${((o.durationMs ?? 60_000) / 1000).toFixed(0)} s`);
    },
  });
  const wallMs = performance.now() - started;
  if (progress) process.stderr.write('\r\x1b[K');
  if (values.json === true) console.log(JSON.stringify({ ...summary, wallMs: Math.round(wallMs) }, null, 2));
  else print(summary, wallMs, replayCommand(seed, o));
  return summary.violations.length === 0 ? 0 : 1;
}

function print(s: SimulationSummary, wallMs: number, replay: string): void {
  const faults = Object.entries(s.faults).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
  console.log(`seed ${s.seed}: ${s.nodes} nodes (${s.preset} preset), a ${(s.simMs / 1000).toFixed(0)} s workload; ${(s.clockMs / 1000).toFixed(0)} simulated s with healing in ${(wallMs / 1000).toFixed(1)} wall s (${(s.clockMs / wallMs).toFixed(0)}× real time)`);
  console.log(`  operations ${s.operations}: granted ${s.granted}, refused (full) ${s.refused}, failed ${s.failed}, lost with a crashed client ${s.lost}`);
  console.log(`  faults injected: ${faults}`);
  console.log(`  frames delivered ${s.frames}; rings converged after healing: ${s.converged ? 'yes' : 'NO'}${s.forcedOut.length > 0 ? ` (after an operator forced out ${s.forcedOut.join(', ')}: their view had lost a majority of its voters for good)` : ''}${s.clusterLost !== undefined ? ` (not required: ${s.clusterLost})` : ''}`);
  console.log(`  trace hash ${s.traceHash} (${s.traceLines} lines)`);
  if (s.violations.length === 0) {
    console.log('  violations: none');
    return;
  }
  console.log(`  violations: ${s.violations.length} (${violationKeys(s).join('; ')})`);
  for (const v of s.violations.slice(0, 10)) console.log(`    ${v.at.toFixed(1)} ms ${v.class}: ${v.message}`);
  if (s.violations.length > 10) console.log(`    … ${s.violations.length - 10} more`);
  console.log(`\ntrace up to the first violation (${s.violations[0]?.at.toFixed(1)} ms):`);
  for (const line of s.traceAroundViolation) console.log(`  ${line}`);
  console.log(`\nreplay: ${replay}`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runCommand('sim', main);
}
