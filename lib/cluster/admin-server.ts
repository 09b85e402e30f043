import { parseNodeId } from '../core/node-id.js';
import type { DSMServer } from '../dsm/dsm-server.js';
import { ClusterluckError, invalidArgument, show } from '../env/errors.js';
import type { GossipRing } from '../gossip/gossip-ring.js';
import type { From } from '../kernel/actor.js';
import { GenServer, type Job } from '../kernel/gen-server.js';
import { acquireLeaseMsDefault } from '../dsm/dsm-server.js';
import type { Lease } from '../dsm/lease.js';
import type { SemaphoreState } from '../dsm/query.js';
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
  /** Leases `acquire` took for each CLI session (by the session's node id), held until `release`, or the session ends. */
  readonly #sessions = new Map<string, Map<string, Lease>>();

  constructor(host: AdminHost) {
    super(host.kernel);
    const { gossip, dsm, kernel } = host;
    // A session that ends (its connection closes: the CLI quit, or was killed) gives its leases back.
    kernel.addEventListener('disconnect', (e) => {
      const held = this.#sessions.get(e.detail.id);
      if (held === undefined) return;
      this.#sessions.delete(e.detail.id);
      for (const lease of held.values()) void lease.release();
    });
    const ring = () => gossip.ring();
    const member = (id: string) => {
      const node = ring().get(id);
      if (node === undefined) throw new ClusterluckError('NOT_FOUND', `no member ${show(id)} on the ring`);
      return node;
    };
    const served: Record<string, (a: Args, from: From) => unknown> = {
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
      limit: async (a) => (await dsm.setLimit(str(a, 'id'), num(a, 'n')), 'ok'),
      acquire: async (a, from) => {
        const id = str(a, 'id');
        const session = from.node.id;
        if (this.#sessions.get(session)?.has(id) === true) throw new ClusterluckError('ALREADY_EXISTS', `this session already holds ${show(id)}; release it first`);
        const leaseMs = a['lease'] === undefined ? acquireLeaseMsDefault : num(a, 'lease');
        const lease = await dsm.acquire(id, { leaseMs, timeoutMs: num(a, 'wait'), holder: session });
        if (lease === null) throw new ClusterluckError('INTERNAL', 'acquire without ifAvailable answered null');
        if (!kernel.isConnected(session) && session !== kernel.self.id) {
          await lease.release(); // the session ended while it waited
          throw new ClusterluckError('NOT_CONNECTED', `session ${show(session)} ended while it waited`);
        }
        const held = this.#sessions.get(session) ?? this.#sessions.set(session, new Map()).get(session) as Map<string, Lease>;
        held.set(id, lease);
        lease.signal.addEventListener('abort', () => {
          if (held.get(id) === lease) held.delete(id);
          kernel.env.logger.warn('a CLI session lost its lease', { id, session, reason: String(lease.signal.reason) });
        }, { once: true });
        return `ok token ${lease.token} (held while this session lasts, renewed every ${Math.round(leaseMs / 2)} ms; "release ${id}" gives it back)`;
      },
      release: async (a, from) => {
        const id = str(a, 'id');
        const held = this.#sessions.get(from.node.id);
        const lease = held?.get(id);
        if (lease === undefined) throw new ClusterluckError('NOT_FOUND', `this session holds no lease of ${show(id)}`);
        held?.delete(id);
        await lease.release();
        return 'ok';
      },
      query: async (a) => {
        const states = a['id'] === undefined ? await dsm.queryAll() : [await dsm.query(str(a, 'id'))];
        return queryRows(states);
      },
    };
    for (const [name, fn] of Object.entries(served)) this.handle(name, (data, from) => fn(data as Args, from));
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

/** `query`'s table: each semaphore's holders, then its waiters, one row each with the same columns. */
function queryRows(states: readonly SemaphoreState[]): Record<string, unknown>[] | string {
  const rows: Record<string, unknown>[] = [];
  for (const s of states) {
    for (const h of s.holders) rows.push({ semaphore: s.id, n: s.n, state: 'holds', holder: h.holder, lease: h.lease, token: h.token, permits: h.permits, remainingMs: Math.round(h.remainingMs), node: '' });
    for (const w of s.waiters) rows.push({ semaphore: s.id, n: s.n, state: `waits #${w.position}`, holder: w.holder, lease: w.lease, token: '', permits: w.permits, remainingMs: w.remainingMs === null ? 'none' : Math.round(w.remainingMs), node: w.node });
    if (s.holders.length === 0 && s.waiters.length === 0) rows.push({ semaphore: s.id, n: s.n, state: 'free', holder: '', lease: '', token: '', permits: '', remainingMs: '', node: '' });
  }
  return rows.length === 0 ? 'no semaphores' : rows;
}
