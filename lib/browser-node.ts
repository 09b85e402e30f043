// A cluster member in a browser tab: WebRTC links, a PeerJS server to reach the first member,
// in-cluster signalling after that, semaphores persisted to IndexedDB, and a graceful leave
// when the page goes away.
import { invalidArgument } from './env/errors.js';
import { idbStorage } from './platform/idb-storage.browser.js';
import { createWebRtcNode, type WebRtcClusterNode, type WebRtcNodeOptions } from './webrtc-cluster.js';

/** Options of {@link createBrowserNode}. */
export interface BrowserNodeOptions extends Omit<WebRtcNodeOptions, 'storage' | 'wrtc'> {
  /** IndexedDB database of the semaphore table; a tab reloaded with the same name gets its table back. */
  readonly storageName: string;
}

/**
 * Starts a cluster member in this tab (see {@link createWebRtcNode}) with its semaphore table in
 * the IndexedDB database `storageName`. On `pagehide` it leaves the ring (best effort: the page
 * may be gone before the notices are out; failure detection removes it otherwise).
 */
export async function createBrowserNode(options: BrowserNodeOptions): Promise<WebRtcClusterNode> {
  if (typeof options !== 'object' || options === null) throw invalidArgument('options', options, 'an options object');
  if (typeof options.storageName !== 'string' || options.storageName === '') {
    throw invalidArgument('storageName', options.storageName, 'an IndexedDB database name');
  }
  const node = await createWebRtcNode({ ...options, storage: idbStorage(options.storageName) });
  const onPageHide = (): void => {
    globalThis.removeEventListener('pagehide', onPageHide);
    void node.stop();
  };
  globalThis.addEventListener('pagehide', onPageHide);
  return node;
}
