import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concatBytes } from '../lib/env/bytes.js';
import { goodbyeLength, LengthPrefixDecoder, prefixBytes, writeLengthPrefix, type DecodeStep } from '../lib/transports/length-prefix.js';

/** A frame as it goes on the stream: its prefix, then its bytes. */
function prefixed(frame: Uint8Array): Uint8Array {
  const out = new Uint8Array(prefixBytes + frame.byteLength);
  writeLengthPrefix(out, 0, frame.byteLength);
  out.set(frame, prefixBytes);
  return out;
}

const goodbye = (): Uint8Array => {
  const out = new Uint8Array(prefixBytes);
  writeLengthPrefix(out, 0, goodbyeLength);
  return out;
};

/** Cuts `stream` at the given points (any, repeated or not). */
function cut(stream: Uint8Array, points: number[]): Uint8Array[] {
  const at = [...new Set(points.map((p) => p % (stream.byteLength + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let from = 0;
  for (const p of [...at, stream.byteLength]) {
    chunks.push(stream.slice(from, p));
    from = p;
  }
  return chunks;
}

/** Feeds every chunk, as the TCP transport does, and collects what came out. */
function decodeAll(chunks: Uint8Array[], lengthMax: number): DecodeStep[] {
  const d = new LengthPrefixDecoder();
  const out: DecodeStep[] = [];
  for (const chunk of chunks) {
    let at = 0;
    while (at < chunk.byteLength) {
      const step = d.next(chunk, at, lengthMax);
      expect(step.at).toBeGreaterThan(at);
      at = step.at;
      if (step.type !== 'more') out.push(step);
      if (step.type === 'tooLarge') return out;
    }
  }
  return out;
}

const frames = fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 12 });
const points = fc.array(fc.nat(), { maxLength: 30 });

describe('length-prefix decoder', () => {
  it('property: frames cut anywhere into chunks come out whole and in order, then the goodbye', () => {
    fc.assert(fc.property(frames, points, (fs, ps) => {
      const stream = concatBytes([...fs.map(prefixed), goodbye()]);
      const steps = decodeAll(cut(stream, ps), 300);
      expect(steps.map((s) => s.type)).toEqual([...fs.map(() => 'frame'), 'goodbye']);
      expect(steps.flatMap((s) => (s.type === 'frame' ? [s.frame] : []))).toEqual(fs);
    }), { numRuns: 500 });
  });

  it('property: a length over the bound is refused at its prefix, after every frame before it', () => {
    fc.assert(fc.property(frames, fc.integer({ min: 301, max: goodbyeLength - 1 }), points, (fs, length, ps) => {
      const head = new Uint8Array(prefixBytes);
      writeLengthPrefix(head, 0, length);
      const steps = decodeAll(cut(concatBytes([...fs.map(prefixed), head, new Uint8Array(10)]), ps), 300);
      expect(steps.at(-1)).toMatchObject({ type: 'tooLarge', length });
      expect(steps.length).toBe(fs.length + 1);
    }), { numRuns: 300 });
  });

  it('partial() tells a frame half received, and reset() forgets it', () => {
    const d = new LengthPrefixDecoder();
    const stream = prefixed(new Uint8Array([1, 2, 3, 4, 5]));
    expect(d.next(stream.subarray(0, 2), 0, 10)).toEqual({ type: 'more', at: 2 });
    expect(d.partial()).toBeUndefined(); // inside the prefix: no frame yet
    expect(d.next(stream.subarray(2, 7), 0, 10)).toEqual({ type: 'more', at: 5 });
    expect(d.partial()).toEqual({ received: 3, length: 5 });
    d.reset();
    expect(d.partial()).toBeUndefined();
    const again = d.next(stream, 0, 10);
    expect(again.type === 'frame' && [...again.frame]).toEqual([1, 2, 3, 4, 5]);
  });

  it('a frame is a copy, never a view of the chunk it came in', () => {
    const d = new LengthPrefixDecoder();
    const chunk = prefixed(new Uint8Array([9, 9]));
    const step = d.next(chunk, 0, 10);
    chunk.fill(0);
    expect(step.type === 'frame' && [...step.frame]).toEqual([9, 9]);
  });
});
