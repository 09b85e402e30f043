// Rooms on a real PeerJS server (the `peer` package, 127.0.0.1) with node-datachannel: nodes that
// share a room name and give no seed form one cluster, whoever starts first; the room's address
// outlives its holder; a node that founded alone while the server had forgotten every claim is
// found and joins the cluster.
import { WebSocket } from 'ws';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { roomAddress } from '../lib/cluster/room.js';
import { isClusterluckError } from '../lib/env/errors.js';
import type { WebSocketLike } from '../lib/transports/webrtc/signal-peerjs.js';
import { createWebRtcNode, type WebRtcClusterNode, type WebRtcNodeOptions } from '../lib/presets/webrtc-cluster.js';
import { restartablePeerServer } from './support/peer-server.js';
import { nodeWrtc } from './webrtc-node.js';

const ws = WebSocket as unknown as new (url: string) => WebSocketLike;
const gossip = { intervalMs: 100, probeIntervalMs: 200, suspicionMult: 2 };
let nodes: WebRtcClusterNode[] = [];
let servers: { stop(): Promise<void> }[] = [];

afterEach(async () => {
  await Promise.all(nodes.map((n) => n.stop({ leave: false })));
  nodes = [];
  await Promise.all(servers.map((s) => s.stop()));
  servers = [];
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});

async function server(): Promise<Awaited<ReturnType<typeof restartablePeerServer>>> {
  const s = await restartablePeerServer();
  servers.push(s);
  return s;
}

async function member(id: string, port: number, extra: Partial<WebRtcNodeOptions> = {}): Promise<WebRtcClusterNode> {
  const node = await createWebRtcNode({ id, cookie: 'room-test', wrtc: nodeWrtc, gossip, signaling: { host: '127.0.0.1', port, WebSocket: ws }, ...extra });
  nodes.push(node);
  return node;
}

const members = (n: WebRtcClusterNode): string[] => (n.gossip.view()?.members ?? []).map((m) => m.id).sort();

describe('rooms', () => {
  it('three nodes started at once in one room, none with a seed, form one cluster, and an n = 1 semaphore has one holder', async () => {
    const { port } = await server();
    // Each node's view as its start resolved: a node joins before it serves, so anything but the
    // founder already has the founder in it (a second founder would start alone, to be merged later).
    const atStart = new Map<string, string[]>();
    const started = await Promise.all(['ra', 'rb', 'rc'].map((id) => member(id, port, { room: 'lobby', roomCheckMs: 60_000 }).then((n) => {
      atStart.set(id, members(n));
      return n;
    })));
    // The server let exactly one of them claim the room's address: that one founded, the others joined it.
    const holders = started.filter((n) => n.room?.holding).map((n) => n.kernel.self.id);
    expect(holders).toHaveLength(1);
    for (const [id, view] of atStart) expect(view, id).toEqual(id === holders[0] ? [id] : expect.arrayContaining([holders[0], id]));
    await expect.poll(() => started.map(members), { timeout: 20_000 }).toEqual(started.map(() => ['ra', 'rb', 'rc']));
    const [a, b, c] = started as [WebRtcClusterNode, WebRtcClusterNode, WebRtcClusterNode];
    await a.dsm.create('printer', 1);
    await b.dsm.post('printer', 'holder-b', 30_000);
    await expect(c.dsm.post('printer', 'holder-c', 30_000, undefined, 5000, 0)).rejects.toMatchObject({ code: 'SEMAPHORE_FULL' });
    // The control: without the room, each of two seedless nodes founds its own cluster.
    const [x, y] = await Promise.all([member('rx', port), member('ry', port)]);
    expect([members(x), members(y)]).toEqual([['rx'], ['ry']]);
  }, 60_000);

  it('when the holder leaves it hands the address to a member, and a node started later joins the cluster that is left', async () => {
    const { port } = await server();
    const first = await member('ha', port, { room: 'handover' });
    expect(first.room?.holding).toBe(true);
    const second = await member('hb', port, { room: 'handover', roomCheckMs: 60_000 });
    const third = await member('hc', port, { room: 'handover', roomCheckMs: 60_000 });
    await expect.poll(() => [second, third].map(members), { timeout: 20_000 }).toEqual([['ha', 'hb', 'hc'], ['ha', 'hb', 'hc']]);
    // Their own checks are a minute apart: only the hand-over makes one of them hold it at once.
    const holdersAfter = async (): Promise<string[]> => [second, third].filter((n) => n.room?.holding).map((n) => n.kernel.self.id);
    await first.stop();
    nodes = nodes.filter((n) => n !== first);
    await expect.poll(holdersAfter, { timeout: 1500, interval: 20 }).toHaveLength(1);
    const late = await member('hd', port, { room: 'handover' });
    expect(late.room?.holding).toBe(false);
    await expect.poll(() => [second, third, late].map(members), { timeout: 20_000 }).toEqual([0, 1, 2].map(() => ['hb', 'hc', 'hd']));
  }, 60_000);

  it('a node that founded alone while a restarted server had forgotten the room is met by the cluster and joins it', async () => {
    const s = await server();
    const a = await member('fa', s.port, { room: 'amnesia', roomCheckMs: 3000 });
    const b = await member('fb', s.port, { room: 'amnesia', roomCheckMs: 3000 });
    await expect.poll(() => [a, b].map(members), { timeout: 20_000 }).toEqual([['fa', 'fb'], ['fa', 'fb']]);
    const splits: string[] = [];
    for (const n of [a, b]) n.room?.events.addEventListener('split', (e) => splits.push(`${n.kernel.self.id} met ${e.detail.holder}`));
    await s.stop();
    await expect.poll(() => a.room?.holding || b.room?.holding, { timeout: 5000 }).toBe(false);
    await s.start();
    // The newcomer gets to the server before the members' next check: it holds the room and founds.
    const late = await member('fz', s.port, { room: 'amnesia' });
    expect(late.room?.holding).toBe(true);
    expect(members(late)).toEqual(['fz']);
    // A member's next check finds the address held outside its view, meets the holder, and the lone founder joins.
    await expect.poll(() => [a, b, late].map(members), { timeout: 20_000 }).toEqual([0, 1, 2].map(() => ['fa', 'fb', 'fz']));
    expect(splits.length).toBeGreaterThan(0);
    expect(splits[0]).toMatch(/met fz$/);
  }, 60_000);

  it('a bad room name is a typed error naming the field; a room node without its server does not start', async () => {
    const { port } = await server();
    for (const bad of ['', 'x'.repeat(257), 7]) {
      const err = await member('bad', port, { room: bad as string }).catch((e: unknown) => e);
      expect(isClusterluckError(err, 'INVALID_ARGUMENT') && err.message).toMatch(/room/);
    }
    const gone = await server();
    await gone.stop();
    await expect(member('lonely', gone.port, { room: 'nobody-home' })).rejects.toMatchObject({ code: 'CONNECTION_REFUSED', message: expect.stringMatching(/nobody-home/) });
    expect(roomAddress('lobby')).toMatch(/^clusterluck-room-[0-9a-f]{32}$/);
    expect(roomAddress('lobby')).toBe(roomAddress('lobby'));
    expect(roomAddress('lobby')).not.toBe(roomAddress('lobby2'));
  }, 30_000);
});
