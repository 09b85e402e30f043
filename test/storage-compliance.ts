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
      expect(await s.read('k')).toEqual(bytes(9));
    });

    it('append adds bytes in order, creating the key', async () => {
      await s.append('log', bytes(1));
      await s.append('log', bytes(2, 3));
      await s.append('log', bytes());
      expect(await s.read('log')).toEqual(bytes(1, 2, 3));
    });

    it('every byte value and a 1 MiB value round-trip exactly', async () => {
      const all = Uint8Array.from({ length: 256 }, (_, i) => i);
      await s.write('all', all);
      expect(await s.read('all')).toEqual(all);
      const big = Uint8Array.from({ length: 1 << 20 }, (_, i) => (i * 31) & 0xff);
      await s.write('big', big);
      expect(await s.read('big')).toEqual(big);
    });

    it('the caller may reuse its buffer after write and append', async () => {
      const buf = bytes(1, 2);
      await s.write('w', buf);
      await s.append('a', buf);
      buf[0] = 99;
      expect([await s.read('w'), await s.read('a')]).toEqual([bytes(1, 2), bytes(1, 2)]);
    });

    it('list returns the keys with a prefix, sorted', async () => {
      for (const k of ['b.log', 'a.snap', 'a.log', 'c']) await s.write(k, bytes(0));
      expect(await s.list('a.')).toEqual(['a.log', 'a.snap']);
      expect(await s.list()).toEqual(['a.log', 'a.snap', 'b.log', 'c']);
    });

    it('delete removes a key and is a no-op when it is absent', async () => {
      await s.write('k', bytes(1));
      await s.delete('k');
      await s.delete('k');
      expect(await s.read('k')).toBeUndefined();
      expect(await s.list()).toEqual([]);
    });

    it('a key that is not a flat name is INVALID_ARGUMENT', async () => {
      for (const bad of ['', '../x', 'a/b', 'sp ace']) await expect(s.write(bad, bytes(1))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    });

    it('after close every call is NOT_RUNNING', async () => {
      await s.close();
      await expect(s.read('k')).rejects.toMatchObject({ code: 'NOT_RUNNING' });
      await expect(s.write('k', bytes(1))).rejects.toMatchObject({ code: 'NOT_RUNNING' });
    });

    it('a reopened storage sees what was synced', async () => {
      if (factory.reopen === undefined) return;
      await s.write('snap', bytes(7, 7));
      await s.append('log', bytes(1));
      await s.sync('snap');
      await s.sync('log');
      const again = await factory.reopen();
      expect([await again.read('snap'), await again.read('log')]).toEqual([bytes(7, 7), bytes(1)]);
    });

    it('property: random writes, appends and deletes agree with a Map model', async () => {
      const op = fc.record({ kind: fc.constantFrom('write', 'append', 'delete'), key: fc.constantFrom('a', 'b', 'c'), data: fc.uint8Array({ maxLength: 8 }) });
      await fc.assert(
        fc.asyncProperty(fc.array(op, { maxLength: 25 }), async (ops) => {
          const model = new Map<string, Uint8Array>();
          for (const k of ['a', 'b', 'c']) await s.delete(k);
          for (const o of ops) {
            if (o.kind === 'write') model.set(o.key, o.data);
            if (o.kind === 'append') model.set(o.key, new Uint8Array([...(model.get(o.key) ?? []), ...o.data]));
            if (o.kind === 'delete') model.delete(o.key);
            await s[o.kind](o.key, o.data);
          }
          for (const k of ['a', 'b', 'c']) expect(await s.read(k)).toEqual(model.get(k));
        }),
        { numRuns: 25 },
      );
    });
  });
}
