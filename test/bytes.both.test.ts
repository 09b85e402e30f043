import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { allocBytes, constantTimeEqual, copyBytes, fromUtf8, slabItemBytesMax, utf8, utf8Transient } from '../lib/env/bytes.js';

describe('bytes', () => {
  it('property: utf8, utf8Transient and fromUtf8 agree with TextEncoder/TextDecoder for any string, short or long', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary', maxLength: 400 }), fc.string({ minLength: 250, maxLength: 600 })), (s) => {
        const bytes = utf8(s);
        expect(bytes).toEqual(new TextEncoder().encode(s));
        expect(utf8Transient(s)).toEqual(bytes);
        expect(fromUtf8(bytes)).toBe(new TextDecoder().decode(bytes));
      }),
      { numRuns: 500 },
    );
  });

  it('fromUtf8 throws on invalid UTF-8, short or long', () => {
    expect(() => fromUtf8(new Uint8Array([0x61, 0xff]))).toThrow(TypeError);
    expect(() => fromUtf8(new Uint8Array(300).fill(0xc3))).toThrow(TypeError);
  });

  it('property: arrays from allocBytes start zeroed, 8-byte aligned, and never share a byte, across slabs', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: slabItemBytesMax + 200 }), { minLength: 1, maxLength: 300 }), (sizes) => {
        const arrays = sizes.map((n, i) => {
          const a = allocBytes(n);
          expect(a.byteLength).toBe(n);
          expect(a.byteOffset % 8).toBe(0);
          expect(a.every((b) => b === 0)).toBe(true);
          a.fill((i % 255) + 1);
          return a;
        });
        // Each still holds its own fill: no later array was cut from bytes an earlier one had.
        arrays.forEach((a, i) => expect(a.every((b) => b === (i % 255) + 1)).toBe(true));
      }),
      { numRuns: 50 },
    );
    expect(allocBytes(slabItemBytesMax + 1).byteOffset).toBe(0);
    const original = utf8('frame');
    const copy = copyBytes(original);
    original[0] = 0;
    expect(fromUtf8(copy)).toBe('frame');
  });

  it('constantTimeEqual compares content and length', () => {
    expect(constantTimeEqual(utf8('abc'), utf8('abc'))).toBe(true);
    expect(constantTimeEqual(utf8('abc'), utf8('abd'))).toBe(false);
    expect(constantTimeEqual(utf8('abc'), utf8('ab'))).toBe(false);
  });
});
