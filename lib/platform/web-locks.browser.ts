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

/** Names this page holds now (a second claim in the same page is no reload: it does not wait for its own). */
const heldHere = new Set<string>();

/** How long a reloaded tab waits for the database it had (its previous page may still be unloading) before it takes another. */
export const reloadClaimWaitMs = 3000;

/**
 * Claims the first of `base`, `base-2`, `base-3`, … that no other tab of this origin holds
 * (`navigator.locks.request` with `ifAvailable`), so two tabs never share one database. A
 * reloaded tab first waits up to {@link reloadClaimWaitMs} for the one it had (remembered in its
 * `sessionStorage`, which lives as long as the tab), so it comes back as the same member even when
 * its previous page still holds the lock for a moment. UNSUPPORTED_PLATFORM without Web Locks (not
 * a secure context, where WebCrypto is missing too): sharing a database would make two tabs one member.
 */
export async function claimStorageName(base: string): Promise<ClaimedName> {
  const locks = (globalThis.navigator as { locks?: LockManager } | undefined)?.locks;
  if (locks === undefined) throw new ClusterluckError('UNSUPPORTED_PLATFORM', 'the Web Locks API (navigator.locks) is not available here; it needs a secure context (https or localhost)');
  const names = Array.from({ length: storageSlotsMax }, (_, i) => (i === 0 ? base : `${base}-${i + 1}`));
  const memo = `clusterluck:${base}`;
  const before = session()?.getItem(memo);
  const claimed = (name: string, release: () => void): ClaimedName => {
    session()?.setItem(memo, name);
    heldHere.add(name);
    return { name, release: () => {
      heldHere.delete(name);
      release();
    } };
  };
  if (before !== null && before !== undefined && names.includes(before) && !heldHere.has(before)) {
    const release = await claim(locks, `clusterluck:${before}`, reloadClaimWaitMs);
    if (release !== undefined) return claimed(before, release);
  }
  for (const name of names) {
    const release = await claim(locks, `clusterluck:${name}`, 0);
    if (release !== undefined) return claimed(name, release);
  }
  throw new ClusterluckError('ADDRESS_IN_USE', `storageName ${JSON.stringify(base)}: all ${storageSlotsMax} of its slots are held by other tabs`);
}

/** Takes `lock`, waiting up to `waitMs` for it (0: only if free now): resolves with its release, or undefined. */
function claim(locks: LockManager, lock: string, waitMs: number): Promise<(() => void) | undefined> {
  return new Promise((resolve, reject) => {
    const options: LockOptions = waitMs === 0 ? { ifAvailable: true } : { signal: AbortSignal.timeout(waitMs) };
    locks.request(lock, options, (held) => {
      if (held === null) {
        resolve(undefined);
        return undefined;
      }
      return new Promise<void>((release) => resolve(() => release()));
    }).catch((err: unknown) => ((err as { name?: string }).name === 'TimeoutError' || (err as { name?: string }).name === 'AbortError' ? resolve(undefined) : reject(err)));
  });
}

/** This tab's sessionStorage, if the page may use it. */
function session(): globalThis.Storage | undefined {
  try {
    return globalThis.sessionStorage;
  } catch {
    return undefined;
  }
}
