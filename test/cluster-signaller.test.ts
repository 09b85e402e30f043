// In-cluster signalling in Node (node-datachannel, loopback only): WebRTC members that met
// through a bootstrap signaller keep linking up through the cluster once it is gone.
import { afterEach, describe, expect, it } from 'vitest';
import { clusterSignaller, signalRelayName } from '../lib/cluster/cluster-signaller.js';
import { ClusterluckError } from '../lib/env/errors.js';
import type { SignalClaim, Signaller } from '../lib/env/signaller.js';
import { MemorySignalHub } from '../lib/transports/webrtc/signal-memory.js';
import { createWebRtcNode, type WebRtcClusterNode } from '../lib/presets/webrtc-cluster.js';
import { nodeWrtc } from './webrtc-node.js';

/** A bootstrap signaller that can be switched off, as a PeerJS server that is stopped. */
function switchable(inner: Signaller): { signaller: Signaller; stop(): Promise<void> } {
  let up = true;
  const claims: SignalClaim[] = [];
  return {
    signaller: {
      async claim(address, receive, unreachable) {
        if (!up) throw new ClusterluckError('CONNECTION_REFUSED', 'the bootstrap signaller is stopped');
        const claim = await inner.claim(address, receive, unreachable);
        claims.push(claim);
        return claim;
      },
    },
    async stop() {
      up = false;
      await Promise.all(claims.map((c) => c.release()));
    },
  };
}

const gossip = { intervalMs: 100, probeIntervalMs: 200, suspicionMult: 2, autoRemoveAfterMs: 1000 };
let nodes: WebRtcClusterNode[] = [];
afterEach(async () => {
  await Promise.all(nodes.map((n) => n.stop({ leave: false })));
  nodes = [];
});

async function member(id: string, signaling: Signaller, seed?: string): Promise<WebRtcClusterNode> {
  const node = await createWebRtcNode({ id, cookie: 'c', signaling, wrtc: nodeWrtc, gossip, ...(seed === undefined ? {} : { seed }) });
  nodes.push(node);
  return node;
}

const ringOf = (n: WebRtcClusterNode): string[] => n.gossip.ring().nodes().map((m) => m.id).sort();

describe('in-cluster signalling', () => {
  it('a member linked to one other links to the rest through the cluster once the bootstrap is gone, and re-makes a broken link the same way', async () => {
    const bootstrap = switchable(new MemorySignalHub().signaller());
    const [a, b, c] = [await member('a', bootstrap.signaller), await member('b', bootstrap.signaller, 'a'), await member('c', bootstrap.signaller, 'a')];
    await expect.poll(() => [a, b, c].map(ringOf), { timeout: 10_000 }).toEqual([['a', 'b', 'c'], ['a', 'b', 'c'], ['a', 'b', 'c']]);

    const d = await member('d', bootstrap.signaller);
    const seed = await d.kernel.connectAddress('a');
    await bootstrap.stop();
    expect(d.kernel.connectedNodes().map((n) => n.id)).toEqual(['a']);
    d.meet(seed);
    await expect.poll(() => d.kernel.connectedNodes().map((n) => n.id).sort(), { timeout: 10_000 }).toEqual(['a', 'b', 'c']);
    await expect.poll(() => [a, b, c, d].map(ringOf), { timeout: 10_000 }).toEqual(Array(4).fill(['a', 'b', 'c', 'd']));
    expect(d.signaller.stats.delivered).toBeGreaterThan(0);
    expect(d.signaller.stats.sentViaCluster).toBeGreaterThan(0);
    expect(a.signaller.stats.relayed + b.signaller.stats.relayed + c.signaller.stats.relayed).toBeGreaterThan(0);
    // Traffic flows on the new links: a semaphore b owns, created by d and read by c.
    const id = Array.from({ length: 200 }, (_, i) => `s${i}`).find((k) => d.gossip.find(k).id === 'b') as string;
    await d.dsm.create(id, 2, undefined, 5000);
    await d.dsm.post(id, 'd-holder', 60_000, undefined, 5000);
    expect(await c.dsm.read(id, undefined, 5000)).toEqual({ n: 2, active: 1 });

    // The link d–b breaks; it is re-made (either side may re-dial first), and with the bootstrap
    // gone only the cluster can carry the new negotiation: the deliveries to d and b go up.
    const delivered = (): number => d.signaller.stats.delivered + b.signaller.stats.delivered;
    const deliveredBefore = delivered();
    d.kernel.disconnect('b');
    await expect.poll(() => d.kernel.isConnected('b') && b.kernel.isConnected('d') && delivered() > deliveredBefore, { timeout: 15_000 })
      .toBe(true);
    await d.dsm.close(id, 'd-holder', undefined, 5000);
    expect(await d.dsm.read(id, undefined, 5000)).toEqual({ n: 2, active: 0 });
  }, 40_000);

  it('without a bootstrap or a kernel there is no route, and bad options or hops are typed errors', async () => {
    expect(() => clusterSignaller({ relayTimeoutMs: 0 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => clusterSignaller({ fallback: {} as Signaller })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    await expect(clusterSignaller().claim('x', () => undefined)).rejects.toMatchObject({ code: 'NOT_CONNECTED' });
    await expect(createWebRtcNode({ cookie: 'c', signaling: null as unknown as Signaller, wrtc: nodeWrtc }))
      .rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });

    const hub = new MemorySignalHub().signaller();
    const a = await member('a', hub);
    const b = await member('b', hub, 'a');
    await expect(b.kernel.call({ node: 'a', name: signalRelayName }, 'relay', { from: 'b', to: 42, payload: 1 }, { timeoutMs: 5000 }))
      .rejects.toMatchObject({ code: 'BAD_MESSAGE' });
    await expect(b.kernel.call({ node: 'a', name: signalRelayName }, 'deliver', { from: 'b', fromNode: 'b', to: 'nobody', payload: 1 }, { timeoutMs: 5000 }))
      .rejects.toMatchObject({ code: 'CONNECTION_REFUSED' });
    await expect(b.kernel.call({ node: 'a', name: signalRelayName }, 'relay', { from: 'b', to: 'nobody', payload: 1 }, { timeoutMs: 5000 }))
      .rejects.toMatchObject({ code: 'NOT_CONNECTED' });
    expect(a.signaller.stats.delivered).toBe(0);
  }, 20_000);
});
