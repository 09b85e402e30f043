import { memoryStorage } from '../lib/platform/storage/memory-storage.js';
import { storageCompliance } from './storage-compliance.js';

storageCompliance('memory storage', {
  setup: async () => memoryStorage(),
  teardown: async () => undefined,
});
