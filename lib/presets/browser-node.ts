// A cluster member in a browser tab: WebRTC links, a PeerJS server to reach the first member,
// in-cluster signalling after that, semaphores persisted to IndexedDB, and a graceful leave
// when the page goes away.
import { invalidArgument } from '../env/errors.js';
import { idbStorage } from '../platform/storage/idb-storage.browser.js';
import { claimStorageName } from '../platform/web-locks.browser.js';
import { createWebRtcNode, type WebRtcClusterNode, type WebRtcNodeOptions } from './webrtc-cluster.js';

/** Options of {@link createBrowserNode}. */
export interface BrowserNodeOptions extends Omit<WebRtcNodeOptions, 'storage' | 'wrtc'> {
  /**
   * IndexedDB database of this member's id, view state and semaphore table: a tab reloaded over it
   * comes back as the same member with its table. One tab at a time holds a database (a Web Lock):
   * a second tab of the same page takes `storageName-2`, a third `-3`, and so on.
   */
  readonly storageName: string;
}

/**
 * Starts a cluster member in this tab (see {@link createWebRtcNode}) with its id, view state and
 * semaphore table in the IndexedDB database `storageName` (or the first free `storageName-k`).
 * On `pagehide` it leaves the ring (best effort: the page may be gone before the notices are out;
 * failure detection removes it otherwise).
 */
export async function createBrowserNode(options: BrowserNodeOptions): Promise<WebRtcClusterNode> {
  if (typeof options !== 'object' || options === null) throw invalidArgument('options', options, 'an options object');
  if (typeof options.storageName !== 'string' || options.storageName === '') {
    throw invalidArgument('storageName', options.storageName, 'an IndexedDB database name');
  }
  const claimed = await claimStorageName(options.storageName);
  let storage;
  try {
    storage = idbStorage(claimed.name);
  } catch (err) {
    claimed.release();
    throw err;
  }
  // Closed once the node has stopped (nothing writes after stop() resolves), then the lock freed.
  const node = await createWebRtcNode({ ...options, storage, held: [...(options.held ?? []), { release: () => storage.close() }, claimed] });
  const onPageHide = (): void => {
    globalThis.removeEventListener('pagehide', onPageHide);
    void node.stop();
  };
  globalThis.addEventListener('pagehide', onPageHide);
  return node;
}
