// Node's native HMAC-SHA256, for whoever wants it (pass it as `kernel.hmac`) and as the tests'
// reference for the portable one. It is not the default: each MAC builds a native Hmac object that
// the garbage collector must then track, and in a running node that costs more than portableHmac's
// allocation-free JavaScript (the README's Performance section has the figures).
import { createHmac } from 'node:crypto';
import type { HmacFactory } from '../env/crypto.js';

/** An HmacFactory on `node:crypto`. */
export const nodeHmac: HmacFactory = (key) => {
  const secret = Buffer.from(key);
  return (parts) => {
    const h = createHmac('sha256', secret);
    for (const p of parts) h.update(p);
    const digest = h.digest();
    return new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength);
  };
};
