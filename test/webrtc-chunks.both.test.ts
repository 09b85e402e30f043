// The WebRTC transport's chunk format, alone: frames packed into 16 KiB data channel messages
// come back whole and in order, and malformed chunks are named, never crash.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ChunkPacker, chunkBytesMax, readChunk, type ChunkRecord } from '../lib/transports/webrtc/chunks.js';

/** Packs `frames`, reads every chunk back and reassembles the frames; also returns the chunks. */
function roundTrip(frames: readonly Uint8Array[]): { chunks: Uint8Array[]; frames: Uint8Array[] } {
  const packer = new ChunkPacker();
  for (const f of frames) packer.push(f);
  const chunks: Uint8Array[] = [];
  for (let c = packer.next(); c !== undefined; c = packer.next()) chunks.push(c);
  expect(packer.bytes).toBe(0);
  const out: Uint8Array[] = [];
  let parts: Uint8Array[] = [];
  for (const chunk of chunks) {
    const bad = readChunk(chunk, (r: ChunkRecord) => {
      if (r.kind !== 'piece') throw new Error(`unexpected ${r.kind}`);
      parts.push(r.bytes);
      if (r.last) {
        out.push(concat(parts));
        parts = [];
      }
      return true;
    });
    expect(bad).toBeUndefined();
  }
  expect(parts).toEqual([]);
  return { chunks, frames: out };
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  parts.reduce((at, p) => (out.set(p, at), at + p.byteLength), 0);
  return out;
}

const same = (a: Uint8Array, b: Uint8Array): boolean => a.byteLength === b.byteLength && a.every((x, i) => x === b[i]);

describe('webrtc chunks', () => {
  it('property: any frames come back whole and in order, in chunks of at most 16 KiB', () => {
    const frame = fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.integer({ min: 0, max: 70_000 }).map((n) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + n) & 0xff)));
    fc.assert(fc.property(fc.array(frame, { maxLength: 30 }), (frames) => {
      const { chunks, frames: back } = roundTrip(frames);
      expect(chunks.every((c) => c.byteLength > 0 && c.byteLength <= chunkBytesMax)).toBe(true);
      expect(back.map((f) => f.byteLength)).toEqual(frames.map((f) => f.byteLength));
      expect(back.findIndex((f, i) => !same(f, frames[i] as Uint8Array))).toBe(-1);
    }), { numRuns: 100 });
  });

  it('a hundred small frames share one chunk; a 40 KiB frame takes three', () => {
    expect(roundTrip(Array.from({ length: 100 }, (_, i) => Uint8Array.of(i))).chunks).toHaveLength(1);
    expect(roundTrip([new Uint8Array(40 * 1024)]).chunks).toHaveLength(3);
  });

  it('malformed chunks are reported, with what was wrong', () => {
    const say = (bytes: number[]): string | undefined => readChunk(Uint8Array.from(bytes), () => true);
    expect(say([])).toBe('an empty chunk');
    expect(say([0, 0, 0])).toMatch(/cut short/);
    expect(say([0, 0, 0, 0, 9, 1])).toMatch(/piece of 9 bytes with 1 left/);
    expect(say([7])).toMatch(/unknown tag 7/);
    expect(say([2, 3, 0, 0, 0, 0, 0])).toBeUndefined();
  });
});
