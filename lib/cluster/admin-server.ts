import { parseNodeId } from '../core/node-id.js';
import type { DSMServer } from '../dsm/dsm-server.js';
import { ClusterluckError, invalidArgument, show } from '../env/errors.js';
import type { GossipRing } from '../gossip/gossip-ring.js';
import { GenServer, type Job } from '../kernel/gen-server.js';
import type { NetKernel } from '../kernel/net-kernel.js';
import { commands } from './admin-commands.js';
import { metricRows, type Metric } from './metrics.js';

/** The name the admin actor registers under on every node. */
export const adminServerName = 'admin';

/** What the admin actor needs of its node. */
export interface AdminHost {
  readonly kernel: NetKernel;
  readonly gossip: GossipRing;
  readonly dsm: DSMServer;
  metrics(): Metric[];
}

type Args = Record<string, unknown>;

function str(args: Args, field: string): string {
  const v = args[field];
  if (typeof v !== 'string' || v.length === 0) throw invalidArgument(field, v, 'a non-empty string');
  return v;
}

function num(args: Args, field: string): number {
  const v = args[field];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw invalidArgument(field, v, 'a finite number');
  return v;
}

function list(args: Args, field: string): unknown[] {
  const v = args[field];
  if (!Array.isArray(v)) throw invalidArgument(field, v, 'an array');
  return v;
}

/**
 * Serves `clusterluck cli` on a node: ring inspection and changes through the node's GossipRing,
 * semaphore commands through its DSMServer (which routes each to the owner).
 */
export class AdminServer extends GenServer {
  constructor(host: AdminHost) {
    super(host.kernel);
    const { gossip, dsm, kernel } = host;
    const ring = () => gossip.ring();
    const member = (id: string) => {
      const node = ring().get(id);
      if (node === undefined) throw new ClusterluckError('NOT_FOUND', `no member ${show(id)} on the ring`);
      return node;
    };
    const served: Record<string, (a: Args) => unknown> = {
      inspect: () => ({ ...gossip.inspect(), semaphoresOwned: dsm.ownedCount(), shortCookie: kernel.shortCookie }),
      view: () => {
        const i = gossip.inspect();
        return { view: i.view, incarnation: i.incarnation, serving: i.serving, leaseExpiresAtMs: i.leaseExpiresAtMs, changePending: i.changePending, pendingChanges: i.pendingChanges };
      },
      nodes: () => {
        const table = gossip.membership();
        return (gossip.view()?.members ?? []).map((m) => ({ id: m.id, address: m.address, weight: m.weight, state: table.get(m.id)?.liveness ?? 'alive', incarnation: m.incarnation }));
      },
      ping: () => ({ pong: kernel.self.id, wallMs: kernel.env.clock.wallNow() }),
      stats: () => metricRows(host.metrics()),
      get: (a) => member(str(a, 'id')),
      has: (a) => ring().has(str(a, 'id')),
      weight: (a) => (member(str(a, 'id')), ring().weight(str(a, 'id'))),
      weights: () => Object.fromEntries(ring().weights()),
      join: (a) => (gossip.join(str(a, 'ringId')), 'ok'),
      meet: (a) => (gossip.meet(parseNodeId(a['node'])), 'ok'),
      leave: async () => (await gossip.leave(), 'ok'),
      insert: (a) => (gossip.insert(parseNodeId(a['node']), num(a, 'weight')), 'ok'),
      minsert: (a) => (gossip.minsert(list(a, 'nodes').map((n, i) => parseNodeId(n, `nodes[${i}]`))), 'ok'),
      update: (a) => (gossip.update(str(a, 'id'), num(a, 'weight')), 'ok'),
      remove: (a) => {
        if (a['force'] === true) {
          kernel.env.logger.error('operator forced a view without a vote', { remove: str(a, 'id') });
          return { forced: gossip.forceRemove([str(a, 'id')]).number };
        }
        gossip.remove(str(a, 'id'));
        return 'ok';
      },
      mremove: (a) => (gossip.mremove(list(a, 'ids').map((id, i) => str({ id }, `ids[${i}]`))), 'ok'),
      create: async (a) => (await dsm.create(a['id'] as string, a['n'] as number), 'ok'),
      read: (a) => dsm.read(a['id'] as string),
      post: async (a) => `ok token ${await dsm.post(a['id'] as string, a['holder'] as string, a['timeout'] as number, undefined, Infinity, num(a, 'retries'))}`,
      close: async (a) => (await dsm.close(a['id'] as string, a['holder'] as string), 'ok'),
      destroy: async (a) => (await dsm.destroy(a['id'] as string), 'ok'),
    };
    for (const [name, fn] of Object.entries(served)) this.handle(name, (data) => fn(data as Args));
  }

  /** Accepts only known commands with an object of arguments. */
  override decodeSingleton(job: Job): Job | Error {
    if (!Object.hasOwn(commands, job.event)) return new ClusterluckError('INVALID_ARGUMENT', `unknown command ${show(job.event)}`);
    if (typeof job.data !== 'object' || job.data === null || Array.isArray(job.data)) {
      return invalidArgument('arguments', job.data, 'an object');
    }
    return job;
  }
}
