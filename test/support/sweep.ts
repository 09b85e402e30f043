// A seeded sweep of the simulator's default world: the shipped options, every fault of the
// default mix (long partitions that change views included, machines joining), both presets
// (createCluster's and createBrowserNode's, drawn from the seed), no violation of any checker allowed.
import { expect } from 'vitest';
import { faultKinds, simulate, violationKeys } from '../../sim/world/simulation.js';

/** Runs `seeds` on the default mix and asserts every checker is satisfied and the faults and work happened. */
export async function sweepDefaultMix(seeds: readonly string[]): Promise<void> {
  const injected: Record<string, number> = {};
  let operations = 0;
  let granted = 0;
  let decided = 0;
  let grantsChecked = 0;
  let queuedChecked = 0;
  const ran = new Set<string>();
  const failures: string[] = [];
  for (const seed of seeds) {
    const s = await simulate({ seed });
    operations += s.operations;
    granted += s.granted;
    decided += s.views.decided;
    grantsChecked += s.grantsChecked;
    queuedChecked += s.queuedGrantsChecked;
    ran.add(s.preset);
    for (const [k, v] of Object.entries(s.faults)) injected[k] = (injected[k] ?? 0) + v;
    if (s.violations.length > 0) failures.push(`${seed}: ${violationKeys(s).join('; ')} (npm run sim -- --seed ${seed})`);
  }
  expect(failures).toEqual([]);
  for (const kind of faultKinds) expect(injected[kind], kind).toBeGreaterThan(0);
  // Half the operations are acquires and lock requests, which wait in the owner's queue (up to
  // 3 s) where a post retries a full semaphore every 10–100 ms: about 1,465 a seed, where post-only
  // clients made over 2,000.
  expect(operations).toBeGreaterThan(seeds.length * 1200);
  expect(granted).toBeGreaterThan(seeds.length * 200);
  expect(decided).toBeGreaterThan(seeds.length * 5); // views changed: joins at boot, then removals and rejoins
  expect(grantsChecked).toBeGreaterThanOrEqual(granted); // every grant a client saw was checked where it was made
  expect(queuedChecked).toBeGreaterThan(seeds.length * 20); // grants pushed to queued acquires, checked for FIFO order
  expect([...ran].sort()).toEqual(['browser', 'node']); // the default draws both
}
