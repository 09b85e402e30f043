import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { Storage } from '../lib/env/storage.js';
import { idbStorage } from '../lib/platform/storage/idb-storage.browser.js';
import { DTable, type DTableOptions } from '../lib/table/dtable.js';
import { VirtualClock } from '../sim/clock/virtual-clock.js';

const opened: Storage[] = [];
const names: string[] = [];
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
  for (const name of names.splice(0)) indexedDB.deleteDatabase(name);
});

/** A new connection to the database `name` (a new one each call, as after a reload). */
function storage(name: string): Storage {
  if (!names.includes(name)) names.push(name);
  const s = idbStorage(name, 'tables');
  opened.push(s);
  return s;
}

const table = (s: Storage, opts: Partial<DTableOptions> = {}): DTable<unknown> =>
  new DTable<unknown>({ storage: s, clock: new VirtualClock(), name: 'dsm', ...opts });

describe('DTable on IndexedDB (Chromium)', () => {
  for (const compress of [false, true]) {
    it(`a new table on a new connection loads what a stopped one wrote (compress ${compress})`, async () => {
      const db = `clusterluck-dtable-${crypto.randomUUID()}`;
      const a = table(storage(db), { compress }).start();
      await a.set('__proto__', { n: 2 });
      await a.set('gone', 1);
      await a.delete('gone');
      await a.set('constructor', 'ordinary');
      await a.stop();
      const b = table(storage(db));
      await b.load();
      expect([...b.entries()]).toEqual([['__proto__', { n: 2 }], ['constructor', 'ordinary']]);
    });
  }

  it('a table dropped without stop() comes back from its synced log', async () => {
    const db = `clusterluck-dtable-${crypto.randomUUID()}`;
    const a = table(storage(db), { fsyncInterval: 0, writeThreshold: 7 }).start();
    for (let i = 0; i < 20; i++) await a.set(`k${i}`, i);
    await a.clear();
    await a.set('last', true);
    const b = table(storage(db));
    await b.load();
    expect([...b.entries()]).toEqual([['last', true]]);
  });

  it('property: random changes, snapshots and restarts agree with a Map model', async () => {
    const op = fc.oneof(
      fc.tuple(fc.constant('set' as const), fc.constantFrom('a', 'b', '__proto__'), fc.integer()),
      fc.tuple(fc.constant('delete' as const), fc.constantFrom('a', 'b')),
      fc.constantFrom(['clear'] as const, ['snapshot'] as const, ['restart'] as const),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 15 }), async (ops) => {
        const db = `clusterluck-dtable-${crypto.randomUUID()}`;
        let t = table(storage(db), { writeThreshold: 3 }).start();
        const model = new Map<string, unknown>();
        for (const o of ops) {
          if (o[0] === 'set') await t.set(o[1], o[2]), model.set(o[1], o[2]);
          if (o[0] === 'delete') await t.delete(o[1]), model.delete(o[1]);
          if (o[0] === 'clear') await t.clear(), model.clear();
          if (o[0] === 'snapshot') await t.snapshot();
          if (o[0] === 'restart') {
            await t.stop();
            t = table(storage(db), { writeThreshold: 3 }).start();
            await t.load();
          }
          expect([...t.entries()]).toEqual([...model]);
        }
        await t.stop();
      }),
      { numRuns: 15 },
    );
  });
});
