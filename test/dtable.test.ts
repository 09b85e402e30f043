import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { Storage } from '../lib/env/storage.js';
import { fsStorage } from '../lib/platform/fs-storage.node.js';
import { DTable, type DTableOptions } from '../lib/table/dtable.js';
import { memoryStorage } from '../lib/table/memory-storage.js';
import { SimDisk } from '../sim/sim-disk.js';
import { seededRandom } from '../sim/seeded-random.js';
import { VirtualClock } from '../sim/virtual-clock.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const backends: [string, () => Promise<Storage>][] = [
  ['memory', async () => memoryStorage()],
  ['files', async () => {
    const d = await mkdtemp(join(tmpdir(), 'clusterluck-dtable-'));
    dirs.push(d);
    return fsStorage(d);
  }],
];

function table(storage: Storage, clock = new VirtualClock(), opts: Partial<DTableOptions> = {}): DTable<unknown> {
  return new DTable<unknown>({ storage, clock, name: 't', ...opts });
}

describe.each(backends)('DTable on %s storage', (_name, make) => {
  for (const compress of [false, true]) {
    it(`set, delete and clear survive stop and load (compress ${compress})`, async () => {
      const storage = await make();
      const a = table(storage, undefined, { compress }).start();
      await a.set('x', { v: 1 });
      await a.set('__proto__', 'ordinary');
      await a.set('constructor', [1, 2]);
      await a.set('gone', true);
      await a.delete('gone');
      await a.stop();
      const b = table(storage, undefined, { compress }).start();
      await b.load();
      expect([...b.entries()]).toEqual([['x', { v: 1 }], ['__proto__', 'ordinary'], ['constructor', [1, 2]]]);
      await b.clear();
      await b.stop();
      const c = table(storage);
      await c.load();
      expect(c.size).toBe(0);
    });
  }

  it('a table dropped without stop() comes back from its synced log', async () => {
    const storage = await make();
    const a = table(storage, undefined, { fsyncInterval: 0 }).start();
    for (let i = 0; i < 10; i++) await a.set(`k${i}`, i);
    await a.delete('k3');
    const b = table(storage);
    await b.load();
    expect(b.size).toBe(9);
    expect(b.get('k9')).toBe(9);
    expect(b.has('k3')).toBe(false);
  });

  it('writeThreshold takes a snapshot and empties the log', async () => {
    const storage = await make();
    const a = table(storage, undefined, { writeThreshold: 5 }).start();
    for (let i = 0; i < 12; i++) await a.set(`k${i}`, i);
    await a.flush();
    expect(a.stats.snapshots).toBe(2);
    const log = await storage.read('t.log');
    expect(log?.byteLength).toBeGreaterThan(0);
    const b = table(storage);
    await b.load();
    expect(b.size).toBe(12);
  });

  it('autoSave snapshots a changed table on the clock', async () => {
    const storage = await make();
    const clock = new VirtualClock();
    const a = table(storage, clock, { autoSave: 1000 }).start();
    await a.set('k', 1);
    await clock.advance(999);
    expect(a.stats.snapshots).toBe(0);
    await clock.advance(1);
    await until(() => a.stats.snapshots === 1);
    await clock.advance(1000);
    expect(a.stats.snapshots).toBe(1);
  });

  it('a torn last record is skipped and counted; earlier records are kept', async () => {
    const storage = await make();
    const a = table(storage).start();
    await a.set('a', 1);
    await a.set('b', 2);
    await a.set('c', 'the torn one');
    const log = (await storage.read('t.log')) as Uint8Array;
    await storage.write('t.log', log.slice(0, log.byteLength - 4));
    const b = table(storage);
    await b.load();
    expect([...b.keys()]).toEqual(['a', 'b']);
    expect(b.stats.corruptRecordsSkipped).toBe(1);
    await b.set('d', 4);
    const c = table(storage);
    await c.load();
    expect([...c.keys()]).toEqual(['a', 'b', 'd']);
  });

  it('a record with a flipped byte is skipped and counted; the records after it are kept', async () => {
    const storage = await make();
    const a = table(storage).start();
    await a.set('a', 1);
    await a.set('b', 2);
    await a.set('c', 3);
    const log = (await storage.read('t.log')) as Uint8Array;
    const recordBytes = log.byteLength / 3;
    const at = Math.floor(recordBytes * 1.5);
    log[at] = (log[at] as number) ^ 0x40;
    await storage.write('t.log', log);
    const b = table(storage);
    await b.load();
    expect([...b.keys()]).toEqual(['a', 'c']);
    expect(b.stats.corruptRecordsSkipped).toBe(1);
  });

  it('a corrupt snapshot is a STORAGE_CORRUPT error, never an empty table', async () => {
    const storage = await make();
    const a = table(storage).start();
    await a.set('a', 1);
    await a.stop();
    const snap = (await storage.read('t.snap')) as Uint8Array;
    snap[snap.byteLength - 2] = (snap[snap.byteLength - 2] as number) ^ 0xff;
    await storage.write('t.snap', snap);
    await expect(table(storage).load()).rejects.toMatchObject({ code: 'STORAGE_CORRUPT' });
  });
});

describe('DTable on the simulated disk', () => {
  it('property: after a crash at any point, load gives the synced state or a later prefix of the writes, never garbage', async () => {
    const op = fc.oneof(
      fc.record({ k: fc.constant('set' as const), key: fc.constantFrom('a', 'b', 'c', '__proto__'), v: fc.integer() }),
      fc.record({ k: fc.constant('delete' as const), key: fc.constantFrom('a', 'b') }),
      fc.record({ k: fc.constantFrom('clear' as const, 'snapshot' as const, 'flush' as const, 'crash' as const) }),
    );
    const sorted = (m: Iterable<[string, unknown]>): string => JSON.stringify([...m].sort());
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 40 }), fc.boolean(), async (ops, torn) => {
        const disk = new SimDisk({ random: seededRandom('dtable'), tornWriteProbability: torn ? 0.5 : 0 });
        let t = table(disk.storage(), undefined, { writeThreshold: 7 }).start();
        const live = new Map<string, unknown>();
        // States the table went through since the last point known to be durable.
        let since = [sorted(live)];
        for (const o of ops) {
          if (o.k === 'set') await t.set(o.key, o.v), live.set(o.key, o.v);
          if (o.k === 'delete') await t.delete(o.key), live.delete(o.key);
          if (o.k === 'clear') await t.clear(), live.clear();
          if (o.k === 'snapshot' || o.k === 'flush') await (o.k === 'snapshot' ? t.snapshot() : t.flush());
          if (o.k === 'snapshot' || o.k === 'flush') since = [sorted(live)];
          else since.push(sorted(live));
          if (o.k === 'crash') {
            disk.crash();
            t = table(disk.storage(), undefined, { writeThreshold: 7 }).start();
            await t.load();
            expect(since).toContain(sorted(t.entries()));
            live.clear();
            for (const [k, v] of t.entries()) live.set(k, v);
            since = [sorted(live)];
          }
        }
        disk.crash();
        const last = table(disk.storage());
        await last.load();
        expect(since).toContain(sorted(last.entries()));
      }),
      { numRuns: 100 },
    );
  });
});

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 1));
  expect(cond()).toBe(true);
}
