import type { Random } from '../env/random.js';

/** Random bytes fetched from WebCrypto at once: one `getRandomValues` call serves many small requests. */
const poolBytes = 4096;

/**
 * The real {@link Random}: WebCrypto's `getRandomValues`, in Node and browsers. Small requests are
 * served from a pool filled in one call (each byte handed out once), as Node's `randomUUID` does:
 * a call costs microseconds, and a lease key or a connection nonce needs a dozen bytes.
 */
export function cryptoRandom(): Random {
  const pool = new Uint8Array(poolBytes);
  const view = new DataView(pool.buffer);
  let at = poolBytes;
  /** Where `length` fresh bytes start in the pool, refilled first when too few are left. */
  const reserve = (length: number): number => {
    if (at + length > poolBytes) {
      globalThis.crypto.getRandomValues(pool);
      at = 0;
    }
    const start = at;
    at += length;
    return start;
  };
  return {
    next() {
      const start = reserve(8);
      // 53 random bits: 21 from the first word, 32 from the second.
      return ((view.getUint32(start) >>> 11) * 2 ** 32 + view.getUint32(start + 4)) / 2 ** 53;
    },
    bytes(length) {
      if (length > poolBytes / 4) return globalThis.crypto.getRandomValues(new Uint8Array(length));
      const start = reserve(length);
      return pool.slice(start, start + length);
    },
  };
}
