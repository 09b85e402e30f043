// Half of the npm test sweep of the default world (the other half runs beside it in
// sim-sweep-default-a.test.ts, so the two use both cores). The long sweep is `npm run fuzz`.
import { describe, it } from 'vitest';
import { sweepDefaultMix } from './support/sweep.js';

const seeds = Array.from({ length: 32 }, (_, i) => String(32 + i));

describe('default world sweep (seeds 32–63)', () => {
  it('32 seeds × 60 simulated s of every fault, shipped options: safe, views agree, one owner at a time, live, converged', async () => {
    await sweepDefaultMix(seeds);
  }, 300_000);
});
