// The DSM workloads that also run in a page (the tab bench): W1 and W4 against one DSMServer,
// measured where the caller is. No Node imports here.
import type { DSMServer } from '../../lib/dsm/dsm-server.js';

/** W1's figures: cycles/s and post/close latency quantiles in ms. */
export interface W1Figures {
  readonly perSecond: number;
  readonly post: { readonly p50: number; readonly p99: number };
  readonly close: { readonly p50: number; readonly p99: number };
}

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

/** W1: one holder on an n=1 semaphore `id` (created here), `cycles` sequential post+close. */
export async function w1(dsm: DSMServer, id: string, cycles = 5000): Promise<W1Figures> {
  await dsm.create(id, 1);
  const posts: number[] = [];
  const closes: number[] = [];
  const started = performance.now();
  for (let i = 0; i < cycles; i++) {
    const a = performance.now();
    await dsm.post(id, 'holder', 10_000);
    const b = performance.now();
    await dsm.close(id, 'holder');
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

/** W4: 32 holders on an n=2 semaphore `id` (created here) retry until granted, hold 5 ms, release; for `seconds`. */
export async function w4(dsm: DSMServer, id: string, seconds: number): Promise<W4Figures> {
  await dsm.create(id, 2);
  return w4Loop(seconds, async (h) => {
    await dsm.post(id, `h${h}`, 10_000);
    return () => dsm.close(id, `h${h}`);
  });
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
