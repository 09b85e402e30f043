import { describe, expect, it } from 'vitest';
import { idbStorage } from '../lib/platform/storage/idb-storage.browser.js';
import { storageCompliance } from './storage-compliance.js';

let db = '';
let n = 0;

/**
 * Deletes a database; fails (rather than hangs) when a connection stays open. `blocked` alone is
 * no failure: a connection closed while its last transaction finishes closes a moment later.
 */
const deleteDb = (name: string): Promise<void> =>
  new Promise((resolve, reject) => {
    const req = indexedDB.deleteDatabase(name);
    const timer = setTimeout(() => reject(new Error(`database ${name} is still open`)), 2000);
    req.onsuccess = () => (clearTimeout(timer), resolve());
    req.onerror = () => (clearTimeout(timer), reject(req.error));
  });

storageCompliance('IndexedDB storage (Chromium)', {
  async setup() {
    db = `clusterluck-test-${n++}-${crypto.randomUUID()}`;
    return idbStorage(db, 'store');
  },
  teardown: () => deleteDb(db),
  reopen: async () => idbStorage(db, 'store'),
});

describe('IndexedDB storage', () => {
  it('two stores share one database without seeing each other', async () => {
    const name = `clusterluck-two-${crypto.randomUUID()}`;
    const a = idbStorage(name, 'a');
    await a.write('k', new Uint8Array([1]));
    const b = idbStorage(name, 'b');
    await b.write('k', new Uint8Array([2]));
    expect([await a.read('k'), await b.read('k')]).toEqual([new Uint8Array([1]), new Uint8Array([2])]);
    await Promise.all([a.close(), b.close()]);
    await deleteDb(name);
  });
});
