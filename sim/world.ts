// A simulated cluster: N ClusterNodes running the real kernel, gossip, DSM and DTable code on a
// virtual clock, a seeded random, the simulated network and simulated disks.
import { ClusterNode } from '../lib/cluster/cluster-node.js';
import type { View } from '../lib/core/view.js';
import { silentLogger } from '../lib/env/logger.js';
import { NodeClock } from './node-clock.js';
import { processTransport, type ProcessTransport } from './process-transport.js';
import { seededRandom, type SeededRandom } from './seeded-random.js';
import { SimDisk } from './sim-disk.js';
import { simHmac } from './sim-hmac.js';
import { formatSimNetworkEvent, type SimNetworkEvent } from './sim-net-event.js';
import { SimNetwork } from './sim-network.js';
import { VirtualClock } from './virtual-clock.js';

/** Options of a {@link World}. */
export interface WorldOptions {
  readonly seed: string;
  /** @default 5 */
  readonly nodes?: number;
  /** Persist semaphores (DTable on the simulated disk). Off reproduces Clusterluck's amnesia. @default true */
  readonly disk?: boolean;
  /** `'clusterluck'`: handoff, lock-delay, drift bound and synced acks off on every node. @default 'strict' */
  readonly safety?: 'strict' | 'clusterluck';
  /** Called whenever a process adopts a decided view. */
  readonly onView?: (process: string, view: View, atMs: number) => void;
  /** Chance a crash tears the last unsynced append. @default 0.5 */
  readonly tornWriteProbability?: number;
  /** Most time a disk read or sync takes, ms (seeded per operation). @default 50 */
  readonly diskLatencyMs?: number;
}

/** One simulated machine: its disk outlives its processes. */
export interface SimHost {
  readonly id: string;
  readonly disk: SimDisk;
  clock: NodeClock;
  net: ProcessTransport;
  /** A process runs (booting or serving). */
  alive: boolean;
  /** The node, once its process has started serving. */
  node: ClusterNode | undefined;
  /** The node of the running process, from boot until it dies (booting and leaving included). */
  process: ClusterNode | undefined;
  /** Counts processes: a crash or restart makes every callback of the old one stale. */
  epoch: number;
}

/** The world: hosts, clock, randomness, network and a trace. */
export class World {
  readonly clock = new VirtualClock();
  readonly random: SeededRandom;
  readonly network: SimNetwork;
  readonly hosts = new Map<string, SimHost>();
  readonly options: Required<Omit<WorldOptions, 'onView'>> & Pick<WorldOptions, 'onView'>;
  /** World events and network events other than deliveries, in order. */
  readonly trace: string[] = [];
  /** Deliveries, folded into one number (FNV-1a) so the trace stays small but still pins the traffic. */
  deliveries = { count: 0, hash: 0x811c9dc5 };

  constructor(options: WorldOptions) {
    this.options = { nodes: 5, disk: true, tornWriteProbability: 0.5, diskLatencyMs: 50, safety: 'strict', ...options };
    this.random = seededRandom(options.seed);
    this.network = new SimNetwork({ clock: this.clock, random: this.random.fork('network'), onEvent: (e) => this.#onNetwork(e) });
  }

  /** Records one line of the trace (hashed to compare runs). */
  log(line: string): void {
    this.trace.push(`${this.clock.now().toFixed(3)} ${line}`);
  }

  /** Boots every host and joins them into one ring. */
  async start(): Promise<void> {
    for (let i = 0; i < this.options.nodes; i++) {
      const id = `n${i}`;
      const disk = new SimDisk({
        random: this.random.fork(`disk-${id}`), tornWriteProbability: this.options.tornWriteProbability,
        latencyMaxMs: this.options.diskLatencyMs, latencyRandom: this.random.fork(`disk-latency-${id}`),
      });
      const host: SimHost = { id, disk, clock: new NodeClock(this.clock), net: processTransport(this.network.transport(id)), alive: false, node: undefined, process: undefined, epoch: 0 };
      this.hosts.set(id, host);
      await this.clock.drive(this.#boot(host));
    }
    await this.settle(30_000);
  }

  /** The live node on host `id`, if its process serves. */
  node(id: string): ClusterNode | undefined {
    return this.hosts.get(id)?.node;
  }

  /** Kills the process on a host, booting or serving: memory gone, sockets reset, unsynced disk writes gone. */
  crash(id: string): void {
    const host = this.hosts.get(id);
    if (host === undefined || !host.alive) return;
    host.epoch++;
    host.alive = false;
    host.node = undefined;
    host.process = undefined;
    host.net.kill();
    host.clock.kill();
    host.disk.crash();
    this.log(`crash ${id}`);
  }

  /** Kills the process and loses its disk too (a replaced machine, a wiped IndexedDB): it restarts with nothing. */
  wipe(id: string): void {
    const host = this.hosts.get(id);
    if (host === undefined || !host.alive) return;
    this.crash(id);
    host.disk.wipe();
    this.log(`wipe ${id}`);
  }

  /** The process on a host leaves the ring gracefully and exits (its disk is intact); `restart` brings it back. */
  async leave(id: string): Promise<void> {
    const host = this.hosts.get(id);
    const node = host?.node;
    if (host === undefined || node === undefined) return;
    const epoch = ++host.epoch; // its clients stop using it now
    host.node = undefined;
    this.log(`leave ${id}`);
    await node.stop({ leave: true }).catch(() => undefined);
    if (host.epoch !== epoch) return;
    host.alive = false;
    host.process = undefined;
    host.net.kill();
    host.clock.kill();
    this.log(`exit ${id}`);
  }

  /** An operator removes `id` from the ring (through another serving node); `insert` re-admits it. @returns whether it was sent. */
  remove(id: string): boolean {
    const by = this.#operator(id);
    if (by === undefined) return false;
    by.gossip.remove(id);
    this.log(`remove ${id} by ${by.self.id}`);
    return true;
  }

  /** An operator re-admits a removed host's node. */
  insert(id: string): void {
    const self = this.node(id)?.self;
    const by = this.#operator(id);
    if (self === undefined || by === undefined) return;
    by.gossip.insert(self);
    this.log(`insert ${id} by ${by.self.id}`);
  }

  #operator(not: string): ClusterNode | undefined {
    return [...this.hosts.values()].find((h) => h.id !== not && h.node !== undefined)?.node;
  }

  /** Starts a new process on a crashed host, from its own disk; it serves once its start resolves. */
  restart(id: string): Promise<void> {
    const host = this.hosts.get(id);
    if (host === undefined || host.alive) return Promise.resolve();
    host.clock = new NodeClock(this.clock);
    host.net = processTransport(this.network.transport(id));
    this.log(`restart ${id}`);
    return this.#boot(host);
  }

  /** Stalls a host's process for `ms` (timers and inbound messages wait). */
  pause(id: string, ms: number): void {
    const host = this.hosts.get(id);
    if (host === undefined || !host.alive) return;
    host.clock.pause();
    host.net.pause();
    const epoch = host.epoch;
    this.log(`pause ${id} ${ms}`);
    this.clock.setTimer(ms, () => {
      if (host.epoch !== epoch) return;
      host.clock.resume();
      host.net.resume();
      this.log(`resume ${id}`);
    });
  }

  /** Sets a host clock's drift rate (1.01: 1 % fast). */
  drift(id: string, rate: number): void {
    this.hosts.get(id)?.clock.setRate(rate);
    this.log(`drift ${id} ${rate.toFixed(4)}`);
  }

  /** Jumps a host's wall clock (not its monotonic clock) by `ms`. */
  jumpWall(id: string, ms: number): void {
    this.hosts.get(id)?.clock.jumpWall(ms);
    this.log(`jump ${id} ${ms}`);
  }

  /** Splits hosts into two groups that cannot reach each other, both ways. */
  partition(a: readonly string[], b: readonly string[]): void {
    this.network.partition(a, b);
  }

  /** Nothing passes from `from` to `to`; the other way works. */
  partitionOneWay(from: readonly string[], to: readonly string[]): void {
    this.network.partitionOneWay(from, to);
  }

  /** Holds everything to and from a host for `ms` (a congested link; connections survive). */
  clog(id: string, ms: number): void {
    this.network.clog(id, ms);
  }

  /** Ends every partition. */
  heal(): void {
    this.network.heal();
  }

  /** Advances virtual time by `ms`, in small steps so promise chains settle between timers. */
  async run(ms: number, stepMs = 1000): Promise<void> {
    for (let t = 0; t < ms; t += stepMs) await this.clock.advance(Math.min(stepMs, ms - t));
  }

  /** Runs until every live node sees the same ring (or `limitMs` passes). @returns whether they converged. */
  async settle(limitMs: number): Promise<boolean> {
    for (let t = 0; t < limitMs; t += 100) {
      if (this.converged()) return true;
      await this.run(100);
    }
    return this.converged();
  }

  /** True when every serving node has the same ring, holding every serving node. */
  converged(): boolean {
    const live = [...this.hosts.values()].flatMap((h) => (h.node === undefined ? [] : [h.node]));
    const sums = new Set(live.map((n) => n.gossip.ring().checksum()));
    return sums.size === 1 && live.every((n) => live.every((m) => n.gossip.ring().has(m.self.id)));
  }

  /** Stops every process (the end of a run). */
  stop(): void {
    for (const h of this.hosts.values()) {
      h.epoch++;
      h.alive = false;
      h.node = undefined;
      h.process = undefined;
      h.net.kill();
      h.clock.kill();
    }
  }

  async #boot(host: SimHost): Promise<void> {
    const epoch = ++host.epoch;
    host.alive = true;
    const storage = this.options.disk ? host.disk.storage(host.clock) : undefined;
    // What createCluster({ dataDir }) and createBrowserNode() ship: every gossip and DSM option at
    // its default (auto-remove on, fsyncInterval 1000 with synced grants, ownership lease,
    // hand-over delay); only the transport, storage, clock and HMAC are the simulator's.
    const node = new ClusterNode({
      id: host.id, address: host.id, cookie: 'sim', ringId: 'sim',
      env: { clock: host.clock, random: this.random.fork(`${host.id}#${epoch}`), transport: host.net.transport, logger: silentLogger, ...(storage === undefined ? {} : { storage }) },
      kernel: { hmac: simHmac },
      dsm: { disk: this.options.disk, ...(this.options.safety === 'clusterluck' ? { safety: 'clusterluck' } : {}) },
      ...(this.options.safety === 'clusterluck' ? { gossip: { safety: 'clusterluck' } } : {}),
    });
    host.process = node;
    const onView = this.options.onView;
    node.gossip.events.addEventListener('view', (e) => {
      const v = e.detail.view;
      this.log(`view ${host.id} ${v.number} ${v.members.map((m) => m.id).join(',')}`);
      onView?.(`${host.id}#${epoch}`, v, this.clock.now());
    });
    // Join through a serving node, as a supervisor's config would say; only the very first node
    // founds the ring. With nobody serving, a restart still names a seed (another host) and fails
    // to start until that answers: a real node given --join does not found a second cluster.
    const others = [...this.hosts.values()].filter((h) => h !== host);
    const seed = others.find((h) => h.node !== undefined)?.node?.self ?? (others[0] === undefined ? undefined : { id: others[0].id, address: others[0].id });
    try {
      await node.start(seed === undefined ? {} : { seed, syncTimeoutMs: 5000 });
    } catch (err) {
      if (host.epoch !== epoch) return; // crashed while booting
      // The process exits; its supervisor starts it again a second later.
      this.log(`boot-failed ${host.id} ${(err as { code?: string }).code ?? String(err)}`);
      host.process = undefined;
      this.crash(host.id);
      this.clock.setTimer(1000, () => void this.restart(host.id));
      return;
    }
    if (host.epoch !== epoch) return;
    host.node = node;
    this.log(`up ${host.id}`);
  }

  #onNetwork(e: SimNetworkEvent): void {
    if (e.kind === 'deliver') {
      const d = this.deliveries;
      d.count++;
      let h = d.hash ^ Math.round(e.atMs * 1000);
      h = Math.imul(h, 0x01000193) ^ (e.seq ?? 0);
      h = Math.imul(h, 0x01000193) ^ (e.bytes ?? 0);
      d.hash = Math.imul(h, 0x01000193) >>> 0;
      return;
    }
    this.trace.push(formatSimNetworkEvent(e));
  }
}
