// The key every frame's MAC is computed with: PBKDF2-HMAC-SHA256 of the cluster cookie, 600,000
// iterations (OWASP's figure for PBKDF2-HMAC-SHA256). A recorded connection shows MACs under this
// key, so whoever has one can test cookie guesses offline, but each guess costs a derivation:
// about 0.15 s of one core here instead of a microsecond for a MAC under the bare cookie. Derived
// once per cookie per process (WebCrypto where it exists, @noble/hashes in an insecure browser
// context) and kept, so kernels sharing a cookie pay once and a simulator that derives first
// starts its worlds without waiting on anything outside its virtual time.
import { pbkdf2Async } from '@noble/hashes/pbkdf2.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { utf8 } from '../env/bytes.js';

/** PBKDF2 iterations of the cookie's key. */
export const cookieKdfIterations = 600_000;

/**
 * The salt: fixed, since nothing is shared before authentication but the cookie. It keeps tables
 * computed for other protocols useless; a long random cookie is what keeps guessing hopeless.
 */
export const cookieKdfSalt = utf8('clusterluck frame key v2');

/** A cookie shorter than this is logged as a warning (and shows in `inspect`). */
export const cookieLengthMin = 16;

const derived = new Map<string, { key: Uint8Array | undefined; promise: Promise<Uint8Array> }>();

interface SubtleLike {
  importKey(format: 'raw', key: Uint8Array, algorithm: 'PBKDF2', extractable: false, usages: ['deriveBits']): Promise<unknown>;
  deriveBits(algorithm: { name: 'PBKDF2'; salt: Uint8Array; iterations: number; hash: 'SHA-256' }, key: unknown, length: 256): Promise<ArrayBuffer>;
}

/** Derives (once per cookie) the MAC key of `cookie`. */
export function cookieKey(cookie: string): Promise<Uint8Array> {
  const known = derived.get(cookie);
  if (known !== undefined) return known.promise;
  const entry: { key: Uint8Array | undefined; promise: Promise<Uint8Array> } = { key: undefined, promise: derive(cookie) };
  derived.set(cookie, entry);
  entry.promise.then((key) => (entry.key = key), () => derived.delete(cookie));
  return entry.promise;
}

/** The key of `cookie` when it is already derived (no await needed), else undefined. */
export function cookieKeyNow(cookie: string): Uint8Array | undefined {
  return derived.get(cookie)?.key;
}

async function derive(cookie: string): Promise<Uint8Array> {
  const password = utf8(cookie);
  const subtle = (globalThis as { crypto?: { subtle?: SubtleLike } }).crypto?.subtle;
  if (subtle === undefined) return pbkdf2Async(sha256, password, cookieKdfSalt, { c: cookieKdfIterations, dkLen: 32 });
  const base = await subtle.importKey('raw', password, 'PBKDF2', false, ['deriveBits']);
  return new Uint8Array(await subtle.deriveBits({ name: 'PBKDF2', salt: cookieKdfSalt, iterations: cookieKdfIterations, hash: 'SHA-256' }, base, 256));
}
