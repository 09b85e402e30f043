// A short seeded sweep inside `npm test`: the fault mix our DSM is meant to survive (partitions
// both ways, clogs, crashes with restarts from disk, pauses) finds no violation on any seed. Clock
// drift and jumps are left out: they break leases by design until the lease-grace work lands (see
// `npm run fuzz` for them). The long sweep is `npm run fuzz -- --seeds 1000`.
import { describe, expect, it } from 'vitest';
import { simulate, violationKeys, type FaultKind } from '../sim/world/simulation.js';

const faults: FaultKind[] = ['partition', 'one-way', 'clog', 'crash', 'pause'];
const seeds = Array.from({ length: 16 }, (_, i) => `sweep-${i}`);

describe('seed sweep', () => {
  it(`${seeds.length} seeds × 20 simulated s of ${faults.join(', ')}: safe, live and converged`, async () => {
    const injected: Record<string, number> = {};
    let operations = 0;
    let granted = 0;
    const failures: string[] = [];
    for (const seed of seeds) {
      const s = await simulate({ seed, durationMs: 20_000, faults });
      operations += s.operations;
      granted += s.granted;
      for (const [k, v] of Object.entries(s.faults)) injected[k] = (injected[k] ?? 0) + v;
      if (s.violations.length > 0) failures.push(`${seed}: ${violationKeys(s).join('; ')} (npm run sim -- --seed ${seed} --duration 20s --faults ${faults.join(',')})`);
    }
    expect(failures).toEqual([]);
    for (const kind of faults) expect(injected[kind], kind).toBeGreaterThan(0);
    expect(operations).toBeGreaterThan(seeds.length * 500);
    expect(granted).toBeGreaterThan(seeds.length * 100);
  }, 120_000);
});
