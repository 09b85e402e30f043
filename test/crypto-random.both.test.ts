// The real Random hands each pooled byte out once: draws never repeat, across refills too.
import { describe, expect, it } from 'vitest';
import { toHex } from '../lib/env/bytes.js';
import { cryptoRandom } from '../lib/platform/crypto-random.js';

describe('cryptoRandom', () => {
  it('gives distinct draws of the lengths asked for, across many pool refills', () => {
    const random = cryptoRandom();
    const seen = new Set<string>();
    for (let i = 0; i < 3000; i++) {
      const b = random.bytes(12 + (i % 5)); // 12 to 16 bytes: lease keys, nonces
      expect(b.byteLength).toBe(12 + (i % 5));
      seen.add(toHex(b));
    }
    expect(seen.size).toBe(3000);
    expect(random.bytes(5000).byteLength).toBe(5000); // beyond the pool: straight from WebCrypto
    expect(random.bytes(0).byteLength).toBe(0);
  });

  it('next() is uniform-looking in [0, 1) and never repeats', () => {
    const random = cryptoRandom();
    const xs = Array.from({ length: 5000 }, () => random.next());
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(new Set(xs).size).toBe(xs.length);
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.03); // 5000 uniforms: sd of the mean ≈ 0.004
  });

  it('a byte array handed out is the caller\'s: later draws do not change it', () => {
    const random = cryptoRandom();
    const first = random.bytes(16);
    const copy = first.slice();
    for (let i = 0; i < 600; i++) random.bytes(16); // refills the pool twice
    expect(first).toEqual(copy);
  });
});
