// Exclusive use of a storage name among the tabs of one origin, through the Web Locks API
// (https://w3c.github.io/web-locks/): a lock is held until its callback's promise settles, and the
// browser frees it when the tab goes away, however it goes.
import { ClusterluckError } from '../env/errors.js';

/** A claimed name, held until `release()`. */
export interface ClaimedName {
  readonly name: string;
  release(): void;
}

/** How many names {@link claimStorageName} tries before ADDRESS_IN_USE. */
export const storageSlotsMax = 64;

/**
 * Claims the first of `base`, `base-2`, `base-3`, … that no other tab of this origin holds
 * (`navigator.locks.request` with `ifAvailable`), so two tabs never share one database, and a
 * reloaded tab most often gets back the one it had. UNSUPPORTED_PLATFORM without Web Locks (not a
 * secure context, where WebCrypto is missing too): sharing a database would make two tabs one member.
 */
export async function claimStorageName(base: string): Promise<ClaimedName> {
  const locks = (globalThis.navigator as { locks?: LockManager } | undefined)?.locks;
  if (locks === undefined) throw new ClusterluckError('UNSUPPORTED_PLATFORM', 'the Web Locks API (navigator.locks) is not available here; it needs a secure context (https or localhost)');
  for (let slot = 1; slot <= storageSlotsMax; slot++) {
    const name = slot === 1 ? base : `${base}-${slot}`;
    const claimed = await claim(locks, `clusterluck:${name}`);
    if (claimed !== undefined) return { name, release: claimed };
  }
  throw new ClusterluckError('ADDRESS_IN_USE', `storageName ${JSON.stringify(base)}: all ${storageSlotsMax} of its slots are held by other tabs`);
}

/** Takes `lock` if free: resolves with its release, or undefined when another holder has it. */
function claim(locks: LockManager, lock: string): Promise<(() => void) | undefined> {
  return new Promise((resolve, reject) => {
    locks.request(lock, { ifAvailable: true }, (held) => {
      if (held === null) {
        resolve(undefined);
        return undefined;
      }
      return new Promise<void>((release) => resolve(() => release()));
    }).catch(reject);
  });
}
