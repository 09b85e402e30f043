// The data channel's round trip, then W1 and W4, from a Chromium tab to a Node owner over WebRTC
// (Chromium's own stack in the tab, node-datachannel in Node), introduced by a PeerJS server on
// 127.0.0.1. Loopback only.
import { WebSocket } from 'ws';
import { createWebRtcCluster, peerjsSignaller, systemClock, webrtcTransport } from '../../lib/node.js';
import type { WebSocketLike } from '../../lib/transports/webrtc/signal-peerjs.js';
import { buildPages, launchChromium, openPage, startPeerServer } from '../support/chromium-pages.js';
import { nodeWrtc } from '../webrtc-node.js';
import { roundTripLine, w1Line, w4Line, type RoundTrips, type W1Figures, type W4Figures } from './dsm-workloads.js';

/** What the tab measured. */
export interface TabFigures {
  readonly roundTrips: RoundTrips;
  readonly w1: W1Figures;
  readonly w4: W4Figures;
}

/** Prints the data channel's round trip from a tab to Node, then W1 and W4 with the caller in the tab and the semaphores on a Node member. */
export async function tabBench(print: (line: string) => void, seconds: number): Promise<TabFigures> {
  // Cross-origin isolated: the tab's clock then reads to 5 µs, and its round trip is not rounded to 0.1 ms.
  const pages = await buildPages(['test/pages/bench.html'], undefined, false, true);
  const peerjs = await startPeerServer();
  const browser = await launchChromium();
  const n = await createWebRtcCluster({
    id: 'n', cookie: 'bench', wrtc: nodeWrtc, logLevel: 'error', dsm: { minWaitTimeout: 1, maxWaitTimeout: 10 },
    signaling: { host: '127.0.0.1', port: peerjs.port, path: '/', WebSocket: WebSocket as unknown as new (url: string) => WebSocketLike },
  });
  // An echo on Node for the tab's raw round trip, on the same signalling server and stack as `n`.
  const clock = systemClock();
  const echo = webrtcTransport({ signaller: peerjsSignaller({ host: '127.0.0.1', port: peerjs.port, clock, WebSocket: WebSocket as unknown as new (url: string) => WebSocketLike }), clock, wrtc: nodeWrtc });
  const listener = await echo.listen('bench-echo');
  listener.addEventListener('connection', ({ detail: conn }) => conn.addEventListener('message', ({ detail }) => void conn.send(detail)));
  try {
    const page = await openPage(browser, pages.url('test/pages/bench.html'), 'tab');
    const figures = await page.evaluate((o) => (globalThis as unknown as {
      bench: { run(o: { port: number; seconds: number; echo: string }): Promise<TabFigures> };
    }).bench.run(o), { port: peerjs.port, seconds, echo: 'bench-echo' });
    print(roundTripLine('webrtc round trip, Chromium tab → Node', figures.roundTrips));
    const where = 'webrtc, caller in a Chromium tab, owner a Node node';
    print(w1Line(where, figures.w1));
    print(w4Line(where, figures.w4));
    return figures;
  } finally {
    await echo.close();
    await n.stop({ leave: false });
    await browser.close();
    await peerjs.stop();
    await pages.close();
  }
}
