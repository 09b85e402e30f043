// DTable against damage and crashes: torn and corrupt log records, corrupt snapshots, a crash
// at every storage call, and model-based properties with restarts and crashes.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Storage } from '../lib/env/storage.js';
import { DTable, type DTableOptions } from '../lib/table/dtable.js';
import { memoryStorage } from '../lib/platform/storage/memory-storage.js';
import { SimDisk } from '../sim/disk/sim-disk.js';
import { seededRandom } from '../sim/world/seeded-random.js';
import { VirtualClock } from '../sim/clock/virtual-clock.js';
import { tableBackends } from './support/table-backends.js';

const backends = tableBackends();

const table = (storage: Storage, opts: Partial<DTableOptions> = {}): DTable<unknown> =>
  new DTable<unknown>({ storage, clock: new VirtualClock(), name: 't', ...opts });

async function loaded(storage: Storage, opts: Partial<DTableOptions> = {}): Promise<DTable<unknown>> {
  const t = table(storage, opts);
  await t.load();
  return t;
}

/** A log of three records of 22 bytes each (9 of frame, 13 of JSON): a=1, b=2, c=3. */
async function threeRecords(storage: Storage): Promise<Uint8Array> {
  const a = table(storage);
  for (const [k, v] of [['a', 1], ['b', 2], ['c', 3]] as const) await a.set(k, v);
  const log = (await storage.read('t.log')) as Uint8Array;
  expect(log.byteLength).toBe(66);
  return log;
}

describe.each(backends)('DTable on damaged %s storage', (_name, make) => {
  it('a torn last record is skipped and counted; earlier records are kept, and later writes land', async () => {
    const storage = await make();
    const log = await threeRecords(storage);
    await storage.write('t.log', log.slice(0, log.byteLength - 4));
    const b = await loaded(storage);
    expect([...b.keys()]).toEqual(['a', 'b']);
    expect(b.stats.corruptRecordsSkipped).toBe(1);
    await b.set('d', 4);
    const c = await loaded(storage);
    expect([...c.entries()]).toEqual([['a', 1], ['b', 2], ['d', 4]]);
    expect(c.stats.corruptRecordsSkipped).toBe(0);
  });

  for (const [where, at] of [['payload', 22 + 9 + 5], ['length field', 22 + 7], ['magic byte', 22]] as const) {
    it(`a flipped byte in the ${where} of the middle record costs that record alone`, async () => {
      const storage = await make();
      const log = await threeRecords(storage);
      log[at] = (log[at] as number) ^ 0x40;
      await storage.write('t.log', log);
      const b = await loaded(storage);
      expect([...b.entries()]).toEqual([['a', 1], ['c', 3]]);
      expect(b.stats.corruptRecordsSkipped).toBe(1);
    });
  }

  it('a corrupt snapshot is STORAGE_CORRUPT: never an empty table, and never overwritten', async () => {
    const storage = await make();
    const a = table(storage);
    await a.set('a', 1);
    await a.stop();
    const snap = (await storage.read('t.snap')) as Uint8Array;
    for (const damage of [(s: Uint8Array) => s.slice(0, -3), (s: Uint8Array) => s.map((b, i) => (i === s.byteLength - 2 ? b ^ 0xff : b))]) {
      const bad = damage(snap);
      await storage.write('t.snap', bad);
      const b = table(storage);
      await expect(b.set('mine', 1)).rejects.toMatchObject({ code: 'STORAGE_CORRUPT' });
      await expect(b.load()).rejects.toMatchObject({ code: 'STORAGE_CORRUPT', message: expect.stringContaining('"t"') });
      await expect(b.set('x', 1)).rejects.toMatchObject({ code: 'STORAGE_CORRUPT' });
      await expect(b.stop()).rejects.toMatchObject({ code: 'STORAGE_CORRUPT' });
      expect(await storage.read('t.snap')).toEqual(bad);
    }
  });

  it('changes made before the first load are added to the stored state, not written over it', async () => {
    const storage = await make();
    const a = table(storage);
    await a.set('old', 1);
    await a.stop();
    const b = table(storage);
    await b.set('new', 2);
    expect([...b.keys()]).toEqual(['old', 'new']);
    await b.stop();
    expect([...(await loaded(storage)).entries()]).toEqual([['old', 1], ['new', 2]]);
  });
});

/** `inner`, except that every call after the first `calls` fails, as after a crash. */
function crashingAfter(inner: Storage, calls: number): Storage {
  let n = 0;
  const gate = <A extends unknown[], R>(f: (...a: A) => Promise<R>) => async (...a: A): Promise<R> => {
    if (n++ >= calls) throw new Error('crashed');
    return f(...a);
  };
  return {
    read: gate(inner.read), write: gate(inner.write), append: gate(inner.append), delete: gate(inner.delete),
    list: gate(inner.list), sync: gate(inner.sync), close: inner.close,
  };
}

type Op = readonly ['set', string, number] | readonly ['delete', string] | readonly ['clear'] | readonly ['snapshot'];
const script: Op[] = [
  ['set', 'a', 1], ['set', 'b', 2], ['delete', 'a'], ['set', 'c', 3], ['snapshot'], ['clear'], ['set', 'a', 4],
  ['set', 'b', 5], ['set', 'c', 6], ['delete', 'b'], ['set', '__proto__', 7],
];
const applyOp = (m: Map<string, unknown>, op: Op): void => {
  if (op[0] === 'set') m.set(op[1], op[2]);
  if (op[0] === 'delete') m.delete(op[1]);
  if (op[0] === 'clear') m.clear();
};
const runOp = (t: DTable<unknown>, op: Op): Promise<void> =>
  op[0] === 'set' ? t.set(op[1], op[2]) : op[0] === 'delete' ? t.delete(op[1]) : op[0] === 'clear' ? t.clear() : t.snapshot();
const show = (m: Iterable<[string, unknown]>): string => JSON.stringify([...m].sort());

describe('DTable and crashes', () => {
  // Each group's calls are made at once (changes queue behind a snapshot), then awaited together.
  const sequential = script.map((op) => [op]);
  // Changes queued behind a snapshot are in it and also appended after it: the case the
  // generation numbers exist for (replaying the old log over that snapshot would give {a1, b2, c4}).
  const grouped: Op[][] = [
    [['set', 'a', 1]],
    [['set', 'b', 2], ['snapshot'], ['set', 'b', 3], ['set', 'c', 4]],
    [['delete', 'a'], ['snapshot'], ['clear'], ['set', 'a', 5], ['set', 'd', 6]],
    [['set', 'b', 7], ['set', '__proto__', 8]],
  ];
  for (const [how, groups] of [['one at a time', sequential], ['in groups not awaited', grouped]] as const) {
    it(`a crash at any storage call, changes made ${how}, loads every acknowledged change and no state that never was`, async () => {
      for (let calls = 0; ; calls++) {
        const disk = new SimDisk({ random: seededRandom(`crash-${calls}`), tornWriteProbability: 0.5 });
        const t = table(crashingAfter(disk.storage(), calls), { fsyncInterval: 0, writeThreshold: 4 });
        const model = new Map<string, unknown>();
        const states = [show(model)];
        let acknowledged = 0;
        for (const group of groups) {
          const calls = group.map((op) => {
            applyOp(model, op);
            states.push(show(model));
            const index = states.length - 1;
            return runOp(t, op).then(() => index, () => 0);
          });
          acknowledged = Math.max(acknowledged, ...(await Promise.all(calls)));
        }
        const stopped = await t.stop().then(() => true, () => false);
        disk.crash();
        const after = await loaded(disk.storage());
        expect(states.slice(stopped ? states.length - 1 : acknowledged), `crash after ${calls} calls`).toContain(show(after.entries()));
        if (stopped) return; // every crash point up to a clean stop was tried
      }
    });
  }

  it('property: random changes, snapshots, restarts and drops agree with a Map model', async () => {
    const op = fc.oneof(
      fc.tuple(fc.constant('set' as const), fc.constantFrom('a', 'b', 'c', '__proto__', 'constructor'), fc.integer()),
      fc.tuple(fc.constant('delete' as const), fc.constantFrom('a', 'b', '__proto__')),
      fc.constantFrom(['clear'] as const, ['snapshot'] as const, ['restart'] as const, ['drop'] as const),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 40 }), fc.integer({ min: 1, max: 8 }), fc.boolean(), async (ops, writeThreshold, compress) => {
        const storage = memoryStorage();
        const opts = { writeThreshold, compress, fsyncInterval: 0 };
        let t = table(storage, opts).start();
        const model = new Map<string, unknown>();
        for (const o of ops) {
          if (o[0] === 'restart' || o[0] === 'drop') {
            if (o[0] === 'restart') await t.stop();
            else await t.written();
            t = (await loaded(storage, opts)).start();
            expect(show(t.entries())).toEqual(show(model));
          } else {
            applyOp(model, o);
            await runOp(t, o);
          }
        }
        await t.stop();
        expect([...(await loaded(storage)).entries()]).toEqual([...model]);
      }),
      { numRuns: 150 },
    );
  });

  it('property: after a crash at any point, load gives the synced state or a later one the writes went through, never garbage', async () => {
    const op = fc.oneof(
      fc.tuple(fc.constant('set' as const), fc.constantFrom('a', 'b', 'c', '__proto__'), fc.integer()),
      fc.tuple(fc.constant('delete' as const), fc.constantFrom('a', 'b')),
      fc.constantFrom(['clear'] as const, ['snapshot'] as const, ['flush'] as const, ['crash'] as const),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 40 }), fc.boolean(), fc.string(), async (ops, torn, seed) => {
        const disk = new SimDisk({ random: seededRandom(seed), tornWriteProbability: torn ? 0.5 : 0 });
        let t = table(disk.storage(), { writeThreshold: 7 }).start();
        const live = new Map<string, unknown>();
        let since = [show(live)]; // the states since the last point known to be durable
        for (const o of [...ops, ['crash'] as const]) {
          if (o[0] === 'flush') await t.flush();
          else if (o[0] !== 'crash') await runOp(t, o);
          if (o[0] === 'crash') {
            disk.crash();
            t = (await loaded(disk.storage(), { writeThreshold: 7 })).start();
            expect(since).toContain(show(t.entries()));
            live.clear();
            for (const [k, v] of t.entries()) live.set(k, v);
            since = [show(live)];
          } else if (o[0] === 'flush' || o[0] === 'snapshot') {
            since = [show(live)];
          } else {
            applyOp(live, o);
            since.push(show(live));
          }
        }
      }),
      { numRuns: 150 },
    );
  });
});
