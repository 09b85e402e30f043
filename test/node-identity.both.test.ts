// A member's id kept beside its state (createWebRtcNode and createBrowserNode without `id`): the
// first start stores a fresh id, every later start over the same storage gets that id back.
import { describe, expect, it } from 'vitest';
import { nodeIdKey, storedNodeId } from '../lib/cluster/node-identity.js';
import { utf8 } from '../lib/env/bytes.js';
import { ClusterluckError } from '../lib/env/errors.js';
import { memoryStorage } from '../lib/platform/storage/memory-storage.js';

describe('storedNodeId', () => {
  it('stores the first fresh id and returns it on every later start, never asking for another', async () => {
    const storage = memoryStorage();
    let minted = 0;
    const fresh = (): string => `id-${++minted}`;
    expect(await storedNodeId(storage, fresh)).toBe('id-1');
    expect(await storedNodeId(storage, fresh)).toBe('id-1');
    expect(minted).toBe(1);
    expect(await storedNodeId(memoryStorage(), fresh)).toBe('id-2'); // other storage, other member
  });

  it('rejects stored bytes that are not an id with STORAGE_CORRUPT naming the key', async () => {
    const storage = memoryStorage();
    await storage.write(nodeIdKey, utf8('x'.repeat(1000)));
    const err = await storedNodeId(storage, () => 'fresh').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClusterluckError);
    expect((err as ClusterluckError).code).toBe('STORAGE_CORRUPT');
    expect((err as Error).message).toContain(nodeIdKey);
  });
});
