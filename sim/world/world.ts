// A simulated cluster: N ClusterNodes running the real kernel, gossip, DSM and DTable code on a
// virtual clock, a seeded random, the simulated network and simulated disks.
import { cookieKey } from '../../lib/kernel/cookie-key.js';
import { ClusterNode } from '../../lib/cluster/cluster-node.js';
import { storedNodeId } from '../../lib/cluster/node-identity.js';
import { majority, type View, type ViewMember } from '../../lib/core/view.js';
import { silentLogger } from '../../lib/env/logger.js';
import { decodeViewState, viewStateKey } from '../../lib/gossip/view-keeper.js';
import type { Random } from '../../lib/env/random.js';
import type { Storage } from '../../lib/env/storage.js';
import { NodeClock } from '../clock/node-clock.js';
import { processTransport, type ProcessTransport } from '../network/process-transport.js';
import { seededRandom, type SeededRandom } from './seeded-random.js';
import { SimDisk } from '../disk/sim-disk.js';
import { simHmac } from './sim-hmac.js';
import type { SimNetworkEvent } from '../network/sim-net-event.js';
import { formatSimEvent, type OwnerEvent, type SimEvent, type SimEventListener } from './sim-event.js';
import { SimNetwork } from '../network/sim-network.js';
import { VirtualClock } from '../clock/virtual-clock.js';

/** The cluster cookie of every simulated node; its key is derived before a world starts (see simulate). */
export const simCookie = 'sim';

/** Options of a {@link World}. */
export interface WorldOptions {
  readonly seed: string;
  /** @default 5 */
  readonly nodes?: number;
  /** Persist semaphores (DTable on the simulated disk). Off reproduces Clusterluck's amnesia. @default true */
  readonly disk?: boolean;
  /** `'clusterluck'`: handoff, lock-delay, drift bound and synced acks off on every node. @default 'strict' */
  readonly safety?: 'strict' | 'clusterluck';
  /** Chance a crash tears the last unsynced append. @default 0.5 */
  readonly tornWriteProbability?: number;
  /** Most time a disk read or sync takes, ms (seeded per operation). @default 50 */
  readonly diskLatencyMs?: number;
  /**
   * Which shipped entry the processes are: `'node'` is `createCluster({ id, dataDir })`, a process
   * restarted by its supervisor with the same id and directory; `'browser'` is `createBrowserNode`,
   * where a page load takes the member id kept in its IndexedDB database, and a tab whose database
   * was wiped comes back as a new member (a fresh id).
   * @default 'node'
   */
  readonly preset?: Preset;
}

/** The shipped entries the simulator can run: see {@link WorldOptions.preset}. */
export const presets = ['node', 'browser'] as const;
/** One of {@link presets}. */
export type Preset = (typeof presets)[number];

/**
 * One simulated OS process, the one owner of everything it runs on (as FoundationDB's simulated
 * processes gate all of a process's work): its clock (timers, drift, pauses), its sockets, its
 * view of the machine's disk and its random. `kill()` ends them all at once, so nothing of a dead
 * process runs again.
 */
export class SimProcess {
  readonly clock: NodeClock;
  readonly net: ProcessTransport;
  /** Its handle on the machine's disk (undefined without a disk): what it has not synced is lost when the machine crashes. */
  readonly storage: Storage | undefined;
  readonly random: Random;
  /** The node it runs, from boot until it dies. */
  node: ClusterNode | undefined;
  /** Its node's start resolved, and it has not begun to leave or died. */
  serving = false;
  #alive = true;

  constructor(world: VirtualClock, network: SimNetwork, address: string, disk: SimDisk | undefined, random: Random) {
    this.clock = new NodeClock(world);
    this.net = processTransport(network.transport(address));
    this.storage = disk?.storage(this.clock);
    this.random = random;
  }

  /** It runs (booting, serving or leaving). */
  get alive(): boolean {
    return this.#alive;
  }

  /** The process dies: its timers never fire, its sockets reset, its node is gone. */
  kill(): void {
    if (!this.#alive) return;
    this.#alive = false;
    this.serving = false;
    this.node = undefined;
    this.net.kill();
    this.clock.kill();
  }

  /** Stalls it (timers and inbound messages wait) until `resume()`. */
  pause(): void {
    this.clock.pause();
    this.net.pause();
  }

  resume(): void {
    this.clock.resume();
    this.net.resume();
  }
}

/** One simulated machine: its disk outlives its processes, one at a time. */
export class SimHost {
  readonly id: string;
  readonly disk: SimDisk;
  /** The current process, or the last one (dead) until the next boots. */
  proc: SimProcess | undefined;
  /** Counts process changes (boot, crash, leave): a change makes every callback of the old process stale. */
  epoch = 0;
  /** The node id of the current (or last) process: the host's id, or in the browser preset the one kept in its database. */
  nodeId: string;

  constructor(id: string, disk: SimDisk) {
    this.id = id;
    this.disk = disk;
    this.nodeId = id;
  }

  /** A process runs (booting, serving or leaving). */
  get alive(): boolean {
    return this.proc?.alive === true;
  }

  /** The node, while its process serves. */
  get node(): ClusterNode | undefined {
    return this.proc?.serving === true ? this.proc.node : undefined;
  }

  /** The node of the running process, from boot until it dies (booting and leaving included). */
  get process(): ClusterNode | undefined {
    return this.proc?.alive === true ? this.proc.node : undefined;
  }
}

/** The world: hosts, clock, randomness, network and a trace. */
export class World {
  readonly clock = new VirtualClock();
  readonly random: SeededRandom;
  readonly network: SimNetwork;
  readonly hosts = new Map<string, SimHost>();
  readonly options: Required<WorldOptions>;
  /** The trace lines of world, client and network events (deliveries are folded into {@link deliveries}), in order. */
  readonly trace: string[] = [];
  /** The event of each trace line, at the same index. */
  readonly traced: SimEvent[] = [];
  readonly #listeners: SimEventListener[] = [];
  #stopped = false;
  /** Deliveries, folded into one number (FNV-1a) so the trace stays small but still pins the traffic. */
  deliveries = { count: 0, hash: 0x811c9dc5 };

  constructor(options: WorldOptions) {
    this.options = { nodes: 5, disk: true, tornWriteProbability: 0.5, diskLatencyMs: 50, safety: 'strict', preset: 'node', ...options };
    this.random = seededRandom(options.seed);
    this.network = new SimNetwork({ clock: this.clock, random: this.random.fork('network'), onEvent: (e) => this.#onNetwork(e) });
  }

  /** Tells every listener of `event`, and records its trace line (hashed to compare runs), if it has one. */
  emit(event: SimEvent): void {
    const line = formatSimEvent(event);
    if (line !== undefined) {
      this.trace.push(line);
      this.traced.push(event);
    }
    for (const l of this.#listeners) l(event);
  }

  /** Calls `listener` with every event from now on, in order. @returns a function that stops it */
  listen(listener: SimEventListener): () => void {
    this.#listeners.push(listener);
    return () => {
      const i = this.#listeners.indexOf(listener);
      if (i >= 0) this.#listeners.splice(i, 1);
    };
  }

  /** Whether anyone listens (frames are only reported when someone does). */
  get listened(): boolean {
    return this.#listeners.length > 0;
  }

  /** Boots every host and joins them into one ring. */
  async start(): Promise<void> {
    // The MAC key is derived outside virtual time (WebCrypto, on a real thread): once, before the
    // world runs, so no kernel of it ever waits on it (a clock driven by microtasks would spin
    // forever waiting for a real callback) and the run stays deterministic.
    await cookieKey(simCookie);
    for (let i = 0; i < this.options.nodes; i++) await this.clock.drive(this.#boot(this.#addHost()));
    await this.settle(30_000);
  }

  /** A new machine (`n5`, `n6`, …) whose process joins the running cluster through a serving member. @returns its id */
  join(): string {
    const host = this.#addHost();
    this.emit({ type: 'process', at: this.clock.now(), what: 'join', host: host.id });
    void this.#boot(host);
    return host.id;
  }

  #addHost(): SimHost {
    const id = `n${this.hosts.size}`;
    const host = new SimHost(id, new SimDisk({
      random: this.random.fork(`disk-${id}`), tornWriteProbability: this.options.tornWriteProbability,
      latencyMaxMs: this.options.diskLatencyMs, latencyRandom: this.random.fork(`disk-latency-${id}`),
    }));
    this.hosts.set(id, host);
    return host;
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
    host.proc?.kill();
    host.disk.crash();
    this.emit({ type: 'process', at: this.clock.now(), what: 'crash', host: id });
  }

  /** Kills the process and loses its disk too (a replaced machine, a wiped IndexedDB): it restarts with nothing. */
  wipe(id: string): void {
    const host = this.hosts.get(id);
    if (host === undefined || !host.alive) return;
    this.crash(id);
    host.disk.wipe();
    this.emit({ type: 'process', at: this.clock.now(), what: 'wipe', host: id });
  }

  /** The process on a host leaves the ring gracefully and exits (its disk is intact); `restart` brings it back. */
  async leave(id: string): Promise<void> {
    const host = this.hosts.get(id);
    const proc = host?.proc;
    const node = host?.node;
    if (host === undefined || proc === undefined || node === undefined) return;
    host.epoch++; // its clients stop using it now
    proc.serving = false;
    this.emit({ type: 'process', at: this.clock.now(), what: 'leave', host: id });
    await node.stop({ leave: true }).catch(() => undefined);
    if (!proc.alive) return; // crashed while leaving
    proc.kill();
    this.emit({ type: 'process', at: this.clock.now(), what: 'exit', host: id });
  }

  /** An operator removes `id` from the ring (through another serving node); `insert` re-admits it. @returns whether it was sent. */
  remove(id: string): boolean {
    const host = this.hosts.get(id);
    const by = this.#operator(id);
    if (host === undefined || by === undefined) return false;
    this.#inserting.delete(id);
    by.gossip.remove(host.nodeId);
    this.emit({ type: 'operator', at: this.clock.now(), what: 'remove', nodes: [host.nodeId], by: by.self.id });
    return true;
  }

  /**
   * An operator re-admits a removed host's node, and checks that it worked, as one would after
   * `insert` (which is not acknowledged): while the host (or every other node) is not serving they
   * try again a second later, and while its node is not admitted (see #admitted), every 5 s (the node that
   * took the insert may have left before the change was decided). A later `remove` of it ends this.
   */
  insert(id: string): void {
    this.#inserting.add(id);
    this.#insert(id, true);
  }

  readonly #inserting = new Set<string>();

  /** `first`: the operator's insert itself, which also withdraws a removal not decided yet; later calls check first. */
  #insert(id: string, first: boolean): void {
    const host = this.hosts.get(id);
    if (host === undefined || this.#stopped || !this.#inserting.has(id)) return;
    const self = host.node?.self;
    if (!first && self !== undefined && this.#admitted(self.id)) {
      this.#inserting.delete(id);
      return;
    }
    const by = this.#operator(id);
    if (self === undefined || by === undefined) {
      this.clock.setTimer(1000, () => this.#insert(id, first));
      return;
    }
    by.gossip.insert(self);
    this.emit({ type: 'operator', at: this.clock.now(), what: 'insert', nodes: [id], by: by.self.id });
    this.clock.setTimer(5000, () => this.#insert(id, false));
  }

  /**
   * Whether `nodeId` is in the newest view with no change still undecided anywhere: a removal asked
   * for before the insert can be decided after it (seen in fuzz seed 1930 while the handoff
   * was being changed), so "in the newest view" alone is not yet "admitted".
   */
  #admitted(nodeId: string): boolean {
    if (this.newestView()?.members.some((m) => m.id === nodeId) !== true) return false;
    for (const h of this.hosts.values()) {
      const i = h.process?.gossip.inspect();
      if (i !== undefined && (i.changePending || i.pendingChanges.length > 0)) return false;
    }
    return true;
  }

  #operator(not: string): ClusterNode | undefined {
    return [...this.hosts.values()].find((h) => h.id !== not && h.node !== undefined)?.node;
  }

  /** Starts a new process on a crashed host, from its own disk; it serves once its start resolves. */
  restart(id: string): Promise<void> {
    const host = this.hosts.get(id);
    if (host === undefined || host.alive) return Promise.resolve();
    this.emit({ type: 'process', at: this.clock.now(), what: 'restart', host: id });
    return this.#boot(host);
  }

  /** Stalls a host's process for `ms` (timers and inbound messages wait). */
  pause(id: string, ms: number): void {
    const proc = this.hosts.get(id)?.proc;
    if (proc === undefined || !proc.alive) return;
    proc.pause();
    this.emit({ type: 'process', at: this.clock.now(), what: 'pause', host: id, amount: ms });
    this.clock.setTimer(ms, () => {
      if (!proc.alive) return;
      proc.resume();
      this.emit({ type: 'process', at: this.clock.now(), what: 'resume', host: id });
    });
  }

  /** Sets a host clock's drift rate (1.01: 1 % fast). */
  drift(id: string, rate: number): void {
    this.hosts.get(id)?.proc?.clock.setRate(rate);
    this.emit({ type: 'process', at: this.clock.now(), what: 'drift', host: id, amount: rate });
  }

  /** Jumps a host's wall clock (not its monotonic clock) by `ms`. */
  jumpWall(id: string, ms: number): void {
    this.hosts.get(id)?.proc?.clock.jumpWall(ms);
    this.emit({ type: 'process', at: this.clock.now(), what: 'jump', host: id, amount: ms });
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

  /**
   * The members of `view` no process can ever vote as again: no host runs under its id any more
   * (a tab whose database was wiped came back under a new one), or its host's disk no longer holds
   * the acceptor state of that incarnation (wiped, or no disk). A view where these are not a
   * minority can never decide another view (Paxos needs a majority of its acceptors): only an
   * operator's `remove --force` moves it on, as with TigerBeetle's "core missing quorum" or etcd's
   * disaster recovery.
   */
  lostVoters(view: View): ViewMember[] {
    return view.members.filter((m) => {
      const host = [...this.hosts.values()].find((h) => h.nodeId === m.id);
      if (host === undefined) return true;
      if (!this.options.disk) return host.process?.gossip.inspect().incarnation !== m.incarnation;
      const bytes = host.disk.peek(viewStateKey);
      if (bytes === undefined) return true;
      try {
        return decodeViewState(bytes).incarnation !== m.incarnation;
      } catch {
        return true;
      }
    });
  }

  /** The newest view any running process holds, if any. */
  newestView(): View | undefined {
    let newest: View | undefined;
    for (const h of this.hosts.values()) {
      const v = h.process?.gossip.view();
      if (v !== undefined && (newest === undefined || v.number > newest.number)) newest = v;
    }
    return newest;
  }

  /**
   * When the newest view lost a majority of its voters for good, an operator forces them out
   * through a surviving member of that view (`remove ID --force`, the documented way out).
   * @returns undefined while the view can still decide; otherwise who was lost and who was forced
   *   out (nobody when no member of the view survives: then only a new cluster helps)
   */
  forceOutLostVoters(): { view: View; lost: string[]; forced: string[] } | undefined {
    const view = this.newestView();
    if (view === undefined) return undefined;
    const lost = this.lostVoters(view).map((m) => m.id);
    if (view.members.length - lost.length >= majority(view)) return undefined;
    const by = [...this.hosts.values()].find((h) => h.node?.gossip.view()?.number === view.number && view.members.some((m) => m.id === h.nodeId) && !lost.includes(h.nodeId))?.node;
    if (by === undefined) {
      this.emit({ type: 'operator', at: this.clock.now(), what: 'quorum-lost', nodes: lost, view: view.number, voters: view.members.length });
      return { view, lost, forced: [] };
    }
    by.gossip.forceRemove(lost);
    this.emit({ type: 'operator', at: this.clock.now(), what: 'force-remove', nodes: lost, by: by.self.id, view: view.number, voters: view.members.length });
    return { view, lost, forced: lost };
  }

  /** Stops every process (the end of a run). */
  stop(): void {
    this.#stopped = true;
    for (const h of this.hosts.values()) {
      h.epoch++;
      h.proc?.kill();
    }
  }

  async #boot(host: SimHost): Promise<void> {
    const epoch = ++host.epoch;
    const proc = new SimProcess(this.clock, this.network, host.id, this.options.disk ? host.disk : undefined, this.random.fork(`${host.id}#${epoch}`));
    host.proc = proc;
    const storage = proc.storage;
    // A page load takes the id kept in its IndexedDB database, or a fresh one when it has none (a
    // wiped database, no disk), as createBrowserNode does; the fresh id counts page loads instead
    // of being random, to stay readable and replayable.
    if (this.options.preset === 'browser') {
      const fresh = (): string => `${host.id}-p${epoch}`;
      try {
        host.nodeId = storage === undefined ? fresh() : await storedNodeId(storage, fresh);
      } catch (err) {
        if (!proc.alive) return; // crashed while reading it
        throw err;
      }
      if (!proc.alive) return;
    }
    // What createCluster({ id, dataDir }) and createBrowserNode({ storageName }) ship: every gossip
    // and DSM option at its default (auto-remove on, fsyncInterval 1000 with synced grants,
    // ownership lease, lock-delay); only the transport, storage, clock and HMAC are the simulator's.
    // A host's address stays its own across page loads (a WebRTC address is the new id; either
    // way a dial to the old id fails).
    const node = new ClusterNode({
      id: host.nodeId, address: host.id, cookie: simCookie, ringId: 'sim',
      env: { clock: proc.clock, random: proc.random, transport: proc.net.transport, logger: silentLogger, ...(storage === undefined ? {} : { storage }) },
      // Every frame, record and stored view state is decoded after it is encoded (an assertion: runs the same, or fails loudly).
      kernel: { hmac: simHmac, checkCodecs: true },
      dsm: { disk: this.options.disk, ...(this.options.safety === 'clusterluck' ? { safety: 'clusterluck' } : {}) },
      ...(this.options.safety === 'clusterluck' ? { gossip: { safety: 'clusterluck' } } : {}),
    });
    proc.node = node;
    const p = `${host.id}#${epoch}`;
    node.gossip.events.addEventListener('view', (e) => {
      this.emit({ type: 'view', at: this.clock.now(), host: host.id, process: p, nodeId: host.nodeId, view: e.detail.view });
    });
    node.gossip.events.addEventListener('member', (e) => {
      if (this.listened) this.emit({ type: 'member', at: this.clock.now(), host: host.id, member: e.detail.id, status: e.detail.status ?? 'gone' });
    });
    const owner = (what: OwnerEvent['what'], d: { id: string; holder: string; token?: number; permits?: number }, process = p): void =>
      this.emit({ type: 'owner', at: this.clock.now(), what, host: host.id, process, semaphore: d.id, holder: d.holder, ...(d.token === undefined ? {} : { token: d.token }), ...(d.permits === undefined ? {} : { permits: d.permits }) });
    // The grant names the host's current epoch, the waits the booted one's (as the FIFO checker always read them).
    node.dsm.events.addEventListener('grant', (e) => owner('grant', e.detail, `${host.id}#${host.epoch}`));
    node.dsm.events.addEventListener('waiting', (e) => owner('waiting', e.detail));
    node.dsm.events.addEventListener('waitEnded', (e) => owner('wait-ended', e.detail));
    // Join through a serving node, as a supervisor's config would say; only the very first node
    // founds the ring. With nobody serving, a restart still names a seed (another host) and fails
    // to start until that answers: a real node given --join does not found a second cluster.
    const others = [...this.hosts.values()].filter((h) => h !== host);
    const seed = others.find((h) => h.node !== undefined)?.node?.self ?? (others[0] === undefined ? undefined : { id: others[0].nodeId, address: others[0].id });
    try {
      await node.start(seed === undefined ? {} : { seed, syncTimeoutMs: 5000 });
    } catch (err) {
      if (!proc.alive) return; // crashed while booting
      // The process exits; its supervisor starts it again a second later.
      this.emit({ type: 'process', at: this.clock.now(), what: 'boot-failed', host: host.id, reason: (err as { code?: string }).code ?? String(err) });
      this.crash(host.id);
      this.clock.setTimer(1000, () => void this.restart(host.id));
      return;
    }
    if (!proc.alive) return;
    proc.serving = true;
    this.emit({ type: 'process', at: this.clock.now(), what: 'up', host: host.id, ...(host.nodeId === host.id ? {} : { nodeId: host.nodeId }) });
  }

  #onNetwork(e: SimNetworkEvent): void {
    if (e.kind === 'deliver') {
      const d = this.deliveries;
      d.count++;
      let h = d.hash ^ Math.round(e.atMs * 1000);
      h = Math.imul(h, 0x01000193) ^ (e.seq ?? 0);
      h = Math.imul(h, 0x01000193) ^ (e.bytes ?? 0);
      d.hash = Math.imul(h, 0x01000193) >>> 0;
      if (this.listened) this.emit({ type: 'net', at: e.atMs, event: e });
      return;
    }
    if (e.kind === 'send' && !this.listened) return;
    this.emit({ type: 'net', at: e.atMs, event: e });
  }
}
