// A member's id kept with its state: a process that comes back over the same storage (a reloaded
// tab over its IndexedDB database) comes back as the same member, with the acceptor state it voted
// with, instead of a stranger whose old id the view must wait out and remove.
import { nodeIdLengthMax } from '../constants.js';
import { fromUtf8, utf8 } from '../env/bytes.js';
import { ClusterluckError } from '../env/errors.js';
import type { Storage } from '../env/storage.js';

/** Storage key of the member id (beside `view.state` and the semaphore table). */
export const nodeIdKey = 'node.id';

/**
 * The id stored in `storage`, or `fresh()` stored (synced) before it is returned, so every later
 * start over this storage gets it back. STORAGE_CORRUPT when the stored bytes are not an id.
 */
export async function storedNodeId(storage: Storage, fresh: () => string): Promise<string> {
  const bytes = await storage.read(nodeIdKey);
  if (bytes !== undefined) {
    const id = fromUtf8(bytes);
    if (id.length === 0 || id.length > nodeIdLengthMax) {
      throw new ClusterluckError('STORAGE_CORRUPT', `stored member id ${JSON.stringify(nodeIdKey)} is not an id of 1–${nodeIdLengthMax} characters: ${JSON.stringify(id.slice(0, 80))}`);
    }
    return id;
  }
  const id = fresh();
  await storage.write(nodeIdKey, utf8(id));
  await storage.sync(nodeIdKey);
  return id;
}
