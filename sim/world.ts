// A simulated cluster: N ClusterNodes running the real kernel, gossip, DSM and DTable code on a
// virtual clock, a seeded random, a network with partitions and delays, and simulated disks.
import { ClusterNode } from '../lib/cluster/cluster-node.js';
import type { NodeId } from '../lib/core/node-id.js';
import { silentLogger } from '../lib/env/logger.js';
import { MemoryNetwork } from '../lib/transports/memory-network.js';
import { FaultyNetwork } from './faulty-network.js';
import { NodeClock } from './node-clock.js';
import { processTransport, type ProcessTransport } from './process-transport.js';
import { seededRandom, type SeededRandom } from './seeded-random.js';
import { SimDisk } from './sim-disk.js';
import { VirtualClock } from './virtual-clock.js';

/** Options of a {@link World}. */
export interface WorldOptions {
  readonly seed: string;
  /** @default 5 */
  readonly nodes?: number;
  /** Persist semaphores (DTable on the simulated disk). Off reproduces Clusterluck's amnesia. @default true */
  readonly disk?: boolean;
  /** Gossip auto-remove of down members, ms (browser default); undefined = off. */
  readonly autoRemoveAfterMs?: number;
  /** Chance a crash tears the last unsynced append. @default 0.5 */
  readonly tornWriteProbability?: number;
}

/** One simulated machine: its disk outlives its processes. */
export interface SimHost {
  readonly id: string;
  readonly disk: SimDisk;
  clock: NodeClock;
  net: ProcessTransport;
  node: ClusterNode | undefined;
  epoch: number;
}

/** The world: hosts, clock, randomness, network and a trace. */
export class World {
  readonly clock = new VirtualClock();
  readonly random: SeededRandom;
  readonly network = new MemoryNetwork();
  readonly faults = new FaultyNetwork(this.clock);
  readonly hosts = new Map<string, SimHost>();
  readonly options: Required<Omit<WorldOptions, 'autoRemoveAfterMs'>> & { autoRemoveAfterMs: number | undefined };
  readonly trace: string[] = [];

  constructor(options: WorldOptions) {
    this.options = { nodes: 5, disk: true, tornWriteProbability: 0.5, autoRemoveAfterMs: undefined, ...options };
    this.random = seededRandom(options.seed);
  }

  /** Records one line of the trace (hashed to compare runs). */
  log(line: string): void {
    this.trace.push(`${this.clock.now().toFixed(3)} ${line}`);
  }

  /** Boots every host and joins them into one ring. */
  async start(): Promise<void> {
    for (let i = 0; i < this.options.nodes; i++) {
      const id = `n${i}`;
      const disk = new SimDisk({ random: this.random.fork(`disk-${id}`), tornWriteProbability: this.options.tornWriteProbability });
      const host: SimHost = { id, disk, clock: new NodeClock(this.clock), net: processTransport(this.#transport(id)), node: undefined, epoch: 0 };
      this.hosts.set(id, host);
      await this.#boot(host);
    }
    await this.settle(30_000);
  }

  /** The live node on host `id`, if its process runs. */
  node(id: string): ClusterNode | undefined {
    return this.hosts.get(id)?.node;
  }

  /** Kills the process on a host: memory gone, unsynced disk writes gone. */
  crash(id: string): void {
    const host = this.hosts.get(id);
    if (host?.node === undefined) return;
    host.net.kill();
    host.clock.cancelAll();
    host.disk.crash();
    host.node = undefined;
    this.log(`crash ${id}`);
  }

  /** Starts a new process on a crashed host, from its own disk. */
  async restart(id: string): Promise<void> {
    const host = this.hosts.get(id);
    if (host === undefined || host.node !== undefined) return;
    host.clock = new NodeClock(this.clock);
    host.net = processTransport(this.#transport(id));
    this.log(`restart ${id}`);
    await this.#boot(host);
  }

  /** Stalls a host's process for `ms` (timers and inbound messages wait). */
  pause(id: string, ms: number): void {
    const host = this.hosts.get(id);
    if (host?.node === undefined) return;
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

  /** Splits hosts into groups that cannot reach each other. */
  partition(groups: string[][]): void {
    this.faults.partition(groups);
    this.log(`partition ${groups.map((g) => g.join(',')).join(' | ')}`);
  }

  /** Ends every partition. */
  heal(): void {
    this.faults.heal();
    this.log('heal');
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

  /** True when every live node has the same ring, holding every live node. */
  converged(): boolean {
    const live = [...this.hosts.values()].flatMap((h) => (h.node === undefined ? [] : [h.node]));
    const sums = new Set(live.map((n) => n.gossip.ring().checksum()));
    return sums.size === 1 && live.every((n) => live.every((m) => n.gossip.ring().has(m.self.id)));
  }

  /** Stops every live node (the end of a run). */
  async stop(): Promise<void> {
    for (const h of this.hosts.values()) {
      h.net.kill();
      h.clock.cancelAll();
      h.node = undefined;
    }
  }

  #transport(id: string) {
    return this.faults.wrap(id, this.network.transport());
  }

  async #boot(host: SimHost): Promise<void> {
    host.epoch++;
    const storage = this.options.disk ? host.disk.storage() : undefined;
    const node = new ClusterNode({
      id: host.id, address: host.id, cookie: 'sim', ringId: 'sim',
      env: { clock: host.clock, random: this.random.fork(`${host.id}#${host.epoch}`), transport: host.net.transport, logger: silentLogger, ...(storage === undefined ? {} : { storage }) },
      gossip: { ...(this.options.autoRemoveAfterMs === undefined ? {} : { autoRemoveAfterMs: this.options.autoRemoveAfterMs }) },
      dsm: { disk: this.options.disk, fsyncInterval: 0, minWaitTimeout: 10, maxWaitTimeout: 100 },
    });
    let started = false;
    const starting = node.start().then(() => {
      started = true;
    });
    while (!started) await this.clock.advance(1);
    await starting;
    host.node = node;
    const seed = [...this.hosts.values()].find((h) => h !== host && h.node !== undefined)?.node?.self as NodeId | undefined;
    if (seed !== undefined) node.meet(seed);
  }
}
