// clusterluck/sim's hooks: the typed events are the trace (line for line), a user's invariant runs
// at every step, a user's clients are judged by the same checkers, injected faults replay from
// their one-word form, and the live safety check finds what the whole-run checker finds.
import { describe, expect, it } from 'vitest';
import { replayCommand } from '../sim/cli/replay-command.js';
import { formatInjection, formatSimEvent, parseInjection, simulate, type SimEvent } from '../sim/index.js';

const short = { durationMs: 16_000, clients: 4, faultGapMs: { min: 500, max: 1500 } } as const;

describe('clusterluck/sim events and hooks', () => {
  it('the events, formatted, are the trace line for line; frames are reported but not traced', async () => {
    const lines: string[] = [];
    const kinds = new Map<string, number>();
    const s = await simulate({
      ...short, seed: 'events', keepTrace: true,
      onEvent: (e) => {
        const key = e.type === 'net' ? `net:${e.event.kind}` : e.type;
        kinds.set(key, (kinds.get(key) ?? 0) + 1);
        const line = formatSimEvent(e);
        if (line !== undefined) lines.push(line);
      },
    });
    expect(lines).toEqual(s.trace);
    expect(kinds.get('net:deliver')).toBe(s.frames);
    expect(kinds.get('net:send')).toBeGreaterThanOrEqual(s.frames);
    for (const k of ['grant', 'release', 'owner', 'view', 'fault', 'process', 'run']) expect(kinds.get(k), k).toBeGreaterThan(0);
  });

  it("calls a user's invariant at every step and reports each distinct finding once", async () => {
    let steps = 0;
    const s = await simulate({
      ...short, seed: 'invariant', faults: [],
      invariants: [({ now }) => {
        steps++;
        return now > 5000 ? [{ message: 'time passed 5 s' }] : [];
      }],
    });
    expect(steps).toBeGreaterThan(1000); // every 10 simulated ms
    expect(s.violations.filter((v) => v.class === 'invariant').map((v) => v.message)).toEqual(['time passed 5 s']);
  });

  it("judges a user's clients with the same safety checker, live", async () => {
    const seen: SimEvent[] = [];
    const s = await simulate({
      ...short, seed: 'workload', clients: 0, faults: [],
      onEvent: (e) => void (e.type === 'violation' && seen.push(e)),
      workload: ({ world }) => {
        // Three believers of sem-0 (n = 2) from 1 s to 2 s into the workload: one too many.
        world.clock.setTimer(1000, () => {
          for (const holder of ['u1', 'u2', 'u3']) {
            world.emit({ type: 'grant', at: world.clock.now(), kind: 'post', semaphore: 'sem-0', holder, host: 'n0', token: 1, sentAt: world.clock.now(), until: world.clock.now() + 1000 });
          }
        });
      },
    });
    const safety = s.violations.filter((v) => v.class === 'safety');
    expect(safety).toHaveLength(1);
    expect(safety[0]?.holders).toEqual(['u1', 'u2', 'u3']);
    expect(seen[0]?.type === 'violation' && seen[0].violation.at).toBe(safety[0]?.at);
  });

  it('injected faults round-trip their one-word form, change the run, and replay from the command line', async () => {
    const inject = [{ at: 1000, kind: 'crash', nodes: ['n1'], ms: 3000 }, { at: 4000, kind: 'drift', nodes: ['n2'], ms: 0, amount: 1.005 }] as const;
    const text = formatInjection(inject);
    expect(text).toBe('crash@1000:n1:3000+drift@4000:n2:0:1.005');
    expect(parseInjection(text)).toEqual(inject);
    expect(() => parseInjection('meteor@1:n1:1')).toThrow(/kind/);
    expect(replayCommand('7', { scenario: 'default', faults: [], inject: [...inject] })).toBe(`npm run sim -- --seed 7 --faults none --inject ${text}`);
    const faults: SimEvent[] = [];
    const plain = await simulate({ ...short, seed: 'inject', faults: [] });
    const hit = await simulate({ ...short, seed: 'inject', faults: [], inject: [...inject], onEvent: (e) => void (e.type === 'fault' && faults.push(e)) });
    expect(hit.traceHash).not.toBe(plain.traceHash);
    expect(hit.faults).toEqual({ crash: 1, drift: 1 });
    expect(faults.map((e) => e.type === 'fault' && `${e.phase} ${e.kind} ${e.target}`)).toEqual(['begin crash n1', 'begin drift n2', 'end crash n1']); // both at 4 s: the drift's timer was set first
  });

  it('the live safety check stops at the instant the whole-run checker names (Clusterluck mode, handoff)', async () => {
    const live: number[] = [];
    const s = await simulate({
      seed: '1', durationMs: 20_000, acquireShare: 0, faults: ['leave'], leaseMs: { min: 5000, max: 10_000 }, faultMs: { min: 2000, max: 4000 }, faultGapMs: { min: 1000, max: 3000 }, safety: 'clusterluck',
      onEvent: (e) => void (e.type === 'violation' && e.violation.class === 'safety' && e.at === e.violation.at && live.push(e.at)),
    });
    const whole = s.violations.filter((v) => v.class === 'safety').map((v) => v.at);
    expect(whole.length).toBeGreaterThan(0);
    expect(live).toEqual(whole);
  });
});
