import type { Random } from '../env/random.js';

/** The real {@link Random}: WebCrypto's `getRandomValues`, in Node and browsers. */
export function cryptoRandom(): Random {
  const words = new Uint32Array(2);
  return {
    next() {
      globalThis.crypto.getRandomValues(words);
      // 53 random bits: 21 from the first word, 32 from the second.
      return (((words[0] as number) >>> 11) * 2 ** 32 + (words[1] as number)) / 2 ** 53;
    },
    bytes(length) {
      const out = new Uint8Array(length);
      globalThis.crypto.getRandomValues(out);
      return out;
    },
  };
}
