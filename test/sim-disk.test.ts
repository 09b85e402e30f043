import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SimDisk } from '../sim/disk/sim-disk.js';
import { seededRandom } from '../sim/world/seeded-random.js';
import { storageCompliance } from './storage-compliance.js';

let disk: SimDisk;

storageCompliance('simulated disk', {
  async setup() {
    disk = new SimDisk({ random: seededRandom('disk') });
    return disk.storage();
  },
  teardown: async () => undefined,
  reopen: async () => {
    disk.crash();
    return disk.storage();
  },
});

describe('SimDisk', () => {
  it('a crash loses what was not synced and closes the old process view', async () => {
    const d = new SimDisk({ random: seededRandom('crash') });
    const s = d.storage();
    await s.append('log', new Uint8Array([1, 2]));
    await s.sync('log');
    await s.append('log', new Uint8Array([3]));
    await s.write('other', new Uint8Array([9]));
    d.crash();
    await expect(s.read('log')).rejects.toMatchObject({ code: 'NOT_RUNNING' });
    const after = d.storage();
    expect([await after.read('log'), await after.read('other')]).toEqual([new Uint8Array([1, 2]), undefined]);
  });

  it('whatever the mix of appends, writes, syncs, reads and crashes, reads and peeks show what a plain model of the disk holds', async () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('append' as const), key: fc.constantFrom('a', 'b'), bytes: fc.uint8Array({ maxLength: 300 }) }),
      fc.record({ kind: fc.constant('write' as const), key: fc.constantFrom('a', 'b'), bytes: fc.uint8Array({ maxLength: 40 }) }),
      fc.record({ kind: fc.constantFrom('sync' as const, 'read' as const, 'delete' as const), key: fc.constantFrom('a', 'b') }),
      fc.record({ kind: fc.constant('crash' as const) }),
    );
    await fc.assert(fc.asyncProperty(fc.array(op, { maxLength: 60 }), async (ops) => {
      const d = new SimDisk({ random: seededRandom('model') });
      let s = d.storage();
      const visible = new Map<string, number[]>();
      const durable = new Map<string, number[]>();
      for (const o of ops) {
        if (o.kind === 'crash') {
          d.crash();
          s = d.storage();
          visible.clear();
          for (const [k, v] of durable) visible.set(k, [...v]);
          continue;
        }
        const { key } = o;
        if (o.kind === 'append') {
          const written = o.bytes.slice();
          await s.append(key, o.bytes);
          o.bytes.fill(7); // the caller reuses its buffer
          visible.set(key, [...(visible.get(key) ?? []), ...written]);
        } else if (o.kind === 'write') {
          await s.write(key, o.bytes);
          visible.set(key, [...o.bytes]);
        } else if (o.kind === 'delete') {
          await s.delete(key);
          visible.delete(key);
        } else if (o.kind === 'sync') {
          await s.sync(key);
          const v = visible.get(key);
          if (v === undefined) durable.delete(key);
          else durable.set(key, [...v]);
        } else {
          const read = await s.read(key);
          expect(read === undefined ? undefined : [...read]).toEqual(visible.get(key));
          read?.fill(9); // a reader may scribble on what it got
        }
        for (const k of ['a', 'b']) expect([k, d.peek(k) === undefined ? undefined : [...(d.peek(k) as Uint8Array)]]).toEqual([k, durable.get(k)]);
      }
    }), { numRuns: 60 });
  });

  it('with torn writes on, a crash can keep part of the last unsynced append', async () => {
    const d = new SimDisk({ random: seededRandom('torn'), tornWriteProbability: 1 });
    const s = d.storage();
    await s.append('log', new Uint8Array([1]));
    await s.sync('log');
    await s.append('log', new Uint8Array([2, 3, 4, 5, 6, 7, 8, 9]));
    d.crash();
    const kept = (await d.storage().read('log')) as Uint8Array;
    expect(kept[0]).toBe(1);
    expect(kept.byteLength).toBeLessThan(9);
    expect(d.stats.tornWrites).toBe(1);
  });
});
