// The WebRTC transport signalling through a real PeerJS server (the `peer` package) on
// 127.0.0.1: the shared compliance suite again, so the PeerJS signaller meets the same contract
// as the in-memory one. Node only (node-datachannel); the server cannot run in the page.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PeerServer } from 'peer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../lib/platform/system-clock.js';
import { webrtcTransport, type WebRtcTransport } from '../lib/transports/webrtc/transport.js';
import { createWebRtcNode, type WebRtcClusterNode, type WebRtcNodeOptions } from '../lib/presets/webrtc-cluster.js';
import { peerjsSignaller, type WebSocketLike } from '../lib/transports/webrtc/signal-peerjs.js';
import { WebSocket } from 'ws';
import { restartablePeerServer as restartable } from './support/peer-server.js';
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

describe('the signalling client recovers', () => {
  const nodes: WebRtcClusterNode[] = [];
  const ws = WebSocket as unknown as new (url: string) => WebSocketLike;
  const gossip = { intervalMs: 100, probeIntervalMs: 200, suspicionMult: 2 };
  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.stop({ leave: false })));
  });
  const member = async (id: string, p: number, extra: Partial<WebRtcNodeOptions> = {}): Promise<WebRtcClusterNode> => {
    const node = await createWebRtcNode({ id, cookie: 'c', wrtc: nodeWrtc, gossip, signaling: { host: '127.0.0.1', port: p, WebSocket: ws }, ...extra });
    nodes.push(node);
    return node;
  };

  it('after the PeerJS server restarts, a member claims its id again (state lost, then open) and a new member joins through it', async () => {
    const server = await restartable();
    try {
      const a = await member('rec-a', server.port);
      expect(a.signaller.signaling).toBe('open');
      const states: string[] = [];
      a.signaller.events.addEventListener('signaling', (e) => states.push(e.detail.state));
      await server.stop();
      await expect.poll(() => a.signaller.signaling, { timeout: 5000 }).toBe('lost');
      expect(a.signaller.signalingError?.message).toMatch(/closed/);
      await server.start();
      // Backoff from 0.5 s, doubling, with jitter: a few seconds at most after a short outage.
      await expect.poll(() => a.signaller.signaling, { timeout: 10_000 }).toBe('open');
      expect(states).toEqual(['lost', 'open']);
      expect(a.signaller.signalingError).toBeUndefined();
      const b = await member('rec-b', server.port, { seed: 'rec-a' });
      await expect.poll(() => [a, b].map((n) => n.gossip.ring().nodes().map((m) => m.id).sort()), { timeout: 10_000 })
        .toEqual([['rec-a', 'rec-b'], ['rec-a', 'rec-b']]);
    } finally {
      await server.stop();
    }
  }, 40_000);

  it('a member given a server that is not there starts and says so (lost, with the error), or rejects with requireSignaling', async () => {
    const server = await restartable();
    await server.stop(); // nothing listens on its port now
    const lonely = await member('rec-lonely', server.port);
    expect(lonely.signaller.signaling).toBe('lost');
    expect(lonely.signaller.signalingError).toBeDefined();
    await expect(member('rec-strict', server.port, { requireSignaling: true })).rejects.toMatchObject({ code: 'CONNECTION_REFUSED', message: expect.stringMatching(/rec-strict/) });
    // Once the server is there, the lonely member claims its id and can be joined.
    await server.start();
    try {
      await expect.poll(() => lonely.signaller.signaling, { timeout: 10_000 }).toBe('open');
      const c = await member('rec-c', server.port, { seed: 'rec-lonely' });
      await expect.poll(() => c.gossip.ring().nodes().map((m) => m.id).sort(), { timeout: 10_000 }).toEqual(['rec-c', 'rec-lonely']);
    } finally {
      await server.stop();
    }
  }, 40_000);
});
