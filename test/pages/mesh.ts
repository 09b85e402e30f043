// One tab of the browser mesh test: `createBrowserNode` from the browser entry, driven by the
// test through `window.mesh` (each call names a method and its arguments).
import { createBrowserNode, type GossipRingOptions, type NodeId, type WebRtcClusterNode } from '../../lib/index.js';

let node: WebRtcClusterNode | undefined;
const started = (): WebRtcClusterNode => {
  if (node === undefined) throw new Error('start the node first');
  return node;
};
const reqMs = 5000;

const mesh = {
  async start(o: { id: string; port: number; seed?: string; gossip: GossipRingOptions }): Promise<NodeId> {
    node = await createBrowserNode({
      id: o.id, cookie: 'mesh', storageName: `mesh-${o.id}`, signaling: { host: '127.0.0.1', port: o.port, path: '/' },
      gossip: o.gossip, dsm: { fsyncInterval: 0, minWaitTimeout: 20, maxWaitTimeout: 100 }, ...(o.seed === undefined ? {} : { seed: o.seed }),
    });
    return node.self;
  },
  connect: (id: string) => started().kernel.connectAddress(id),
  meet: (seed: NodeId) => void started().meet(seed),
  ring: () => started().gossip.ring().nodes().map((n) => n.id).sort(),
  view: () => {
    const v = started().gossip.view();
    return v === undefined ? undefined : { number: v.number, members: v.members.map((m) => m.id) };
  },
  status: (id: string) => started().gossip.inspect().members.find((m) => m.node.id === id)?.status,
  linked: () => started().kernel.connectedNodes().map((n) => n.id).sort(),
  /** False once the node has stopped (after a pagehide: left, handed off, closed its links). */
  running: () => started().kernel.running,
  debugWrap: () => {
    const node = started() as any;
    for (const [name, obj, m] of [['leave', node.gossip, 'leave'], ['admin.stop', node.admin, 'stop'], ['dsm.stop', node.dsm, 'stop'], ['gossip.stop', node.gossip, 'stop'], ['kernel.stop', node.kernel, 'stop'], ['transport.close', node.transport, 'close']] as const) {
      const f = obj[m].bind(obj);
      obj[m] = async (...a: unknown[]) => { console.log('start ' + name, Math.round(performance.now())); try { return await f(...a); } finally { console.log('end ' + name, Math.round(performance.now())); } };
    }
  },
  debugState: () => { const node = started() as any; return { now: Math.round(performance.now()), dsmIdle: node.dsm.idle(), owned: node.dsm.ownedCount(), gossipRunning: node.gossip.running, view: node.gossip.view()?.number }; },
  disconnect: (id: string) => started().kernel.disconnect(id),
  stats: () => ({ ...started().signaller.stats }),
  owner: (key: string) => started().gossip.find(key).id,
  create: (id: string, n: number) => started().dsm.create(id, n, undefined, reqMs),
  read: (id: string) => started().dsm.read(id, undefined, reqMs),
  close: (id: string, holder: string) => started().dsm.close(id, holder, undefined, reqMs),
  /** 'granted', or the error code. */
  post: (id: string, holder: string, leaseMs: number, retries: number) =>
    (started().dsm.post(id, holder, leaseMs, undefined, reqMs, retries) as Promise<number>).then(
      () => 'granted', (err: { code?: string }) => err.code ?? String(err)),
};
Object.assign(globalThis, { mesh });
document.title = 'ready';
