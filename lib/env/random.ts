/** Randomness, injected: crypto-strength in `lib/platform/`, seeded in the simulator. */
export interface Random {
  /** A float in [0, 1). */
  next(): number;
  /** Fills a new array of `length` random bytes. */
  bytes(length: number): Uint8Array;
}

/** An integer in [0, maxExclusive). */
export function randomInt(random: Random, maxExclusive: number): number {
  return Math.floor(random.next() * maxExclusive);
}

/** A uniformly chosen float in [min, max). */
export function randomBetween(random: Random, min: number, max: number): number {
  return min + random.next() * (max - min);
}

/** Up to `count` distinct items of `items`, in random order (partial Fisher–Yates). */
export function sample<T>(random: Random, items: readonly T[], count: number): T[] {
  const pool = items.slice();
  const take = Math.min(count, pool.length);
  for (let i = 0; i < take; i++) {
    const j = i + randomInt(random, pool.length - i);
    const tmp = pool[i] as T;
    pool[i] = pool[j] as T;
    pool[j] = tmp;
  }
  return pool.slice(0, take);
}
