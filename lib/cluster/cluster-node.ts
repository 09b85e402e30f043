import type { NodeId } from '../core/node-id.js';
import { DSMServer, dsmServerNameDefault, type DSMServerOptions } from '../dsm/dsm-server.js';
import { DistributedLocks } from '../dsm/locks.js';
import type { Env } from '../env/env.js';
import { ClusterluckError, invalidArgument, show } from '../env/errors.js';
import { GossipRing } from '../gossip/gossip-ring.js';
import type { GossipRingOptions } from '../gossip/gossip-options.js';
import type { Actor } from '../kernel/actor.js';
import { NetKernel, type NetKernelOptions } from '../kernel/net-kernel.js';
import { AdminServer, adminServerName } from './admin-server.js';
import { nodeMetrics, type Metric } from './metrics.js';

/** The ring id nodes join unless told otherwise. */
export const ringIdDefault = 'clusterluck';

/** One table exchange with the seed may take this long before the next is tried. */
const syncAttemptMs = 3000;

/** How long {@link ClusterNode.start} waits for the first ring from its seed. */
export const syncTimeoutMsDefault = 10_000;

/** Options of {@link ClusterNode.start}. */
export interface ClusterNodeStartOptions {
  /**
   * A member of the cluster to join, or a function finding one once the kernel listens (e.g. by
   * dialling an address). The seed's cluster adds this node by a view change; the DSMServer serves
   * only once this node is a member of that view.
   */
  readonly seed?: NodeId | ((node: ClusterNode) => Promise<NodeId>);
  /** How long to wait for a view holding this node; then `start` rejects with TIMEOUT, having stopped again. @default 10000 */
  readonly syncTimeoutMs?: number;
}

/** Options of a {@link ClusterNode}. */
export interface ClusterNodeOptions {
  /** Clock, randomness, transport, logger and (for `dsm.disk`) storage. */
  readonly env: Env;
  /** This node's cluster-unique id. */
  readonly id: string;
  /** The transport address to listen on. */
  readonly address: string;
  /** The cluster's shared secret. */
  readonly cookie: string;
  /** The ring to join. @default 'clusterluck' */
  readonly ringId?: string;
  /** Kernel limits. */
  readonly kernel?: Omit<NetKernelOptions, 'env' | 'id' | 'address' | 'cookie'>;
  /** Gossip options (interval, fanout, failure detection, auto-remove). */
  readonly gossip?: Omit<GossipRingOptions, 'ringId'>;
  /**
   * DSMServer options. With `env.storage` (or `gossip.storage`) the table is stored too (`disk`
   * defaults to true, and false is INVALID_ARGUMENT: the view is stored, and a member restarting on
   * its stored view serves at once).
   */
  readonly dsm?: DSMServerOptions;
  /**
   * What the node holds for its lifetime, e.g. the storage its factory opened (closed once the
   * node has stopped, so nothing writes to it after `stop()` resolves) or a Web Lock: released in
   * order by `stop()`. @default []
   */
  readonly held?: readonly Held[];
}

/** Something a node holds for its lifetime; `release` may be called more than once. */
export interface Held {
  release(): void | Promise<void>;
}

/**
 * One member of a cluster: its kernel, its GossipRing and a started DSMServer, plus the admin
 * actor the `clusterluck cli` talks to. Works wherever its Env does (Node, browsers, the simulator).
 */
export class ClusterNode {
  readonly kernel: NetKernel;
  readonly gossip: GossipRing;
  readonly dsm: DSMServer;
  /** The Web Locks API (`navigator.locks`'s `request` and `query`) across the cluster, on the DSM. */
  readonly locks: DistributedLocks;
  readonly admin: AdminServer;
  readonly #ringId: string;
  readonly #held: readonly Held[];
  #started = false;

  constructor(options: ClusterNodeOptions) {
    if (typeof options !== 'object' || options === null) throw invalidArgument('options', options, 'an options object');
    this.kernel = new NetKernel({ ...options.kernel, env: options.env, id: options.id, address: options.address, cookie: options.cookie });
    // The lock-delay covers the longest lease the DSM grants.
    this.gossip = new GossipRing(this.kernel, { ...(options.dsm?.leaseMsMax === undefined ? {} : { leaseMsMax: options.dsm.leaseMsMax }), ...options.gossip });
    // With storage the gossip keeps the view across a restart, and with it this process's
    // incarnation and vote: it then serves its keys at once, with no lock-delay, so its table must
    // come back too. A table in memory beside a stored view granted again, after a restart, slots
    // whose holders still held them. (The DSMServer refuses that too; this names our option.)
    const storage = options.env.storage ?? options.gossip?.storage;
    const disk = options.dsm?.disk ?? this.gossip.viewStored;
    if (this.gossip.viewStored && !disk) {
      throw invalidArgument('options.dsm.disk', options.dsm?.disk,
        'true or absent when env.storage or gossip.storage is given (the view is stored, so the semaphore table must be: a restart would grant again what its holders still hold)');
    }
    this.dsm = new DSMServer(this.gossip, this.kernel, { ...(storage === undefined ? {} : { storage }), ...options.dsm, disk });
    this.locks = new DistributedLocks(this.dsm);
    this.admin = new AdminServer(this);
    this.#held = options.held ?? [];
    this.#ringId = options.ringId ?? ringIdDefault;
  }

  /** This node's id and bound address. */
  get self(): NodeId {
    return this.kernel.self;
  }

  /**
   * Its counters and gauges, read now (requests by actor, event and code; grants, releases,
   * expirations; frames sent and dropped by reason; view changes; probes and per-peer round trip;
   * queue lengths). `toPrometheus(node.metrics())` renders them for a scrape endpoint.
   */
  metrics(): Metric[] {
    return nodeMetrics({ kernel: this.kernel, gossip: this.gossip, dsm: this.dsm, servers: { dsm: this.dsm, ring: this.gossip, admin: this.admin } });
  }

  /**
   * Listens, joins the ring, meets `seed` and waits for its ring (when given), then loads persisted
   * semaphores and starts serving.
   */
  async start(options: ClusterNodeStartOptions = {}): Promise<this> {
    if (this.#started) return this;
    const timeoutMs = options.syncTimeoutMs ?? syncTimeoutMsDefault;
    if (!(typeof timeoutMs === 'number' && timeoutMs > 0)) throw invalidArgument('options.syncTimeoutMs', timeoutMs, 'a number > 0');
    await this.kernel.start();
    // Until the table is loaded, requests for it hear NOT_RUNNING (retried by callers), not NO_SUCH_ACTOR.
    const loading: Actor = {
      deliver: (kind, from) => {
        if (kind === 'call') this.kernel.replyError(from, new ClusterluckError('NOT_RUNNING', `node ${show(this.kernel.self.id)} has not loaded its semaphore table yet`));
      },
    };
    this.kernel.register(dsmServerNameDefault, loading);
    this.gossip.start();
    // With a seed it founds nothing: a restarted process that lost its state (or a wiped one)
    // whose seed is not answering fails to start rather than serve a second cluster.
    this.gossip.join(this.#ringId, { found: options.seed === undefined });
    try {
      // The stored view (or, without a seed, a new singleton one) first; then, with a seed, a view that holds us.
      await this.gossip.ready();
      // A member restarting on its stored view needs no seed: it serves only under its ownership
      // lease, so only once members of that same view confirm it; probes catch it up otherwise.
      const restored = this.gossip.isMember() && (this.gossip.view()?.members.length ?? 0) > 1;
      if (options.seed !== undefined && !restored) {
        const seed = typeof options.seed === 'function' ? await options.seed(this) : options.seed;
        await this.#sync(seed, timeoutMs);
      }
    } catch (err) {
      this.kernel.unregister(dsmServerNameDefault, loading);
      await this.gossip.stop();
      await this.kernel.stop();
      throw err;
    }
    // Nothing is served before the table is loaded: a read would answer NOT_FOUND, and a create
    // with another n would replace the stored limit. A table that cannot be loaded (STORAGE_CORRUPT)
    // is not served at all: the node stops again and `start` rejects with the error, so it never
    // grants on semaphores whose holders it forgot (move the file aside to start empty: the
    // lock-delay then covers what it forgot).
    try {
      await this.dsm.load();
    } catch (err) {
      this.kernel.env.logger.error('the semaphore table could not be loaded; not serving', { error: String(err) });
      this.kernel.unregister(dsmServerNameDefault, loading);
      await this.gossip.stop();
      await this.kernel.stop();
      throw err;
    }
    this.kernel.unregister(dsmServerNameDefault, loading);
    this.dsm.start(dsmServerNameDefault);
    this.admin.start(adminServerName);
    this.#started = true;
    return this;
  }

  /** Exchanges tables with `seed` until one exchange succeeds; TIMEOUT after `timeoutMs`. */
  async #sync(seed: NodeId, timeoutMs: number): Promise<void> {
    const clock = this.kernel.env.clock;
    const deadline = clock.now() + timeoutMs;
    for (;;) {
      const left = deadline - clock.now();
      if (left <= 0) throw new ClusterluckError('TIMEOUT', `no ring from ${seed.id} within ${timeoutMs} ms`);
      const attempt = Math.min(left, syncAttemptMs);
      const started = clock.now();
      if (await this.gossip.sync(seed, attempt)) return;
      // A refused dial fails at once: wait out the attempt before the next one.
      const rest = attempt - (clock.now() - started);
      if (rest > 0) await new Promise<void>((resolve) => clock.setTimer(rest, resolve));
    }
  }

  /** Joins the cluster that `seed` belongs to. */
  meet(seed: NodeId): this {
    this.gossip.meet(seed);
    return this;
  }

  /** Leaves the ring gracefully (unless `leave` is false), then stops every server and the kernel. */
  async stop(options: { leave?: boolean } = {}): Promise<void> {
    try {
      if (!this.#started) return;
      this.#started = false;
      if (options.leave !== false) await this.gossip.leave();
      await this.admin.stop();
      await this.dsm.stop();
      await this.gossip.stop();
      await this.kernel.stop();
      // Views adopted until the kernel stopped may still be on their way to storage.
      await this.gossip.flushed();
    } finally {
      for (const h of this.#held) await h.release();
    }
  }

  /** `await using node = ...` stops it. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
