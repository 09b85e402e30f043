// The bytes of the WebRTC transport's data channel messages ("chunks"), with no I/O. A chunk is
// at most 16 KiB (what every browser accepts in one message) and holds records back to back:
//   frame piece: tag 0 (last piece of its frame) or 1 (more follow), u32 BE length, bytes
//   goodbye:     tag 2    (the sender will send no more frames)
//   goodbye-ack: tag 3    (the sender got our goodbye, so every frame before it)
// Small frames queued in one turn share a chunk, so each costs far less than one message;
// a frame larger than a chunk is cut into pieces and put back together by the reader.

import { assert } from '../../env/assert.js';
import { FrameQueue } from '../frame-queue.js';

/** Largest data channel message sent: 16 KiB. */
export const chunkBytesMax = 16 * 1024;
/** Tag and length in front of each frame piece. */
const pieceHeaderBytes = 5;

/** Record tags. */
export const chunkTag = { frameEnd: 0, frameMore: 1, goodbye: 2, goodbyeAck: 3 } as const;

/** Frames waiting to be sent, packed into chunks on demand. Pushed frames must not change afterwards. */
export class ChunkPacker {
  readonly #frames = new FrameQueue();
  /** Bytes of the head frame already packed. */
  #offset = 0;
  #bytes = 0;

  /** Frame bytes not yet packed. */
  get bytes(): number {
    return this.#bytes;
  }

  /** True when every pushed frame has been packed. */
  get isEmpty(): boolean {
    return this.#frames.length === 0;
  }

  /** Queues a frame; the packer keeps it, so pass a copy the caller will not touch. */
  push(frame: Uint8Array): void {
    this.#frames.push(frame);
    this.#bytes += frame.byteLength;
  }

  /** Drops every queued frame (an abort). */
  clear(): void {
    this.#frames.clear();
    this.#offset = 0;
    this.#bytes = 0;
  }

  /** The next chunk: as many queued frames (or pieces of one) as fit in {@link chunkBytesMax}. */
  next(): Uint8Array | undefined {
    if (this.isEmpty) return undefined;
    const pending = this.#frames.length;
    const chunk = new Uint8Array(Math.min(chunkBytesMax, this.#bytes + pending * pieceHeaderBytes));
    const view = new DataView(chunk.buffer);
    let used = 0;
    while (!this.isEmpty && chunk.byteLength - used >= pieceHeaderBytes) {
      const frame = this.#frames.peek() as Uint8Array;
      const rest = frame.byteLength - this.#offset;
      const take = Math.min(rest, chunk.byteLength - used - pieceHeaderBytes);
      // An empty piece of a non-empty frame says nothing: leave it for the next chunk.
      if (take === 0 && rest > 0) break;
      chunk[used] = take === rest ? chunkTag.frameEnd : chunkTag.frameMore;
      view.setUint32(used + 1, take);
      chunk.set(frame.subarray(this.#offset, this.#offset + take), used + pieceHeaderBytes);
      used += pieceHeaderBytes + take;
      this.#bytes -= take;
      assert(this.#bytes >= 0, 'a chunk packer packs no more bytes than were pushed');
      if (take < rest) {
        this.#offset += take;
        break;
      }
      this.#frames.shift();
      this.#offset = 0;
    }
    return used === chunk.byteLength ? chunk : chunk.subarray(0, used);
  }

}

/** One record read from a chunk. */
export type ChunkRecord =
  | { readonly kind: 'piece'; readonly last: boolean; readonly bytes: Uint8Array }
  | { readonly kind: 'goodbye' }
  | { readonly kind: 'goodbyeAck' };

/**
 * Calls `visit` with each record of `chunk` in order until it returns false. Returns what was
 * malformed (a chunk cut short, an unknown tag), or undefined when the chunk was well formed
 * or `visit` stopped early.
 */
export function readChunk(chunk: Uint8Array, visit: (record: ChunkRecord) => boolean): string | undefined {
  if (chunk.byteLength === 0) return 'an empty chunk';
  const view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  let at = 0;
  while (at < chunk.byteLength) {
    const tag = chunk[at] as number;
    let record: ChunkRecord;
    if (tag === chunkTag.frameEnd || tag === chunkTag.frameMore) {
      if (chunk.byteLength - at < pieceHeaderBytes) return `a piece header cut short at byte ${at}`;
      const length = view.getUint32(at + 1);
      const start = at + pieceHeaderBytes;
      if (length > chunk.byteLength - start) return `a piece of ${length} bytes with ${chunk.byteLength - start} left`;
      record = { kind: 'piece', last: tag === chunkTag.frameEnd, bytes: chunk.subarray(start, start + length) };
      at = start + length;
    } else if (tag === chunkTag.goodbye || tag === chunkTag.goodbyeAck) {
      record = { kind: tag === chunkTag.goodbye ? 'goodbye' : 'goodbyeAck' };
      at++;
    } else {
      return `unknown tag ${tag} at byte ${at}`;
    }
    if (!visit(record)) return undefined;
  }
  return undefined;
}
