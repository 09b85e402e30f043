import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { settle, settleTurnsDefault, VirtualClock, virtualWallEpochMsDefault } from '../sim/clock/virtual-clock.js';

/** A promise chain that re-queues itself once a microtask turn from `start()` until `stop()`; `turns` counts its steps. */
function turnCounter(): { readonly turns: number; start(): void; stop(): void } {
  let turns = 0;
  let counting = true;
  const step = (): void => {
    if (!counting) return;
    turns++;
    void Promise.resolve().then(step);
  };
  return {
    get turns() {
      return turns;
    },
    start: () => void Promise.resolve().then(step),
    stop: () => void (counting = false),
  };
}

describe('VirtualClock', () => {
  it('timers with equal deadlines fire in the order they were set', async () => {
    const clock = new VirtualClock();
    const fired: number[] = [];
    for (let i = 0; i < 20; i++) clock.setTimer(i % 2 === 0 ? 10 : 5, () => fired.push(i));
    await clock.advance(10);
    expect(fired).toEqual([1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
  });

  it('timers fire in (deadline, order set) order whatever the mix of delays and cancels', async () => {
    const ops = fc.array(fc.record({ delay: fc.integer({ min: 0, max: 50 }), cancel: fc.boolean() }), { maxLength: 3000 });
    await fc.assert(fc.asyncProperty(ops, async (timers) => {
      const clock = new VirtualClock();
      const fired: number[] = [];
      const handles = timers.map((t, i) => clock.setTimer(t.delay, () => fired.push(i)));
      timers.forEach((t, i) => t.cancel && clock.cancelTimer(handles[i]!));
      const live = timers.map((t, i) => ({ ...t, i })).filter((t) => !t.cancel);
      expect(clock.pending()).toBe(live.length);
      await clock.advance(50);
      expect(fired).toEqual(live.sort((a, b) => a.delay - b.delay || a.i - b.i).map((t) => t.i));
      expect(clock.pending()).toBe(0);
    }), { numRuns: 30 });
  });

  it('cancelling most of many timers leaves the rest firing in order', async () => {
    const clock = new VirtualClock();
    const fired: number[] = [];
    const handles = Array.from({ length: 6000 }, (_, i) => clock.setTimer((i * 7919) % 1000, () => fired.push(i)));
    handles.forEach((h, i) => i % 5 !== 0 && clock.cancelTimer(h));
    expect(clock.pending()).toBe(1200);
    await clock.advance(1000);
    const want = handles.map((_, i) => i).filter((i) => i % 5 === 0);
    expect(fired).toEqual(want.sort((a, b) => ((a * 7919) % 1000) - ((b * 7919) % 1000) || a - b));
  });

  it('a cancelled timer never fires; cancelling again or after it fired does nothing', async () => {
    const clock = new VirtualClock();
    const fired: string[] = [];
    const a = clock.setTimer(5, () => fired.push('a'));
    const b = clock.setTimer(5, () => fired.push('b'));
    clock.cancelTimer(a);
    clock.cancelTimer(a);
    expect(clock.pending()).toBe(1);
    await clock.advance(5);
    clock.cancelTimer(b);
    expect([fired, clock.pending()]).toEqual([['b'], 0]);
  });

  it('timers set by a timer inside the window fire in the same advance, at their own deadlines', async () => {
    const clock = new VirtualClock();
    const seen: [string, number][] = [];
    clock.setTimer(10, () => {
      seen.push(['outer', clock.now()]);
      clock.setTimer(0, () => seen.push(['zero', clock.now()]));
      clock.setTimer(15, () => seen.push(['inner', clock.now()]));
      clock.setTimer(91, () => seen.push(['late', clock.now()]));
    });
    await clock.advance(100);
    expect(seen).toEqual([['outer', 10], ['zero', 10], ['inner', 25]]);
    expect([clock.now(), clock.pending()]).toEqual([100, 1]);
  });

  it('advance moves time by exactly ms and fires only what is due', async () => {
    const clock = new VirtualClock();
    let fired = 0;
    clock.setTimer(100, () => fired++);
    await clock.advance(99.5);
    expect([clock.now(), fired]).toEqual([99.5, 0]);
    await clock.advance(0.5);
    expect([clock.now(), fired]).toEqual([100, 1]);
    await clock.advance(0);
    expect(clock.now()).toBe(100);
  });

  it('delays beyond 2^31 ms fire at their deadline, not at once', async () => {
    const clock = new VirtualClock();
    const long = 2 ** 31 + 5;
    let firedAt: number | undefined;
    clock.setTimer(long, () => (firedAt = clock.now()));
    await clock.advance(2 ** 31);
    expect(firedAt).toBeUndefined();
    await clock.advance(5);
    expect(firedAt).toBe(long);
  });

  it('negative delays are clamped to fire at once', async () => {
    const clock = new VirtualClock();
    let fired = false;
    clock.setTimer(-50, () => (fired = true));
    await clock.advance(0);
    expect([fired, clock.now()]).toEqual([true, 0]);
  });

  it('promise chains a timer starts settle before the next timer fires', async () => {
    const clock = new VirtualClock();
    const log: string[] = [];
    clock.setTimer(1, () => {
      log.push('t1');
      void Promise.resolve().then(() => Promise.resolve()).then(() => log.push('chain'));
    });
    clock.setTimer(1, () => log.push('t2'));
    await clock.advance(1);
    expect(log).toEqual(['t1', 'chain', 't2']);
  });

  it('settle gives other microtask chains exactly its turns, as a loop of awaits did (the trace hashes depend on it)', async () => {
    // How many turns a chain that re-queues itself gets while `wait` runs, then the awaiting code resumes.
    const turnsSeen = async (wait: () => Promise<void>): Promise<number> => {
      const chain = turnCounter();
      chain.start();
      await wait();
      chain.stop();
      return chain.turns;
    };
    const awaitLoop = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) await Promise.resolve();
    };
    for (const n of [0, 1, 2, 3, 2.5, settleTurnsDefault]) expect([n, await turnsSeen(() => settle(n))]).toEqual([n, await turnsSeen(() => awaitLoop(n))]);
    expect(await turnsSeen(() => settle())).toBe(settleTurnsDefault + 1);
    expect(await turnsSeen(() => settle(Number.NaN))).toBe(1);
  });

  it('a timer, the next timer and the end of a run are each settleTurnsDefault + 1 microtask turns apart (the trace hashes depend on it)', async () => {
    const clock = new VirtualClock();
    const chain = turnCounter();
    const seen: number[] = [];
    clock.setTimer(1, () => seen.push(chain.turns));
    clock.setTimer(1, () => seen.push(chain.turns));
    clock.setTimer(2, () => seen.push(chain.turns));
    const advanced = clock.advance(5).then(() => seen.push(chain.turns));
    chain.start();
    await advanced;
    chain.stop();
    const gap = settleTurnsDefault + 1;
    expect(seen).toEqual([gap - 1, 2 * gap - 1, 3 * gap - 1, 5 * gap + 1]);
  });

  it('a probe fires in order but takes no microtask turns: the timers around it see what they saw without it', async () => {
    // A chain longer than one settle: how far it got when each timer fires, with and without probes.
    const run = async (probes: boolean): Promise<{ seen: number[]; probed: number[] }> => {
      const clock = new VirtualClock();
      const chain = turnCounter();
      const seen: number[] = [];
      const probed: number[] = [];
      clock.setTimer(1, () => {
        seen.push(chain.turns);
        chain.start();
      });
      if (probes) for (const at of [1, 1.5, 1.5, 2]) clock.setProbe(at, () => probed.push(chain.turns));
      clock.setTimer(2, () => seen.push(chain.turns));
      clock.setTimer(3, () => seen.push(chain.turns));
      await clock.advance(3);
      chain.stop();
      return { seen, probed };
    };
    const without = await run(false);
    const withProbes = await run(true);
    expect(withProbes.seen).toEqual(without.seen);
    // No turns between the first timer's settle and the second timer, probes or not: every probe
    // saw the chain where that settle left it, as the second timer did.
    const left = settleTurnsDefault + 1;
    expect(without.seen).toEqual([0, left, 2 * left]);
    expect(withProbes.probed).toEqual([left, left, left, left]);
  });

  it('runUntilIdle jumps from timer to timer and stops at its limit', async () => {
    const clock = new VirtualClock();
    expect(await clock.runUntilIdle()).toBe(0);
    expect(clock.now()).toBe(0);
    clock.setTimer(3000, () => undefined);
    expect(await clock.runUntilIdle()).toBe(1);
    expect(clock.now()).toBe(3000);
    const tick = (): void => void clock.setTimer(1000, tick);
    tick();
    expect(await clock.runUntilIdle(5500)).toBe(5);
    expect([clock.now(), clock.pending()]).toEqual([8500, 1]);
  });

  it('a timer that throws rejects advance, and the clock keeps working', async () => {
    const clock = new VirtualClock();
    clock.setTimer(1, () => {
      throw new Error('boom');
    });
    let later = false;
    clock.setTimer(2, () => (later = true));
    await expect(clock.advance(10)).rejects.toThrow('boom');
    expect(clock.now()).toBe(1);
    await clock.advance(1);
    expect(later).toBe(true);
  });

  it('the wall clock follows now, and jumpWall moves it alone', async () => {
    const clock = new VirtualClock();
    expect(clock.wallNow()).toBe(virtualWallEpochMsDefault);
    await clock.advance(250);
    clock.jumpWall(-60_000);
    expect([clock.now(), clock.wallNow()]).toEqual([250, virtualWallEpochMsDefault + 250 - 60_000]);
    expect(new VirtualClock({ wallEpochMs: 7 }).wallNow()).toBe(7);
  });

  it('advance cannot run inside another advance', async () => {
    const clock = new VirtualClock();
    const running = clock.advance(1);
    await expect(clock.advance(1)).rejects.toThrow('already advancing');
    await running;
  });
  it('drive advances time only until a promise settles, and passes on its value or error', async () => {
    const clock = new VirtualClock();
    const after = (ms: number, outcome: () => unknown) => new Promise((resolve, reject) => clock.setTimer(ms, () => {
      try {
        resolve(outcome());
      } catch (err) {
        reject(err);
      }
    }));
    await expect(clock.drive(after(42, () => 'done'), 10)).resolves.toBe('done');
    expect(clock.now()).toBe(50);
    await expect(clock.drive(after(3, () => { throw new Error('boom'); }), 1)).rejects.toThrow('boom');
    expect(clock.now()).toBe(53);
  });
});
