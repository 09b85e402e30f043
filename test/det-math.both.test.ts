// The simulator's logarithm and exponential give the same doubles in Node and in Chromium (Math's
// do not: Node 20's V8 and Chromium's differed in the last bit for some inputs), and stay within a
// few ulps of Math's.
import { describe, expect, it } from 'vitest';
import { detExp, detLn, detLog10, detPow } from '../lib/core/det-math.js';
import { seededRandom } from '../sim/world/seeded-random.js';

/** A 32-bit hash of the decimal forms: equal in every engine when the doubles are. */
function digest(values: readonly number[]): number {
  let v = 0;
  for (const x of values) for (const c of String(x)) v = (v * 31 + c.charCodeAt(0)) | 0;
  return v;
}

describe('det-math', () => {
  it('is within a few ulps of Math on the simulator\'s inputs, and gives the doubles pinned here in every engine', () => {
    const r = seededRandom('math');
    const pows: number[] = [];
    const logs: number[] = [];
    let worst = 0;
    for (let i = 0; i < 200_000; i++) {
      const x = r.next();
      const p = detPow(1.01, 2 * x - 1);
      const l = -detLn(1 - x);
      pows.push(p);
      logs.push(l);
      worst = Math.max(worst, Math.abs(p / 1.01 ** (2 * x - 1) - 1), x > 1e-9 ? Math.abs(l / -Math.log(1 - x) - 1) : 0);
    }
    const tens = Array.from({ length: 1000 }, (_, n) => detLog10(n + 1));
    expect(worst).toBeLessThan(1e-15);
    expect([digest(pows), digest(logs), digest(tens)]).toEqual([100018034, -1578924610, 661354566]);
  });

  it('gets the easy values right and refuses what has no value', () => {
    expect(detLn(1)).toBe(0);
    expect(detExp(0)).toBe(1);
    expect(detLog10(1000)).toBeCloseTo(3, 14);
    expect(detPow(2, 10)).toBeCloseTo(1024, 10);
    expect(detLn(0)).toBeNaN();
    expect(detLn(-1)).toBeNaN();
    expect(detExp(Number.POSITIVE_INFINITY)).toBeNaN();
  });
});
