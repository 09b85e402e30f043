// The DSM workloads that also run in a page (the tab bench): W1 and W4 against one DSMServer,
// measured where the caller is. No Node imports here.
import type { DSMServer } from '../../lib/dsm/dsm-server.js';
import type { Connection } from '../../lib/env/transport.js';

/** W1's figures: cycles/s and post/close latency quantiles in ms. */
export interface W1Figures {
  readonly perSecond: number;
  readonly post: { readonly p50: number; readonly p99: number };
  readonly close: { readonly p50: number; readonly p99: number };
}

/**
 * Seconds a server runs a timed workload unmeasured before its measured run, the same for every
 * server compared: a `clusterluck node` process and the bench process compile their hot paths in
 * the first seconds, and a cold start measures the JIT, not the server.
 */
export const warmUpSeconds = (seconds: number): number => Math.min(2, seconds / 2);

/** W4's figures: grants/s, the longest wait in ms, and the fewest and most grants one holder got. */
export interface W4Figures {
  readonly perSecond: number;
  readonly longestMs: number;
  readonly grantsMin: number;
  readonly grantsMax: number;
}

const pct = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;
const ms = (x: number): string => `${x.toFixed(3)} ms`;

/** `count / seconds`, rounded, as `1,234/s`. */
export const perSecond = (count: number, elapsedMs: number): string => `${Math.round(count / (elapsedMs / 1000)).toLocaleString('en')}/s`;

/**
 * What W1–W3 need of a semaphore service, so that clusterluck and redis-semaphore run the very same
 * loops: `tryTake` is one attempt (true: `holder` got a slot; false: it was full).
 */
export interface SemaphoreClient {
  create(id: string, n: number): Promise<void>;
  tryTake(id: string, n: number, holder: string): Promise<boolean>;
  give(id: string, holder: string): Promise<void>;
}

/** A {@link SemaphoreClient} on a DSMServer: a post without retries, a close. */
export function dsmClient(dsm: DSMServer): SemaphoreClient {
  return {
    create: (id, n) => dsm.create(id, n),
    tryTake: (id, _n, holder) => dsm.post(id, holder, 10_000, undefined, Infinity, 0).then(() => true, (err: unknown) => {
      if ((err as { code?: unknown }).code === 'SEMAPHORE_FULL') return false;
      throw err;
    }),
    give: (id, holder) => dsm.close(id, holder),
  };
}

/** W1: one holder on an n=1 semaphore `id` (created here), `cycles` sequential take+give. */
export async function w1(dsm: DSMServer | SemaphoreClient, id: string, cycles = 5000): Promise<W1Figures> {
  const c = 'tryTake' in dsm ? dsm : dsmClient(dsm);
  await c.create(id, 1);
  const posts: number[] = [];
  const closes: number[] = [];
  const started = performance.now();
  for (let i = 0; i < cycles; i++) {
    const a = performance.now();
    if (!(await c.tryTake(id, 1, 'holder'))) throw new Error(`W1: ${id} was full for its only holder`);
    const b = performance.now();
    await c.give(id, 'holder');
    posts.push(b - a);
    closes.push(performance.now() - b);
  }
  const elapsedMs = performance.now() - started;
  posts.sort((x, y) => x - y);
  closes.sort((x, y) => x - y);
  return {
    perSecond: cycles / (elapsedMs / 1000),
    post: { p50: pct(posts, 0.5), p99: pct(posts, 0.99) },
    close: { p50: pct(closes, 0.5), p99: pct(closes, 0.99) },
  };
}

/** Figures of a timed run of concurrent cycles: successful cycles/s, refusals, and cycle latency quantiles in ms. */
export interface LoadFigures {
  readonly perSecond: number;
  readonly cycles: number;
  readonly refused: number;
  readonly p50: number;
  readonly p99: number;
}

/** `workers` loops run `cycle` for `seconds`; a cycle that returns false was refused. */
async function timedCycles(seconds: number, workers: number, cycle: (worker: number) => Promise<boolean>): Promise<LoadFigures> {
  const latencies: number[] = [];
  let refused = 0;
  const started = performance.now();
  const end = started + seconds * 1000;
  await Promise.all(Array.from({ length: workers }, async (_, w) => {
    while (performance.now() < end) {
      const a = performance.now();
      if (await cycle(w)) latencies.push(performance.now() - a);
      else refused++;
    }
  }));
  const elapsedMs = performance.now() - started;
  latencies.sort((x, y) => x - y);
  return { perSecond: latencies.length / (elapsedMs / 1000), cycles: latencies.length, refused, p50: pct(latencies, 0.5), p99: pct(latencies, 0.99) };
}

/** W2: 64 holders on an n=8 semaphore `id` (created here) try once, and give back what they got. */
export async function w2(c: SemaphoreClient, id: string, seconds: number): Promise<LoadFigures> {
  await c.create(id, 8);
  return timedCycles(seconds, 64, async (h) => {
    if (!(await c.tryTake(id, 8, `h${h}`))) return false;
    await c.give(id, `h${h}`);
    return true;
  });
}

/** W3: 32 workers on random semaphores of `ids` (n=4, created here), one try each, given back when taken (a full one counts as a cycle). */
export async function w3(c: SemaphoreClient, ids: readonly string[], seconds: number, random: () => number = Math.random): Promise<LoadFigures> {
  for (let i = 0; i < ids.length; i += 500) await Promise.all(ids.slice(i, i + 500).map((id) => c.create(id, 4)));
  return timedCycles(seconds, 32, async (w) => {
    const id = ids[Math.floor(random() * ids.length)] as string;
    if (await c.tryTake(id, 4, `w${w}`)) await c.give(id, `w${w}`);
    return true;
  });
}

/** A W2 or W3 line of the bench output. */
export function loadLine(name: string, where: string, f: LoadFigures): string {
  return `${name} ${where}: ${Math.round(f.perSecond).toLocaleString('en')}/s cycles${f.refused > 0 ? ` (${f.refused.toLocaleString('en')} refused as full)` : ''}; cycle p50 ${ms(f.p50)} p99 ${ms(f.p99)}`;
}

/**
 * The W4 loop, whatever serves it: `waiters` holders each take a slot (`take` resolves once granted,
 * with how to give it back), hold it `holdMs`, give it back, and again, for `seconds`.
 */
export async function w4Loop(seconds: number, take: (holder: number) => Promise<() => unknown>, waiters = 32, holdMs = 5): Promise<W4Figures> {
  const grants = new Array<number>(waiters).fill(0);
  let longest = 0;
  const end = performance.now() + seconds * 1000;
  await Promise.all(Array.from({ length: waiters }, async (_, h) => {
    while (performance.now() < end) {
      const a = performance.now();
      const giveBack = await take(h);
      longest = Math.max(longest, performance.now() - a);
      grants[h] = (grants[h] ?? 0) + 1;
      await new Promise((r) => setTimeout(r, holdMs));
      await giveBack();
    }
  }));
  const total = grants.reduce((a, b) => a + b, 0);
  return { perSecond: total / seconds, longestMs: longest, grantsMin: Math.min(...grants), grantsMax: Math.max(...grants) };
}

/** W4 through `acquire`: `waiters` holders on an n=2 semaphore `id` (created here) queue, hold `holdMs`, release; for `seconds`. */
export async function w4Acquire(dsm: DSMServer, id: string, seconds: number, waiters = 32, holdMs = 5): Promise<W4Figures> {
  await dsm.create(id, 2);
  return w4Loop(seconds, async (h) => {
    const lease = await dsm.acquire(id, { leaseMs: 10_000, refresh: false, holder: `h${h}` });
    return () => lease?.release();
  }, waiters, holdMs);
}

/** W1's line of the bench output. */
export function w1Line(where: string, f: W1Figures): string {
  return `W1 ${where}: ${Math.round(f.perSecond).toLocaleString('en')}/s cycles; post p50 ${ms(f.post.p50)} p99 ${ms(f.post.p99)}; close p50 ${ms(f.close.p50)} p99 ${ms(f.close.p99)}`;
}

/** W4's line of the bench output. */
export function w4Line(where: string, f: W4Figures): string {
  return `W4 ${where}: ${Math.round(f.perSecond).toLocaleString('en')}/s grants; longest wait ${f.longestMs.toFixed(0)} ms; grants per holder ${f.grantsMin} to ${f.grantsMax}`;
}

/** Round trips of one frame at a time: p50 and p99 in ms, and how many. */
export interface RoundTrips {
  readonly p50: number;
  readonly p99: number;
  readonly count: number;
  readonly seconds: number;
}

/** Sends one `frameBytes` frame at a time over `conn` (whose peer echoes it) for `seconds`. */
export function roundTrips(conn: Connection, seconds: number, frameBytes = 64): Promise<RoundTrips> {
  const frame = new Uint8Array(frameBytes).fill(9);
  const trips: number[] = [];
  const end = performance.now() + seconds * 1000;
  return new Promise((resolve) => {
    let sentAt = performance.now();
    const onMessage = (): void => {
      const now = performance.now();
      trips.push(now - sentAt);
      if (now < end) {
        sentAt = performance.now();
        conn.send(frame);
        return;
      }
      conn.removeEventListener('message', onMessage);
      trips.sort((a, b) => a - b);
      resolve({ p50: pct(trips, 0.5), p99: pct(trips, 0.99), count: trips.length, seconds });
    };
    conn.addEventListener('message', onMessage);
    conn.send(frame);
  });
}

/** A round-trip line of the bench output. */
export function roundTripLine(where: string, t: RoundTrips): string {
  return `${where}, 1 frame in flight: p50 ${(t.p50 * 1000).toFixed(0)} µs, p99 ${(t.p99 * 1000).toFixed(0)} µs (${t.count.toLocaleString('en')} trips, ${Math.round(t.count / t.seconds).toLocaleString('en')}/s)`;
}

/**
 * The WebRTC target of the performance issue: W1 (a post and a close, two round trips) within 2× of
 * the limit the channel's own round trip sets, 1 / (2 · p50).
 */
export function roundTripTarget(where: string, w1PerSecond: number, t: RoundTrips): string {
  const limit = 1000 / (2 * t.p50);
  const ratio = w1PerSecond / limit;
  return `target, ${where}: W1 ${Math.round(w1PerSecond).toLocaleString('en')} cycles/s is ${ratio.toFixed(2)}× the round-trip limit 1/(2 × ${(t.p50 * 1000).toFixed(0)} µs) = ${Math.round(limit).toLocaleString('en')} (≥ 0.5: ${ratio >= 0.5 ? 'met' : 'not met'})`;
}
