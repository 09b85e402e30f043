// The simulator's frame MAC: a keyed 64-bit FNV-1a-style checksum in the 32-byte MAC slot. The kernel's
// signing and checking code runs unchanged; only the hash is cheap. Real HMAC-SHA256 is what the
// kernel tests and every real transport use; a simulated run gains nothing from its cost.
import type { HmacFactory } from '../../lib/env/crypto.js';

/** Keyed FNV-1a-style mixing (two 32-bit lanes, four bytes a step) of the parts, zero-padded to 32 bytes. Not a security primitive. */
export const simHmac: HmacFactory = (key) => {
  let seedA = 0x811c9dc5;
  let seedB = 0x01000193 ^ key.length;
  for (const b of key) {
    seedA = Math.imul(seedA ^ b, 0x01000193);
    seedB = Math.imul(seedB ^ b, 0x5bd1e995);
  }
  return (parts) => {
    let a = seedA;
    let b = seedB;
    for (const p of parts) {
      // Four bytes a step (one multiply per lane, not four); the tail a byte at a time.
      const whole = p.length & ~3;
      let i = 0;
      for (; i < whole; i += 4) {
        const x = (p[i] as number) | ((p[i + 1] as number) << 8) | ((p[i + 2] as number) << 16) | ((p[i + 3] as number) << 24);
        a = Math.imul(a ^ x, 0x01000193);
        b = Math.imul(b ^ x, 0x5bd1e995);
      }
      for (; i < p.length; i++) {
        const x = p[i] as number;
        a = Math.imul(a ^ x, 0x01000193);
        b = Math.imul(b ^ x, 0x5bd1e995);
      }
    }
    const out = new Uint8Array(32);
    const view = new DataView(out.buffer);
    view.setUint32(0, a);
    view.setUint32(4, b);
    return out;
  };
};
