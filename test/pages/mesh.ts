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
  async start(o: { id: string; port: number; seed?: string; room?: string; gossip: GossipRingOptions }): Promise<NodeId> {
    node = await createBrowserNode({
      id: o.id, cookie: 'mesh', storageName: `mesh-${o.id}`, signaling: { host: '127.0.0.1', port: o.port, path: '/' },
      gossip: o.gossip, dsm: { fsyncInterval: 0, minWaitTimeout: 20, maxWaitTimeout: 100 }, ...(o.seed === undefined ? {} : { seed: o.seed }),
      ...(o.room === undefined ? {} : { room: o.room }),
    });
    return node.self;
  },
  connect: (id: string) => started().kernel.connectAddress(id),
  meet: (seed: NodeId) => void started().meet(seed),
  ring: () => started().gossip.ring().nodes().map((n) => n.id).sort(),
  /** Whether it holds its room's address on the signalling server. */
  holding: () => started().room?.holding ?? false,
  view: () => {
    const v = started().gossip.view();
    return v === undefined ? undefined : { number: v.number, members: v.members.map((m) => m.id) };
  },
  status: (id: string) => started().gossip.inspect().members.find((m) => m.node.id === id)?.status,
  linked: () => started().kernel.connectedNodes().map((n) => n.id).sort(),
  /** False once the node has stopped (after a pagehide: left, handed off, closed its links). */
  running: () => started().kernel.running,
  /** How many semaphores it still holds as owner (after a leave: until their new owners acknowledge them). */
  owned: () => started().dsm.ownedCount(),
  disconnect: (id: string) => started().kernel.disconnect(id),
  stats: () => ({ ...started().signaller.stats }),
  owner: (key: string) => started().gossip.find(key).id,
  /** Runs no JavaScript for `ms` (as a frozen or heavily throttled hidden tab): a busy wait. */
  stall: (ms: number) => {
    const end = performance.now() + ms;
    while (performance.now() < end) { /* the page's event loop is held */ }
  },
  /** 'owner' when it serves `key` now ('waiting' while a lock-delay or lease holds it back). */
  ownership: (key: string) => started().gossip.ownership(key).state,
  create: (id: string, n: number) => started().dsm.create(id, n, undefined, reqMs),
  read: (id: string) => started().dsm.read(id, undefined, reqMs),
  close: (id: string, holder: string) => started().dsm.close(id, holder, undefined, reqMs),
  /** 'granted', or the error code. */
  post: (id: string, holder: string, leaseMs: number, retries: number) =>
    (started().dsm.post(id, holder, leaseMs, undefined, reqMs, retries) as Promise<number>).then(
      () => 'granted', (err: { code?: string }) => err.code ?? String(err)),
};
/** Lock requests made in this page, by label: held until the test opens their gate. */
const gates = new Map<string, () => void>();
/** What this page's lock requests did, in order: `A+ exclusive`, `A-`, `F null`, `A=done`, `A!AbortError`. */
const lockLog: string[] = [];
type Locks = { request: (name: string, options: object, cb: (lock: { mode: string } | null) => unknown) => Promise<unknown> };
const lockApi = (which: 'cluster' | 'navigator'): Locks => (which === 'cluster' ? started().locks : navigator.locks) as unknown as Locks;

Object.assign(mesh, {
  /** Requests lock `name` through `which` API; the callback logs and holds until `openLock(label)`. Resolves once the request is made. */
  lock: (which: 'cluster' | 'navigator', label: string, name: string, options: { mode?: 'exclusive' | 'shared'; ifAvailable?: boolean }) => {
    void lockApi(which).request(name, options, async (lock) => {
      lockLog.push(`${label}+ ${lock?.mode ?? 'null'}`);
      if (lock === null) return 'none';
      await new Promise<void>((resolve) => gates.set(label, resolve));
      lockLog.push(`${label}-`);
      return 'done';
    }).then((v) => lockLog.push(`${label}=${String(v)}`), (e: Error) => lockLog.push(`${label}!${e.name}`));
  },
  openLock: (label: string) => gates.get(label)?.(),
  /** How many requests for lock `name` hold or wait, as `which` API's query() sees them. */
  lockCount: async (which: 'cluster' | 'navigator', name: string) => {
    const q = await (lockApi(which) as unknown as { query(): Promise<{ held?: { name?: string }[]; pending?: { name?: string }[] }> }).query();
    return [...(q.held ?? []), ...(q.pending ?? [])].filter((l) => l.name === name).length;
  },
  lockLog: () => [...lockLog],
});
Object.assign(globalThis, { mesh });
document.title = 'ready';
