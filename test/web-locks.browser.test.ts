// createBrowserNode's claim on its IndexedDB database (Chromium, real Web Locks): two tabs of one
// page never share a database, and a freed one is taken again first.
import { describe, expect, it } from 'vitest';
import { claimStorageName } from '../lib/platform/web-locks.browser.js';

describe('claimStorageName (Web Locks)', () => {
  it('gives concurrent claims distinct names and hands a released name to the next claim', async () => {
    const base = `claim-${crypto.randomUUID()}`;
    const a = await claimStorageName(base);
    const b = await claimStorageName(base);
    const c = await claimStorageName(base);
    expect([a.name, b.name, c.name]).toEqual([base, `${base}-2`, `${base}-3`]);
    const held = await navigator.locks.query();
    expect(held.held?.map((l) => l.name).filter((n) => n?.startsWith(`clusterluck:${base}`)).sort()).toEqual([`clusterluck:${base}`, `clusterluck:${base}-2`, `clusterluck:${base}-3`]);
    a.release();
    await expect.poll(async () => (await navigator.locks.query()).held?.some((l) => l.name === `clusterluck:${base}`)).toBe(false);
    const d = await claimStorageName(base);
    expect(d.name).toBe(base);
    for (const x of [b, c, d]) x.release();
  });
});
