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
