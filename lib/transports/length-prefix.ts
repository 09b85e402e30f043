// Length-prefixed frames on a byte stream: a u32 big-endian length, then that many bytes. Pure: no
// I/O, no timers. The decoder takes chunks as they come (cut anywhere) and hands back whole frames,
// so it is property-tested alone (test/length-prefix.test.ts); the TCP transport feeds it.
import { allocBytes } from '../env/bytes.js';

/** Bytes of a length prefix. */
export const prefixBytes = 4;

/** The length prefix that ends a stream gracefully ("goodbye"); never a frame length. */
export const goodbyeLength = 0xffff_ffff;

/** Writes `length` as a prefix at `out[at..at+4)`. */
export function writeLengthPrefix(out: Uint8Array, at: number, length: number): void {
  out[at] = length >>> 24;
  out[at + 1] = (length >>> 16) & 0xff;
  out[at + 2] = (length >>> 8) & 0xff;
  out[at + 3] = length & 0xff;
}

/** What {@link LengthPrefixDecoder.next} found; `at` is where in the chunk to go on. */
export type DecodeStep =
  /** A whole frame (a fresh array, never a view of the chunk). */
  | { readonly type: 'frame'; readonly frame: Uint8Array; readonly at: number }
  /** The goodbye prefix: the sender ends the stream. */
  | { readonly type: 'goodbye'; readonly at: number }
  /** A prefix announcing more than `lengthMax` bytes; nothing of it was allocated. The stream cannot go on. */
  | { readonly type: 'tooLarge'; readonly length: number; readonly at: number }
  /** The chunk ended inside a prefix or a frame: the next chunk goes on from there. */
  | { readonly type: 'more'; readonly at: number };

/** Cuts a byte stream into frames; each stream (connection) has its own. */
export class LengthPrefixDecoder {
  /** The length prefix read so far, then the frame being filled. */
  readonly #prefix = new Uint8Array(prefixBytes);
  #prefixUsed = 0;
  #frame: Uint8Array | undefined;
  #frameUsed = 0;

  /** The frame half received, as bytes received of its length; undefined between frames. */
  partial(): { readonly received: number; readonly length: number } | undefined {
    return this.#frame === undefined ? undefined : { received: this.#frameUsed, length: this.#frame.byteLength };
  }

  /** Forgets a half-received frame (the stream closed). */
  reset(): void {
    this.#frame = undefined;
    this.#prefixUsed = 0;
  }

  /** Reads `chunk` from `at`, up to the next frame, goodbye, refused length, or the chunk's end. */
  next(chunk: Uint8Array, at: number, lengthMax: number): DecodeStep {
    const end = chunk.byteLength;
    let frame = this.#frame;
    if (frame === undefined) {
      let length: number;
      if (this.#prefixUsed === 0 && end - at >= prefixBytes) {
        length = readPrefix(chunk, at);
        at += prefixBytes;
      } else {
        while (this.#prefixUsed < prefixBytes && at < end) this.#prefix[this.#prefixUsed++] = chunk[at++] as number;
        if (this.#prefixUsed < prefixBytes) return { type: 'more', at };
        this.#prefixUsed = 0;
        length = readPrefix(this.#prefix, 0);
      }
      if (length === goodbyeLength) return { type: 'goodbye', at };
      if (length > lengthMax) return { type: 'tooLarge', length, at };
      frame = allocBytes(length);
      if (end - at >= length) {
        frame.set(chunk.subarray(at, at + length));
        return { type: 'frame', frame, at: at + length };
      }
      this.#frame = frame;
      this.#frameUsed = 0;
    }
    const take = Math.min(frame.byteLength - this.#frameUsed, end - at);
    frame.set(chunk.subarray(at, at + take), this.#frameUsed);
    this.#frameUsed += take;
    at += take;
    if (this.#frameUsed < frame.byteLength) return { type: 'more', at };
    this.#frame = undefined;
    return { type: 'frame', frame, at };
  }
}

function readPrefix(bytes: Uint8Array, at: number): number {
  return (((bytes[at] as number) << 24) | ((bytes[at + 1] as number) << 16) | ((bytes[at + 2] as number) << 8) | (bytes[at + 3] as number)) >>> 0;
}
