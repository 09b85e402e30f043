// The WebRTC transport signalling through a real PeerJS server (the `peer` package) on
// 127.0.0.1: the shared compliance suite again, so the PeerJS signaller meets the same contract
// as the in-memory one. Node only (node-datachannel); the server cannot run in the page.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PeerServer } from 'peer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../lib/platform/system-clock.js';
import { webrtcTransport, type WebRtcTransport } from '../lib/transports/webrtc.js';
import { peerjsSignaller, type WebSocketLike } from '../lib/transports/webrtc-signal-peerjs.js';
import { WebSocket } from 'ws';
import { transportCompliance } from './transport-compliance.js';
import { nodeWrtc } from './webrtc-node.js';

let server: Server;
let port = 0;
let made: WebRtcTransport[] = [];

beforeAll(async () => {
  // A short expire_timeout: a dial to nobody learns it from the server's EXPIRE, after this long.
  server = await new Promise<Server>((resolve) => {
    PeerServer({ host: '127.0.0.1', port: 0, path: '/', expire_timeout: 300, cleanup_out_msgs: 100 }, (s) => resolve(s as Server));
  });
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const make = (): WebRtcTransport => {
  const signaller = peerjsSignaller({
    host: '127.0.0.1', port, clock: systemClock(), WebSocket: WebSocket as unknown as new (url: string) => WebSocketLike,
  });
  const t = webrtcTransport({ signaller, clock: systemClock(), wrtc: nodeWrtc });
  made.push(t);
  return t;
};

let round = 0;
transportCompliance('webrtc transport (PeerJS server signalling)', {
  async setup() {
    made = [];
    round++;
    return { transports: [make(), make()], addressFor: (t) => `round-${round}-node-${t}` };
  },
  async teardown() {
    await Promise.all(made.map((t) => t.close()));
    await expect.poll(() => made.map((t) => t.peerCount), { timeout: 2000 }).toEqual(made.map(() => 0));
  },
  eventTimeoutMs: 10_000,
});

describe('PeerJS signaller', () => {
  it('an address claimed on the server is refused to a second claimer with ADDRESS_IN_USE, and free again once released', async () => {
    const signaller = peerjsSignaller({ host: '127.0.0.1', port, clock: systemClock(), WebSocket: WebSocket as unknown as new (url: string) => WebSocketLike });
    const first = await signaller.claim('taken', () => undefined);
    await expect(signaller.claim('taken', () => undefined)).rejects.toMatchObject({ code: 'ADDRESS_IN_USE' });
    await first.release();
    const again = await signaller.claim('taken', () => undefined);
    await again.release();
  });
});
