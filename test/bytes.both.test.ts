import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { constantTimeEqual, fromUtf8, utf8 } from '../lib/env/bytes.js';

describe('bytes', () => {
  it('property: utf8 and fromUtf8 agree with TextEncoder/TextDecoder for any string, short or long', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary', maxLength: 400 }), fc.string({ minLength: 250, maxLength: 600 })), (s) => {
        const bytes = utf8(s);
        expect(bytes).toEqual(new TextEncoder().encode(s));
        expect(fromUtf8(bytes)).toBe(new TextDecoder().decode(bytes));
      }),
      { numRuns: 500 },
    );
  });

  it('fromUtf8 throws on invalid UTF-8, short or long', () => {
    expect(() => fromUtf8(new Uint8Array([0x61, 0xff]))).toThrow(TypeError);
    expect(() => fromUtf8(new Uint8Array(300).fill(0xc3))).toThrow(TypeError);
  });

  it('constantTimeEqual compares content and length', () => {
    expect(constantTimeEqual(utf8('abc'), utf8('abc'))).toBe(true);
    expect(constantTimeEqual(utf8('abc'), utf8('abd'))).toBe(false);
    expect(constantTimeEqual(utf8('abc'), utf8('ab'))).toBe(false);
  });
});
