// The simulator's checkers can fail: the safety checker against brute force, Clusterluck's known
// amnesia caught with a replayable seed, a fast-check search that finds and shrinks a failing fault
// schedule, and a short seeded sweep of the default fault mix (the long sweep is `npm run fuzz`).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkFencing, checkSafety, type Belief } from '../sim/checkers/checker.js';
import { scenarios, simulate, violationKeys, type ScheduledFault, type SimulationOptions } from '../sim/world/simulation.js';

describe('checkSafety', () => {
  it('finds an overlap of more than n believers exactly when one exists', () => {
    const belief = fc.record({ semaphore: fc.constantFrom('a', 'b'), holder: fc.string({ maxLength: 3 }), from: fc.integer({ min: 0, max: 50 }), len: fc.integer({ min: 0, max: 20 }) })
      .map(({ len, ...b }): Belief => ({ ...b, sentAt: b.from, to: b.from + len, token: 0 }));
    fc.assert(fc.property(fc.array(belief, { maxLength: 12 }), fc.integer({ min: 1, max: 3 }), (beliefs, n) => {
      const limits = new Map([['a', n], ['b', n]]);
      const found = checkSafety(beliefs, limits);
      const over = (sem: string, t: number): Belief[] => beliefs.filter((b) => b.semaphore === sem && b.from <= t && t < b.to);
      const exceeded = beliefs.some((b) => b.to > b.from && over(b.semaphore, b.from).length > n);
      expect(found.length > 0).toBe(exceeded);
      for (const v of found) {
        expect(v.class).toBe('safety');
        expect(over(v.semaphore as string, v.at).length).toBeGreaterThan(n);
        expect(v.holders?.length).toBeGreaterThan(n);
      }
    }));
  });
});

describe('checkFencing', () => {
  it('finds a later grant with a token not above an earlier one, and overlapping grants that share a token, exactly when they exist', () => {
    const belief = fc.record({
      semaphore: fc.constantFrom('a', 'b'), holder: fc.string({ maxLength: 3 }), sentAt: fc.integer({ min: 0, max: 50 }),
      wait: fc.integer({ min: 0, max: 10 }), len: fc.integer({ min: 1, max: 20 }), token: fc.integer({ min: 1, max: 6 }),
    }).map(({ wait, len, ...b }): Belief => ({ ...b, from: b.sentAt + wait, to: b.sentAt + wait + len }));
    fc.assert(fc.property(fc.array(belief, { maxLength: 10 }), (beliefs) => {
      const found = checkFencing(beliefs);
      const bad = beliefs.some((b) => beliefs.some((a) => a !== b && a.semaphore === b.semaphore && (
        (a.from <= b.sentAt && b.token <= a.token) || (a.token === b.token && a.from < b.to && b.from < a.to))));
      expect(found.length > 0).toBe(bad);
      for (const v of found) expect(v.class).toBe('fencing');
    }));
  });
});

describe('the ownership sampler', () => {
  it('only looks: the same seed sampled every 10 ms or every 7 ms runs the same (it once gave chains of promises longer than one settle extra turns)', async () => {
    const every10 = await simulate({ seed: '1', sampleMs: 10 });
    const every7 = await simulate({ seed: '1', sampleMs: 7 });
    expect(every7.ownershipSamples).toBeGreaterThan(every10.ownershipSamples);
    expect(every7.traceHash).toBe(every10.traceHash);
    expect(every7.violations).toEqual(every10.violations);
  });
});

describe('amnesia (owners crash and restart without their tables)', () => {
  const amnesia: Omit<SimulationOptions, 'seed'> = { ...scenarios.amnesia, durationMs: 20_000, clients: 12 };

  it('in Clusterluck mode is reported as a safety violation after a crash, and the seed replays it', async () => {
    const first = await simulate({ ...amnesia, seed: '1', safety: 'clusterluck' });
    expect(first.violations.length).toBeGreaterThan(0);
    expect(violationKeys(first)).toContain('safety: crash');
    expect(first.traceAroundViolation.some((l) => / restart n\d/.test(l))).toBe(true);
    const again = await simulate({ ...amnesia, seed: '1', safety: 'clusterluck' });
    expect(again.traceHash).toBe(first.traceHash);
    expect(again.violations).toEqual(first.violations);
  });

  it('does not happen with the DTable on disk, nor without one under the safety rules (a restarted owner comes back under a new incarnation and waits out the lock-delay), on the same seeds and faults', async () => {
    for (const seed of ['1', '2']) {
      const s = await simulate({ ...amnesia, seed, disk: true });
      expect(s.faults['crash']).toBeGreaterThanOrEqual(3);
      expect(s.granted).toBeGreaterThan(20);
      expect(s.violations).toEqual([]);
      const forgetful = await simulate({ ...amnesia, seed });
      expect(forgetful.faults['crash']).toBeGreaterThanOrEqual(3);
      expect(forgetful.granted).toBeGreaterThan(10);
      expect(forgetful.violations).toEqual([]);
    }
  });
});

describe('liveness and convergence checkers', () => {
  it('report a node that stalls for good: its clients\' posts never end, and the others remove it while it still counts them', async () => {
    const stall: ScheduledFault = { at: 2000, kind: 'pause', nodes: ['n1'], ms: 10_000_000 };
    const s = await simulate({ seed: 'stall', durationMs: 32_000, schedule: [stall] });
    const classes = new Set(s.violations.map((v) => v.class));
    expect(classes).toEqual(new Set(['liveness', 'convergence']));
    expect(s.converged).toBe(false);
    expect(s.violations.filter((v) => v.class === 'liveness').every((v) => v.message.includes('via n1'))).toBe(true);
    const healthy = await simulate({ seed: 'stall', durationMs: 32_000, schedule: [{ ...stall, ms: 3000 }] });
    expect(healthy.violations).toEqual([]);
  });
});

describe('fast-check search over fault schedules', () => {
  it('finds a crash schedule that breaks a disk-less cluster in Clusterluck mode, shrinks it, and the shrunk case replays (and is safe under the rules)', async () => {
    const base: Omit<SimulationOptions, 'seed'> = { ...scenarios.amnesia, durationMs: 14_000, clients: 8, safety: 'clusterluck' };
    const crash = fc.record({
      at: fc.integer({ min: 500, max: 3500 }),
      kind: fc.constant('crash' as const),
      nodes: fc.constantFrom('n0', 'n1', 'n2', 'n3', 'n4').map((n) => [n]),
      ms: fc.integer({ min: 50, max: 1000 }),
    });
    const unsafe = async (seed: number, schedule: ScheduledFault[]): Promise<boolean> =>
      (await simulate({ ...base, seed: String(seed), schedule })).violations.some((v) => v.class === 'safety');
    const out = await fc.check(fc.asyncProperty(fc.nat(1000), fc.array(crash, { maxLength: 4 }), async (seed, schedule) => !(await unsafe(seed, schedule))), { numRuns: 40, seed: 5 });
    expect(out.failed).toBe(true);
    const [seed, schedule] = out.counterexample as [number, ScheduledFault[]];
    expect(schedule.length).toBeGreaterThan(0); // no crash, no amnesia
    expect(await unsafe(seed, schedule)).toBe(true);
    expect(await unsafe(seed, [])).toBe(false);
    expect((await simulate({ ...base, safety: 'strict', seed: String(seed), schedule })).violations).toEqual([]);
  });
});

describe('what the safety rules buy (Clusterluck mode and drift beyond ρ)', () => {
  const handoff: Omit<SimulationOptions, 'seed'> = { ...scenarios.handoff, durationMs: 30_000 };

  it('nodes leaving and rejoining under long leases: a double grant in Clusterluck mode, none with handoff and lock-delay, on the same seeds', async () => {
    for (const seed of ['1', '2']) {
      const unsafe = await simulate({ ...handoff, seed, safety: 'clusterluck' });
      expect(unsafe.faults['leave']).toBeGreaterThan(0);
      expect(violationKeys(unsafe)).toContain('safety: handoff');
      const safe = await simulate({ ...handoff, seed });
      expect(safe.faults['leave']).toBeGreaterThan(0);
      expect(safe.violations).toEqual([]);
    }
  });

  it('clocks drifting beyond the bound ρ the product assumes are caught; the same seed within ρ is safe', async () => {
    const beyond = await simulate({ ...scenarios['drift-beyond'], durationMs: 30_000, seed: '1' });
    expect(violationKeys(beyond)).toContain('safety: clock drift');
    const within = await simulate({ ...scenarios['drift-beyond'], durationMs: 30_000, seed: '1', driftMax: 0.01 });
    expect(within.faults['drift']).toBeGreaterThan(0);
    expect(within.violations).toEqual([]);
  });
});
