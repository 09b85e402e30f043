import seedrandom from 'seedrandom';
import { invalidArgument } from '../../lib/env/errors.js';
import type { Random } from '../../lib/env/random.js';

/** A seeded {@link Random} that can derive independent, named streams. */
export interface SeededRandom extends Random {
  /** The seed this stream was made from (forks get a derived one). */
  readonly seed: string;
  /**
   * An independent stream derived from this seed and `label` only: it neither consumes nor is
   * shifted by this stream or other forks, so adding a node leaves every other node's stream alone.
   */
  fork(label: string): SeededRandom;
}

/** A deterministic {@link Random}: the same seed gives the same stream, in Node and browsers (Alea). */
export function seededRandom(seed: string): SeededRandom {
  if (typeof seed !== 'string') throw invalidArgument('seed', seed, 'a string');
  const prng = seedrandom.alea(seed);
  return {
    seed,
    next: () => prng.double(),
    bytes(length) {
      if (!Number.isSafeInteger(length) || length < 0) throw invalidArgument('length', length, 'an integer ≥ 0');
      const out = new Uint8Array(length);
      for (let i = 0; i < length; i += 4) {
        const word = prng.int32();
        for (let k = 0; k < 4 && i + k < length; k++) out[i + k] = (word >>> (8 * k)) & 0xff;
      }
      return out;
    },
    fork(label) {
      if (typeof label !== 'string') throw invalidArgument('label', label, 'a string');
      // JSON keeps (seed, label) pairs apart: ("a/b", "c") and ("a", "b/c") give different seeds.
      return seededRandom(JSON.stringify([seed, label]));
    },
  };
}
