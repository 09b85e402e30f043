import { invalidArgument } from '../env/errors.js';

// MurmurHash3 (x86, 32-bit) over the UTF-16LE encoding of a string, computed straight from the
// code units with Math.imul so that every engine gives the same bits: no TextEncoder, no
// floating-point multiplication, no dependence on the platform's string internals.

const c1 = 0xcc9e2d51;
const c2 = 0x1b873593;

/** Seed of the high 21 bits of a {@link ringPosition}. */
const ringSeedHigh = 0x9747b28c;
/** Seed of the low 32 bits of a {@link ringPosition}. */
const ringSeedLow = 0x5bd1e995;

/** MurmurHash3 x86_32 without argument checks; `seed` is taken modulo 2^32. */
export function murmur3(text: string, seed: number): number {
  let h = seed | 0;
  const length = text.length;
  const pairsEnd = length & ~1;
  for (let i = 0; i < pairsEnd; i += 2) {
    // One 4-byte little-endian block is two UTF-16 code units, low one first.
    let k = text.charCodeAt(i) | (text.charCodeAt(i + 1) << 16);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  if ((length & 1) === 1) {
    // A 2-byte tail: the last code unit.
    let k = text.charCodeAt(length - 1);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
  }
  h ^= length * 2; // length in bytes
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * A 32-bit unsigned hash of `text`: MurmurHash3 x86_32 of its UTF-16LE bytes, identical in
 * every JavaScript engine.
 *
 * @param text - any string (lone surrogates included; code units are hashed as they are)
 * @param seed - an integer in [0, 2^32)
 */
export function hash32(text: string, seed: number): number {
  if (typeof text !== 'string') throw invalidArgument('text', text, 'a string');
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw invalidArgument('seed', seed, 'an integer in [0, 2^32)');
  }
  return murmur3(text, seed);
}

/** {@link ringPosition} without argument checks. */
export function ringPositionOf(text: string): number {
  const high = murmur3(text, ringSeedHigh) & 0x1fffff;
  return high * 0x100000000 + murmur3(text, ringSeedLow);
}

/**
 * Where `text` sits on the hash ring: an integer in [0, 2^53), made of two {@link hash32}s with
 * different seeds, so that even millions of virtual nodes almost never share a position.
 */
export function ringPosition(text: string): number {
  if (typeof text !== 'string') throw invalidArgument('text', text, 'a string');
  return ringPositionOf(text);
}
