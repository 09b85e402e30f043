// The simulator is deterministic and browser-safe: one seed gives one trace, in Node and in Chromium.
import { describe, expect, it } from 'vitest';
import { simulate } from '../sim/world/simulation.js';

const short = { durationMs: 16_000, clients: 6, faultGapMs: { min: 500, max: 1500 } } as const;

describe('simulate', () => {
  it('gives the same trace hash for the same seed, and another for another seed', async () => {
    const a = await simulate({ ...short, seed: 'same' });
    const b = await simulate({ ...short, seed: 'same' });
    const c = await simulate({ ...short, seed: 'other' });
    expect(a.operations).toBeGreaterThan(100);
    expect(Object.values(a.faults).reduce((x, y) => x + y, 0)).toBeGreaterThan(0);
    expect(b.traceHash).toBe(a.traceHash);
    expect(b.frames).toBe(a.frames);
    expect(b.violations).toEqual(a.violations);
    expect(c.traceHash).not.toBe(a.traceHash);
  });

  it('rejects bad options with typed errors', async () => {
    await expect(simulate({ seed: 'x', nodes: 0 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(simulate({ seed: 'x', faults: ['meteor' as never] })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(simulate({ seed: 'x', leaseMs: { min: 5, max: 1 } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
