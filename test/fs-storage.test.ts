import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { fsStorage } from '../lib/platform/storage/fs-storage.node.js';
import { storageCompliance } from './storage-compliance.js';

let dir = '';
storageCompliance('file storage', {
  setup: async () => fsStorage(join((dir = await mkdtemp(join(tmpdir(), 'clusterluck-fs-'))), 'data')),
  teardown: () => rm(dir, { recursive: true, force: true }),
  reopen: async () => fsStorage(join(dir, 'data')),
});

async function inTempDir(test: (root: string) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'clusterluck-fs-'));
  await test(root).finally(() => rm(root, { recursive: true, force: true }));
}

it('file storage keeps one file per key, replaces a leftover temporary file, and lists only keys', () =>
  inTempDir(async (root) => {
    const s = fsStorage(root);
    await s.write('t.snap', new Uint8Array([1]));
    await s.append('t.log', new Uint8Array([2]));
    await writeFile(join(root, 't.snap~tmp'), 'left by a crash');
    expect(await s.list()).toEqual(['t.log', 't.snap']);
    await s.write('t.snap', new Uint8Array([3]));
    expect((await readdir(root)).sort()).toEqual(['t.log', 't.snap']);
  }));

it('file storage appends to more keys than it keeps open into the right files', () =>
  inTempDir(async (root) => {
    const s = fsStorage(root);
    const keys = Array.from({ length: 40 }, (_, i) => `log${i}`);
    for (let round = 0; round < 3; round++) await Promise.all(keys.map((k) => s.append(k, new Uint8Array([round]))));
    await s.write('log7', new Uint8Array([9]));
    await s.append('log7', new Uint8Array([8]));
    for (const k of keys) await s.sync(k);
    await s.close();
    const again = fsStorage(root);
    expect([await again.read('log0'), await again.read('log39'), await again.read('log7')]).toEqual([
      new Uint8Array([0, 1, 2]), new Uint8Array([0, 1, 2]), new Uint8Array([9, 8]),
    ]);
  }));
