import { idbStorage } from '../lib/platform/idb-storage.browser.js';
import { storageCompliance } from './storage-compliance.js';

let db = '';
let n = 0;

storageCompliance('IndexedDB storage (Chromium)', {
  async setup() {
    db = `clusterluck-test-${Date.now()}-${n++}`;
    return idbStorage(db, 'store');
  },
  async teardown() {
    await new Promise<void>((resolve) => {
      const req = indexedDB.deleteDatabase(db);
      req.onsuccess = req.onerror = req.onblocked = () => resolve();
    });
  },
  reopen: async () => idbStorage(db, 'store'),
});
