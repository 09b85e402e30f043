// One Storage compliance suite, run against every implementation: memory, files, IndexedDB and
// the simulator's disk. Each spec file passes a factory.
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Storage } from '../lib/env/storage.js';

/** How a spec file makes (and re-opens) the storage under test. */
export interface StorageFactory {
  setup(): Promise<Storage>;
  teardown(): Promise<void>;
  /** A new Storage on the same backing data (a restart); omitted where there is none. */
  reopen?(): Promise<Storage>;
}

const bytes = (...values: number[]): Uint8Array => new Uint8Array(values);

/** Byte equality with a message that says where: `toEqual` on a MiB takes seconds. */
function expectBytes(actual: Uint8Array | undefined, expected: Uint8Array): void {
  expect(actual).toBeInstanceOf(Uint8Array);
  const a = actual as Uint8Array;
  expect(a.byteLength).toBe(expected.byteLength);
  const at = a.findIndex((b, i) => b !== expected[i]);
  expect(at, `first differing byte at ${at}`).toBe(-1);
}

/** Registers the suite under `name`. */
export function storageCompliance(name: string, factory: StorageFactory): void {
  describe(name, () => {
    let s: Storage;
    beforeEach(async () => {
      s = await factory.setup();
    });
    afterEach(async () => {
      await factory.teardown();
    });

    it('a missing key reads as undefined', async () => {
      expect(await s.read('missing')).toBeUndefined();
    });

    it('write replaces the whole value', async () => {
      await s.write('k', bytes(1, 2, 3));
      await s.write('k', bytes(9));
      expectBytes(await s.read('k'), bytes(9));
      await s.write('k', bytes());
      expectBytes(await s.read('k'), bytes());
    });

    it('append adds bytes in order, creating the key', async () => {
      await s.append('log', bytes(1));
      await s.append('log', bytes(2, 3));
      await s.append('log', bytes());
      expectBytes(await s.read('log'), bytes(1, 2, 3));
    });

    it('calls on one key that are not awaited keep their order', async () => {
      const calls = [s.write('k', bytes(0))];
      for (let i = 1; i <= 50; i++) calls.push(s.append('k', bytes(i)));
      calls.push(s.write('w', bytes(1)), s.delete('w'), s.write('w', bytes(2)));
      const read = s.read('k');
      await Promise.all(calls);
      expectBytes(await read, Uint8Array.from({ length: 51 }, (_, i) => i));
      expectBytes(await s.read('w'), bytes(2));
    });

    it('every byte value and a 1 MiB value round-trip exactly', async () => {
      const all = Uint8Array.from({ length: 256 }, (_, i) => i);
      await s.write('all', all);
      expectBytes(await s.read('all'), all);
      const big = Uint8Array.from({ length: 1 << 20 }, (_, i) => (i * 31 + (i >> 8)) & 0xff);
      await s.write('big', big);
      await s.append('big', all);
      const back = await s.read('big');
      expectBytes(back?.subarray(0, big.byteLength), big);
      expectBytes(back?.subarray(big.byteLength), all);
    });

    it('the caller may reuse its buffer as soon as write or append returns', async () => {
      const buf = bytes(1, 2);
      const done = [s.write('w', buf), s.append('a', buf)];
      buf[0] = 99;
      await Promise.all(done);
      expectBytes(await s.read('w'), bytes(1, 2));
      expectBytes(await s.read('a'), bytes(1, 2));
      const got = (await s.read('w')) as Uint8Array;
      got[1] = 77;
      expectBytes(await s.read('w'), bytes(1, 2));
    });

    it('list returns the keys with a prefix, sorted, including names that end like temporary files', async () => {
      for (const k of ['b.log', 'a.snap', 'a.log', 'c', 'a.log.tmp', 'Z']) await s.write(k, bytes(0));
      expect(await s.list('a.')).toEqual(['a.log', 'a.log.tmp', 'a.snap']);
      expect(await s.list()).toEqual(['Z', 'a.log', 'a.log.tmp', 'a.snap', 'b.log', 'c']);
      expect(await s.list('none')).toEqual([]);
    });

    it('list sees calls that were made before it and not yet awaited', async () => {
      const calls = [s.write('x1', bytes(1)), s.append('x2', bytes(2)), s.delete('x1')];
      expect(await s.list('x')).toEqual(['x2']);
      await Promise.all(calls);
    });

    it('delete removes a key and is a no-op when it is absent', async () => {
      await s.write('k', bytes(1));
      await s.delete('k');
      await s.delete('k');
      await s.delete('never');
      expect(await s.read('k')).toBeUndefined();
      expect(await s.list()).toEqual([]);
    });

    it('sync of a key that does not exist resolves', async () => {
      await s.sync('nothing');
      await s.write('k', bytes(1));
      await s.delete('k');
      await s.sync('k');
    });

    it('a key that is not a flat name is INVALID_ARGUMENT, for every call', async () => {
      const bad: unknown[] = ['', '.', '..', '../x', 'a/b', 'a\\b', 'sp ace', 'é', 'x~tmp', 'k'.repeat(201), 7, undefined];
      for (const key of bad) {
        const k = key as string;
        for (const call of [s.read(k), s.write(k, bytes(1)), s.append(k, bytes(1)), s.delete(k), s.sync(k)]) {
          await expect(call).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
        }
      }
      await s.write('k'.repeat(200), bytes(1));
      expect(await s.list()).toEqual(['k'.repeat(200)]);
    });

    it('after close every call is NOT_RUNNING, and close again is fine', async () => {
      await s.write('k', bytes(1));
      await s.close();
      for (const call of [s.read('k'), s.write('k', bytes(1)), s.append('k', bytes(1)), s.delete('k'), s.list(), s.sync('k')]) {
        await expect(call).rejects.toMatchObject({ code: 'NOT_RUNNING' });
      }
      await s.close();
    });

    // Skipped, visibly, where the backend has no backing data to reopen (memory).
    it.skipIf(factory.reopen === undefined)('a reopened storage sees what was synced, deletes included', async () => {
      if (factory.reopen === undefined) throw new Error('unreachable: skipped without reopen');
      await s.write('snap', bytes(7, 7));
      await s.append('log', bytes(1));
      await s.append('log', bytes(2));
      await s.write('gone', bytes(3));
      await s.sync('gone');
      await s.delete('gone');
      for (const k of ['snap', 'log', 'gone']) await s.sync(k);
      await s.close();
      const again = await factory.reopen();
      try {
        expectBytes(await again.read('snap'), bytes(7, 7));
        expectBytes(await again.read('log'), bytes(1, 2));
        expect(await again.list()).toEqual(['log', 'snap']);
      } finally {
        await again.close();
      }
    });

    it('property: random writes, appends and deletes, awaited or not, agree with a Map model', async () => {
      const keys = ['a', 'b', 'c'];
      const op = fc.record({
        kind: fc.constantFrom('write', 'append', 'delete'),
        key: fc.constantFrom(...keys),
        data: fc.uint8Array({ maxLength: 8 }),
        wait: fc.boolean(),
      });
      await fc.assert(
        fc.asyncProperty(fc.array(op, { maxLength: 25 }), async (ops) => {
          const model = new Map<string, Uint8Array>();
          for (const k of keys) await s.delete(k);
          const inFlight: Promise<unknown>[] = [];
          for (const o of ops) {
            if (o.kind === 'write') model.set(o.key, o.data);
            if (o.kind === 'append') model.set(o.key, new Uint8Array([...(model.get(o.key) ?? []), ...o.data]));
            if (o.kind === 'delete') model.delete(o.key);
            const call = s[o.kind](o.key, o.data);
            if (o.wait) await call;
            else inFlight.push(call);
          }
          await Promise.all(inFlight);
          for (const k of keys) expect(await s.read(k)).toEqual(model.get(k));
          expect(await s.list()).toEqual([...model.keys()].sort());
        }),
        { numRuns: 30 },
      );
    });
  });
}
