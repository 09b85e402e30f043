// The Node half of the live demo: a PeerJS server and one Node member (node-datachannel's WebRTC)
// that every tab joins through. Both are stopped by the handle this returns: `npm start`'s Ctrl-C,
// or a test's teardown.
import type { Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { PeerServer } from 'peer';
import { WebSocket } from 'ws';
import { createWebRtcCluster, type WebRtcClusterNode } from '../lib/node.js';
import { nodeDatachannelWrtc } from '../lib/node-datachannel.js';
import type { WebSocketLike } from '../lib/transports/webrtc/signal-peerjs.js';
import { liveCookie, liveDsm, liveGossip, liveSeedId, liveSemaphores, type LiveServerInfo } from './live-config.js';

/** A running PeerJS server and Node member. */
export interface LiveCluster {
  /** What the page needs (served at `/live.json`). */
  readonly info: LiveServerInfo;
  readonly node: WebRtcClusterNode;
  /** Stops the Node member (it leaves), then the PeerJS server and every WebSocket on it. */
  stop(): Promise<void>;
}

/** Options of {@link startLiveCluster}. */
export interface LiveClusterOptions {
  /** Address the PeerJS server listens on and ICE binds to; '0.0.0.0' binds every interface. @default '127.0.0.1' */
  readonly host?: string;
  /** PeerJS server port; 0 takes a free one. @default 0 */
  readonly peerPort?: number;
  /** @default 'warn' */
  readonly logLevel?: 'debug' | 'info' | 'warn' | 'error';
}

/** Starts the PeerJS server, then the Node member on it, and creates the demo's semaphores. */
export async function startLiveCluster(options: LiveClusterOptions = {}): Promise<LiveCluster> {
  const host = options.host ?? '127.0.0.1';
  const server = await new Promise<Server>((resolve, reject) => {
    const s = PeerServer({ host, port: options.peerPort ?? 0, path: '/', expire_timeout: 1000 }, (ready) => resolve(ready as Server));
    (s as unknown as { on(e: 'error', f: (err: Error) => void): void }).on('error', reject);
  });
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const stopServer = async (): Promise<void> => {
    for (const socket of sockets) socket.destroy(); // upgraded WebSockets are no longer the server's
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  };
  const port = (server.address() as AddressInfo).port;
  let node: WebRtcClusterNode | undefined;
  try {
    node = await createWebRtcCluster({
      id: liveSeedId, cookie: liveCookie, logLevel: options.logLevel ?? 'warn', gossip: liveGossip, dsm: liveDsm,
      wrtc: nodeDatachannelWrtc(host === '0.0.0.0' ? {} : { bindAddress: host }),
      signaling: { host: host === '0.0.0.0' ? '127.0.0.1' : host, port, path: '/', WebSocket: WebSocket as unknown as new (url: string) => WebSocketLike },
      requireSignaling: true,
    });
    for (const s of liveSemaphores) await node.dsm.create(s.id, s.n, undefined, 5000);
  } catch (err) {
    await node?.stop({ leave: false });
    await stopServer();
    throw err;
  }
  const started = node;
  let stopping: Promise<void> | undefined;
  return {
    info: { port, path: '/', seed: liveSeedId },
    node: started,
    stop: () => (stopping ??= (async () => {
      try {
        await started.stop();
      } finally {
        await stopServer();
      }
    })()),
  };
}
