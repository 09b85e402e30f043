// Logarithm and exponential from + − × ÷ alone, so that they give the same double in every
// JavaScript engine. `Math.log`, `Math.log10` and `Math.pow` do not: Node 20's V8 and Chromium's
// differ in the last bit for some inputs, and a simulated drift rate or wait that differs by one
// ulp made the simulator's page run and its Node run part ways (test/demo-page.test.ts). The
// simulator and the failure detector's timeout use these; each is within a few ulps of Math's.

const ln2 = 0.6931471805599453;

/** ln(x) for a finite x > 0: x = m·2^k with m in [√½, √2], then 2·atanh((m − 1)/(m + 1)) by its series. */
export function detLn(x: number): number {
  if (!(x > 0) || !Number.isFinite(x)) return Number.NaN;
  let m = x;
  let k = 0;
  while (m > Math.SQRT2) {
    m /= 2;
    k++;
  }
  while (m < Math.SQRT1_2) {
    m *= 2;
    k--;
  }
  const z = (m - 1) / (m + 1);
  const z2 = z * z;
  let term = z;
  let sum = 0;
  // |z| ≤ 0.172, so z^(2i+1) is below 1e-18 relative by i = 12.
  for (let i = 0; i < 16; i++) {
    sum += term / (2 * i + 1);
    term *= z2;
  }
  return 2 * sum + k * ln2;
}

/** e^x for a finite x: x = k·ln2 + r with |r| ≤ ln2/2, then e^r by its series, times 2^k. */
export function detExp(x: number): number {
  if (!Number.isFinite(x)) return Number.NaN;
  const k = Math.round(x / ln2);
  const r = x - k * ln2;
  let term = 1;
  let sum = 1;
  for (let i = 1; i < 20; i++) {
    term = (term * r) / i;
    sum += term;
  }
  let scale = 1;
  for (let i = 0; i < Math.abs(k); i++) scale *= 2;
  return k >= 0 ? sum * scale : sum / scale;
}

/** base^e for base > 0, as e^(e·ln base). */
export function detPow(base: number, e: number): number {
  return detExp(e * detLn(base));
}

const ln10 = detLn(10);

/** log10(x) for x > 0. */
export function detLog10(x: number): number {
  return detLn(x) / ln10;
}
