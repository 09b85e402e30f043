import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fsStorage } from '../lib/platform/fs-storage.node.js';
import { storageCompliance } from './storage-compliance.js';

let dir: string;

storageCompliance('file storage', {
  async setup() {
    dir = await mkdtemp(join(tmpdir(), 'clusterluck-fs-'));
    return fsStorage(join(dir, 'data'));
  },
  async teardown() {
    await rm(dir, { recursive: true, force: true });
  },
  reopen: async () => fsStorage(join(dir, 'data')),
});
