// The real NetKernel over the simulated network: calls under latency, a partition that makes a
// call time out and breaks the connection, and the kernel's own reconnect after the heal.
import { afterEach, describe, expect, it } from 'vitest';
import { isClusterluckError } from '../lib/env/errors.js';
import { silentLogger } from '../lib/env/logger.js';
import { GenServer } from '../lib/kernel/gen-server.js';
import { NetKernel } from '../lib/kernel/net-kernel.js';
import { SimNetwork } from '../sim/network/sim-network.js';
import { seededRandom } from '../sim/world/seeded-random.js';
import { VirtualClock } from '../sim/clock/virtual-clock.js';

class Echo extends GenServer {
  calls = 0;
  constructor(kernel: NetKernel) {
    super(kernel);
    this.handle('echo', (data) => {
      this.calls++;
      return data;
    });
  }
}

interface Run {
  readonly clock: VirtualClock;
  readonly net: SimNetwork;
  readonly a: NetKernel;
  readonly b: NetKernel;
  readonly echoB: Echo;
}

let kernels: NetKernel[] = [];
let clock: VirtualClock | undefined;

afterEach(async () => {
  const stopping = Promise.all(kernels.map((k) => k.stop()));
  await clock?.advance(1000);
  await stopping;
  kernels = [];
});

/** Two started kernels on one SimNetwork with 5–25 ms links, connected both ways, each with an echo server. */
async function twoKernels(seed: string): Promise<Run> {
  clock = new VirtualClock();
  const random = seededRandom(seed);
  const net = new SimNetwork({ clock, random: random.fork('network'), defaultLink: { latencyMs: { min: 5, max: 25 } } });
  const make = (id: string): NetKernel => new NetKernel({
    cookie: 'secret', id, address: id,
    env: { clock: clock as VirtualClock, random: random.fork(id), transport: net.transport(id), logger: silentLogger },
  });
  const [a, b] = [make('a'), make('b')];
  kernels = [a, b];
  await Promise.all([a.start(), b.start()]);
  new Echo(a).start('echo');
  const echoB = new Echo(b).start('echo');
  a.connect(b.self);
  b.connect(a.self);
  await advanceUntil(clock, () => a.isConnected('b') && b.isConnected('a'), 1000);
  return { clock, net, a, b, echoB };
}

/** Advances virtual time 1 ms at a time until `condition` holds; fails after `limitMs`. */
async function advanceUntil(c: VirtualClock, condition: () => boolean, limitMs: number): Promise<void> {
  for (let ms = 0; ms < limitMs && !condition(); ms++) await c.advance(1);
  expect(condition(), `not reached within ${limitMs} virtual ms`).toBe(true);
}

/** Runs a call while advancing virtual time; its value or error and when it settled. */
async function callFor(run: Run, from: NetKernel, node: string, timeoutMs: number): Promise<{ outcome: unknown; tookMs: number }> {
  const start = run.clock.now();
  let settled: { outcome: unknown; tookMs: number } | undefined;
  const done = (outcome: unknown): void => void (settled = { outcome, tookMs: run.clock.now() - start });
  from.call({ node, name: 'echo' }, 'echo', { from: from.self.id, at: start }, { timeoutMs }).then(done, done);
  await advanceUntil(run.clock, () => settled !== undefined, timeoutMs + 100);
  return settled as { outcome: unknown; tookMs: number };
}

describe('NetKernel over SimNetwork', () => {
  it('calls go both ways under latency and take at least one round trip', async () => {
    const run = await twoKernels('kernel-latency');
    const ab = await callFor(run, run.a, 'b', 1000);
    const ba = await callFor(run, run.b, 'a', 1000);
    expect(ab.outcome).toMatchObject({ from: 'a' });
    expect(ba.outcome).toMatchObject({ from: 'b' });
    for (const { tookMs } of [ab, ba]) {
      expect(tookMs).toBeGreaterThanOrEqual(10);
      expect(tookMs).toBeLessThanOrEqual(50);
    }
  });

  it('frames a link duplicates are discarded by the kernel sequence check: each call runs once', async () => {
    const run = await twoKernels('kernel-duplicates');
    run.net.setLink('a', 'b', { duplicate: 0.5, unreliable: true });
    run.net.setLink('b', 'a', { duplicate: 0.5, unreliable: true });
    for (let i = 0; i < 20; i++) expect((await callFor(run, run.a, 'b', 1000)).outcome).toMatchObject({ from: 'a' });
    await run.clock.advance(100); // the last copies land
    expect(run.echoB.calls).toBe(20);
    expect(run.net.counts.duplicate).toBeGreaterThan(5);
    expect(run.a.stats.dropped.outOfOrder + run.b.stats.dropped.outOfOrder).toBe(run.net.counts.duplicate);
  });

  it('across a partition a call times out; after the heal the kernel reconnects and calls succeed', async () => {
    const run = await twoKernels('kernel-partition');
    run.net.partition('a', 'b');
    const lost = await callFor(run, run.a, 'b', 500);
    expect(isClusterluckError(lost.outcome, 'TIMEOUT')).toBe(true);
    expect(lost.tookMs).toBe(500);
    // The held request breaks the connection after stallBreakMs; redials fail while partitioned.
    await advanceUntil(run.clock, () => !run.a.isConnected('b'), run.net.stallBreakMs + 100);
    await run.clock.advance(10_000);
    expect(run.a.isConnected('b') || run.b.isConnected('a')).toBe(false);
    expect(run.net.counts['dial-fail']).toBeGreaterThan(0);
    run.net.heal();
    await advanceUntil(run.clock, () => run.a.isConnected('b') && run.b.isConnected('a'), 40_000);
    expect((await callFor(run, run.a, 'b', 1000)).outcome).toMatchObject({ from: 'a' });
    expect((await callFor(run, run.b, 'a', 1000)).outcome).toMatchObject({ from: 'b' });
  });
});
