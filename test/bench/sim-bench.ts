// Simulator speed: simulated seconds per wall second for 5 nodes and 20 clients (about 10
// operations per second each) with every fault on, and the seed rate for 60-simulated-second runs
// on one core (`npm run fuzz` spreads seeds over cores).
import { simulate } from '../../sim/world/simulation.js';

export async function simBench(print: (line: string) => void, seeds = 5): Promise<void> {
  await simulate({ seed: 'warm-up', durationMs: 20_000 });
  let clockMs = 0;
  let wallMs = 0;
  let operations = 0;
  let frames = 0;
  for (let i = 0; i < seeds; i++) {
    const started = performance.now();
    const s = await simulate({ seed: `bench-${i}`, durationMs: 60_000 });
    wallMs += performance.now() - started;
    clockMs += s.clockMs;
    operations += s.operations;
    frames += s.frames;
  }
  const perSeedS = wallMs / seeds / 1000;
  print(`sim 5 nodes, 20 clients, all faults: ${(clockMs / wallMs).toFixed(1)} simulated s per wall s (target ≥ 100)`);
  print(`  (${seeds} seeds of a 60 s workload plus boot, healing and checks: ${(clockMs / seeds / 1000).toFixed(0)} simulated s in ${perSeedS.toFixed(2)} wall s each; ${Math.round(operations / (wallMs / 1000))} client operations and ${Math.round(frames / (wallMs / 1000))} frames per wall s)`);
  print(`  one core: ${(60 / perSeedS).toFixed(0)} seeds per minute; 1,000 seeds on 2 cores ≈ ${(1000 * perSeedS / 2 / 60).toFixed(1)} min`);
}
