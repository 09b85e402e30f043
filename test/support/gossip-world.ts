// N gossip rings on the simulated network (no latency unless a test slows a node), with a virtual
// clock and a seeded random. The seed comes from SIM_SEED or is chosen and printed, so any failure can be replayed.
import { silentLogger } from '../../lib/env/logger.js';
import type { GossipRingOptions } from '../../lib/gossip/gossip-options.js';
import { GossipRing } from '../../lib/gossip/gossip-ring.js';
import { NetKernel } from '../../lib/kernel/net-kernel.js';
import { seededRandom, type SeededRandom } from '../../sim/world/seeded-random.js';
import { VirtualClock } from '../../sim/clock/virtual-clock.js';
import { SimNetwork } from '../../sim/network/sim-network.js';

/** The seed of this test run: `SIM_SEED`, or a fresh one (printed by {@link testSeed}'s caller). */
export function testSeed(label: string): string {
  const seed = process.env['SIM_SEED'] ?? `${label}-${Math.floor(Math.random() * 1e9)}`;
  console.log(`${label}: SIM_SEED=${seed}  (replay: SIM_SEED=${seed} npx vitest run --project node test/)`);
  return seed;
}

/** One node: its kernel and gossip ring. */
export interface GossipNode {
  readonly id: string;
  readonly kernel: NetKernel;
  readonly ring: GossipRing;
}

/** A world of gossip nodes. */
export class GossipWorld {
  readonly clock = new VirtualClock();
  readonly random: SeededRandom;
  readonly network: SimNetwork;
  readonly nodes = new Map<string, GossipNode>();
  readonly #options: GossipRingOptions;

  constructor(seed: string, options: GossipRingOptions = {}) {
    this.random = seededRandom(seed);
    this.network = new SimNetwork({ clock: this.clock, random: this.random.fork('network'), defaultLink: { latencyMs: 0 } });
    this.#options = options;
  }

  /** Starts a node (kernel + ring registered as `ring`), not yet in any ring unless `options.ringId`. */
  async add(id: string, options: GossipRingOptions = {}): Promise<GossipNode> {
    const kernel = new NetKernel({
      id, address: id, cookie: 'secret',
      env: { clock: this.clock, random: this.random.fork(id), logger: silentLogger, transport: this.network.transport(id) },
    });
    await kernel.start();
    const ring = new GossipRing(kernel, { ...this.#options, ...options }).start();
    const node = { id, kernel, ring };
    this.nodes.set(id, node);
    return node;
  }

  /** Adds `ids`, each joining `ringId`. */
  async addAll(ids: readonly string[], ringId = 'test'): Promise<GossipNode[]> {
    const out: GossipNode[] = [];
    for (const id of ids) {
      const n = await this.add(id);
      n.ring.join(ringId);
      out.push(n);
    }
    return out;
  }

  /** Delays every frame to and from `id` by `ms` each way (a round trip with it takes 2 × ms). */
  slow(id: string, ms: number): void {
    for (const other of this.nodes.keys()) {
      if (other === id) continue;
      this.network.setLink(id, other, { latencyMs: ms });
      this.network.setLink(other, id, { latencyMs: ms });
    }
  }

  /** The node `id` (throws when unknown). */
  get(id: string): GossipNode {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  /** Stops a node's ring and kernel (a crash, as far as the others can tell) and forgets it. */
  async kill(id: string): Promise<void> {
    const n = this.get(id);
    this.nodes.delete(id);
    await this.clock.drive(n.ring.stop().then(() => n.kernel.stop())); // closing a simulated connection takes a latency
  }


  /** Advances virtual time in `stepMs` steps until `condition` holds; returns the ms it took, or throws after `limitMs`. */
  async runUntil(condition: () => boolean, limitMs: number, stepMs = 100): Promise<number> {
    const start = this.clock.now();
    while (!condition()) {
      if (this.clock.now() - start >= limitMs) throw new Error(`condition not reached within ${limitMs} ms of virtual time`);
      await this.clock.advance(stepMs);
    }
    return this.clock.now() - start;
  }

  /** Ids of the ring of `id`, sorted. */
  ringOf(id: string): string[] {
    return this.get(id).ring.ring().nodes().map((n) => n.id);
  }

  /** True when every running node (or those in `ids`) has the same table and the ring `expected`. */
  converged(expected: readonly string[], ids: readonly string[] = [...this.nodes.keys()]): boolean {
    const sums = new Set(ids.map((id) => this.get(id).ring.membership().checksum()));
    if (sums.size !== 1) return false;
    const want = [...expected].sort().join(',');
    return ids.every((id) => this.get(id).ring.membership().ringMembers().map((m) => m.id).join(',') === want);
  }

  /** Stops everything. */
  async stop(): Promise<void> {
    for (const id of [...this.nodes.keys()]) await this.kill(id);
  }
}
