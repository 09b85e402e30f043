import { describe, expect, it } from 'vitest';
import { tableRecordBytesMax } from '../lib/constants.js';
import type { Storage } from '../lib/env/storage.js';
import { DTable, type DTableOptions } from '../lib/table/dtable.js';
import { memoryStorage } from '../lib/platform/storage/memory-storage.js';
import { MTable } from '../lib/table/mtable.js';
import type { Table } from '../lib/table/table.js';
import { VirtualClock } from '../sim/clock/virtual-clock.js';
import { tableBackends } from './support/table-backends.js';

const backends = tableBackends();

function table(storage: Storage, opts: Partial<DTableOptions> = {}): DTable<unknown> {
  return new DTable<unknown>({ storage, clock: new VirtualClock(), name: 't', ...opts });
}

async function loaded(storage: Storage, opts: Partial<DTableOptions> = {}): Promise<DTable<unknown>> {
  const t = table(storage, opts);
  await t.load();
  return t;
}

describe.each([
  ['MTable', () => new MTable<unknown>()],
  ['DTable', () => table(memoryStorage())],
] as [string, () => Table<unknown>][])('%s, the shared table interface', (_name, make) => {
  it('keys like "__proto__" and "constructor" are ordinary keys, in insertion order', async () => {
    const t = make().start();
    await t.set('__proto__', { polluted: true });
    await t.set('constructor', 1);
    await t.set('x', null);
    expect([t.size, t.get('__proto__'), t.has('constructor'), t.has('toString')]).toEqual([3, { polluted: true }, true, false]);
    const seen: [string, unknown][] = [];
    t.forEach((v, k) => seen.push([k, v]));
    expect(seen).toEqual([...t.entries()]);
    expect([...t.keys()]).toEqual(['__proto__', 'constructor', 'x']);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    await t.delete('constructor');
    await t.delete('absent');
    expect([...t.values()]).toEqual([{ polluted: true }, null]);
    await t.clear();
    expect(t.size).toBe(0);
    await t.stop();
  });

  it('a stop and start keep the entries, and a key that is not a string is INVALID_ARGUMENT', async () => {
    const t = make().start();
    await t.set('k', 1);
    await t.stop();
    t.start();
    await t.load();
    expect(t.get('k')).toBe(1);
    await expect(t.set(7 as unknown as string, 1)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(t.idle()).toBe(true);
  });
});

describe.each(backends)('DTable on %s storage', (_name, make) => {
  for (const compress of [false, true]) {
    it(`set, delete and clear survive stop and load in a new table (compress ${compress})`, async () => {
      const storage = await make();
      const a = table(storage, { compress }).start();
      await a.set('x', { v: 1, nested: JSON.parse('{"__proto__":"own"}') });
      await a.set('__proto__', 'ordinary');
      await a.set('constructor', [1, 2]);
      await a.set('gone', true);
      await a.delete('gone');
      await a.stop();
      const b = (await loaded(storage, { compress: !compress })).start();
      expect([...b.entries()]).toEqual([['x', { v: 1, nested: JSON.parse('{"__proto__":"own"}') }], ['__proto__', 'ordinary'], ['constructor', [1, 2]]]);
      await b.clear();
      await b.set('after', 1);
      await b.stop();
      expect([...(await loaded(storage)).entries()]).toEqual([['after', 1]]);
    });
  }

  it('a graceful stop, start and load of the same table keep everything (Clusterluck logged clear)', async () => {
    const storage = await make();
    const a = table(storage).start();
    for (let i = 0; i < 5; i++) await a.set(`k${i}`, i);
    await a.stop();
    a.start();
    await a.load();
    expect(a.size).toBe(5);
    await a.stop();
    expect((await loaded(storage)).size).toBe(5);
  });

  it('a table dropped without stop() comes back from its synced log', async () => {
    const storage = await make();
    const a = table(storage, { fsyncInterval: 0 }).start();
    for (let i = 0; i < 10; i++) await a.set(`k${i}`, i);
    await a.delete('k3');
    const b = await loaded(storage);
    expect([b.size, b.get('k9'), b.has('k3')]).toEqual([9, 9, false]);
    expect(a.stats.syncs).toBeGreaterThanOrEqual(11);
  });

  it('writeThreshold takes a snapshot and starts a new log', async () => {
    const storage = await make();
    const a = table(storage, { writeThreshold: 5 }).start();
    for (let i = 0; i < 12; i++) await a.set(`k${i}`, i);
    await a.written();
    expect(a.stats.snapshots).toBe(2);
    expect(a.stats.generation).toBe(2);
    const b = await loaded(storage);
    expect(b.size).toBe(12);
    expect(b.stats.corruptRecordsSkipped).toBe(0);
  });

  it('autoSave snapshots a changed table on the injected clock, and only a changed one', async () => {
    const storage = await make();
    const clock = new VirtualClock();
    const a = table(storage, { clock, autoSave: 1000 }).start();
    await a.set('k', 1);
    await clock.advance(999);
    expect(a.stats.snapshots).toBe(0);
    await clock.advance(1);
    await a.written();
    expect(a.stats.snapshots).toBe(1);
    await clock.advance(5000);
    expect(a.stats.snapshots).toBe(1);
    await a.stop();
    expect(clock.pending()).toBe(0);
  });

  it('fsyncInterval syncs the log on the clock', async () => {
    const storage = await make();
    const clock = new VirtualClock();
    const a = table(storage, { clock, fsyncInterval: 100 }).start();
    await a.set('k', 1);
    expect(a.stats.syncs).toBe(0);
    await clock.advance(100);
    await a.written();
    expect(a.stats.syncs).toBe(1);
  });

  it('changes made while an append is in flight share one append (group commit)', async () => {
    const storage = await make();
    const a = table(storage, { fsyncInterval: 0 });
    await Promise.all(Array.from({ length: 100 }, (_, i) => a.set(`k${i}`, i)));
    expect(a.stats.recordsAppended).toBe(100);
    expect(a.stats.appends).toBeLessThanOrEqual(2);
    expect((await loaded(storage)).size).toBe(100);
  });

  it('a compressed snapshot is gzip and smaller', async () => {
    const storage = await make();
    const a = table(storage, { compress: true });
    for (let i = 0; i < 50; i++) await a.set(`key-${i}`, 'the same long value '.repeat(10));
    await a.snapshot();
    const snap = (await storage.read('t.snap')) as Uint8Array;
    expect([snap[10], snap[11]]).toEqual([0x1f, 0x8b]);
    expect(snap.byteLength).toBeLessThan(2000);
  });
});

describe('DTable input and errors', () => {
  it('a value JSON cannot hold, or longer than a record may be, is INVALID_ARGUMENT and never reaches the table', async () => {
    const t = table(memoryStorage());
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    const huge = ['x'.repeat(tableRecordBytesMax), 'é'.repeat(tableRecordBytesMax / 2)];
    for (const bad of [undefined, () => 1, Symbol('s'), 10n, cyclic, ...huge]) {
      await expect(t.set('k', bad)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    }
    expect([t.size, t.stats.recordsAppended]).toEqual([0, 0]);
  });

  it('bad options are INVALID_ARGUMENT naming the option', () => {
    const ok = { storage: memoryStorage(), clock: new VirtualClock() };
    const bad: [Partial<DTableOptions>, string][] = [
      [{ name: '../x' }, 'name'], [{ writeThreshold: 0 }, 'writeThreshold'], [{ writeThreshold: 1.5 }, 'writeThreshold'],
      [{ autoSave: 0 }, 'autoSave'], [{ fsyncInterval: -1 }, 'fsyncInterval'], [{ fsyncInterval: Number.NaN }, 'fsyncInterval'],
    ];
    for (const [opts, field] of bad) {
      expect(() => new DTable({ ...ok, ...opts } as DTableOptions)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', fails: expect.objectContaining({ [field]: expect.any(String) }) }));
    }
  });

  it('written() rejects when an append it waits for failed', async () => {
    const inner = memoryStorage();
    const t = table({ ...inner, append: async () => Promise.reject(new Error('disk full')) });
    const done = t.set('k', 1);
    await expect(t.written()).rejects.toThrow('disk full');
    await expect(done).rejects.toThrow('disk full');
    await expect(t.written()).resolves.toBeUndefined();
  });

  it('idle() is false while a change is being written and true after', async () => {
    const t = table(memoryStorage());
    const done = t.set('k', 1);
    expect(t.idle()).toBe(false);
    await done;
    await t.written();
    expect(t.idle()).toBe(true);
  });
});
