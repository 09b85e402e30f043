// W1 and W4 from a Chromium tab to a Node owner over WebRTC (Chromium's own stack in the tab,
// node-datachannel in Node), introduced by a PeerJS server on 127.0.0.1. Loopback only.
import { WebSocket } from 'ws';
import { createWebRtcCluster } from '../../lib/node.js';
import type { WebSocketLike } from '../../lib/transports/webrtc/signal-peerjs.js';
import { buildPages, launchChromium, openPage, startPeerServer } from '../support/chromium-pages.js';
import { nodeWrtc } from '../webrtc-node.js';
import { w1Line, w4Line, type W1Figures, type W4Figures } from './dsm-workloads.js';

/** Prints W1 and W4 with the caller in a tab and the semaphores on a Node member. */
export async function tabBench(print: (line: string) => void, seconds: number): Promise<void> {
  const pages = await buildPages(['test/pages/bench.html']);
  const peerjs = await startPeerServer();
  const browser = await launchChromium();
  const n = await createWebRtcCluster({
    id: 'n', cookie: 'bench', wrtc: nodeWrtc, logLevel: 'error', dsm: { minWaitTimeout: 1, maxWaitTimeout: 10 },
    signaling: { host: '127.0.0.1', port: peerjs.port, path: '/', WebSocket: WebSocket as unknown as new (url: string) => WebSocketLike },
  });
  try {
    const page = await openPage(browser, pages.url('test/pages/bench.html'), 'tab');
    const figures = await page.evaluate((o) => (globalThis as unknown as {
      bench: { run(o: { port: number; seconds: number }): Promise<{ w1: W1Figures; w4: W4Figures }> };
    }).bench.run(o), { port: peerjs.port, seconds });
    const where = 'webrtc, caller in a Chromium tab, owner a Node node';
    print(w1Line(where, figures.w1));
    print(w4Line(where, figures.w4));
  } finally {
    await n.stop({ leave: false });
    await browser.close();
    await peerjs.stop();
    await pages.close();
  }
}
