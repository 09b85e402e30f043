// The storage backends DTable tests run on: memory and real files in temporary directories that
// are removed after the file's tests.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import type { Storage } from '../../lib/env/storage.js';
import { fsStorage } from '../../lib/platform/storage/fs-storage.node.js';
import { memoryStorage } from '../../lib/platform/storage/memory-storage.js';

/** Named factories of fresh storage; call once per test file (it registers the clean-up). */
export function tableBackends(): [string, () => Promise<Storage>][] {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });
  return [
    ['memory', async () => memoryStorage()],
    ['files', async () => {
      const d = await mkdtemp(join(tmpdir(), 'clusterluck-dtable-'));
      dirs.push(d);
      return fsStorage(d);
    }],
  ];
}
