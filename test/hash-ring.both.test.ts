import { describe, expect, it } from 'vitest';
import { HashRing } from '../lib/core/hash-ring.js';
import { hash32, ringPosition } from '../lib/core/hash.js';

// Runs in Node and in Chromium: the constants below were computed once in Node. Equal results in
// both runtimes mean a browser tab and a Node process place every key on the same member.

const weights = [1, 1, 2, 1, 3, 1, 1, 4, 1, 2];

function goldenRing(): HashRing {
  const ring = new HashRing();
  weights.forEach((w, i) => ring.insert({ id: `n${i}`, address: `10.0.0.${i}:7022` }, w));
  return ring;
}

const hex8 = (n: number): string => n.toString(16).padStart(8, '0');

describe('hash ring placement is identical in every runtime', () => {
  it('hash32 gives the golden values, non-ASCII and lone surrogates included', () => {
    const cases: [string, number, number][] = [
      ['', 0, 0],
      ['a', 0, 1867108634],
      ['__proto__', 0, 4161901363],
      ['hello world', 42, 3495752719],
      ['héllo ☃', 7, 3749847416],
      ['\u{1F600}x', 0xffffffff, 633915117],
      ['\uD800', 1, 171630906],
    ];
    expect(cases.map(([text, seed]) => hash32(text, seed))).toEqual(cases.map(([, , want]) => want));
  });

  it('ringPosition gives the golden 53-bit values', () => {
    expect(['', 'n0#0', 'semaphore-1999'].map(ringPosition)).toEqual([6405930193975251, 482359218179525, 3732497771806884]);
  });

  it('the owners of 2,000 fixed keys hash to the golden digest', () => {
    const ring = goldenRing();
    const owners = Array.from({ length: 2000 }, (_, i) => ring.find(`semaphore-${i}`).id).join(',');
    expect(hex8(hash32(owners, 0)) + hex8(hash32(owners, 0x9e3779b9))).toBe('8eb9c9980c77d96e');
  });

  it('the membership checksum and a preference list are the golden ones', () => {
    const ring = goldenRing();
    expect(ring.checksum()).toBe('8f95c28067c3089b');
    expect(ring.preferenceList('semaphore-0', 4).map((n) => n.id)).toEqual(['n4', 'n5', 'n2', 'n1']);
    expect(HashRing.parse(JSON.parse(JSON.stringify(ring.toJSON()))).checksum()).toBe('8f95c28067c3089b');
  });
});
