// Builds kernels on one MemoryNetwork with a virtual clock and a seeded random, for tests.
import { silentLogger } from '../../lib/env/logger.js';
import type { Transport } from '../../lib/env/transport.js';
import { NetKernel, type NetKernelOptions } from '../../lib/kernel/net-kernel.js';
import { MemoryNetwork } from '../../lib/transports/memory-network.js';
import { VirtualClock } from '../../sim/clock/virtual-clock.js';
import { seededRandom } from '../../sim/world/seeded-random.js';

/** A little world of kernels sharing one network and one clock. */
export interface KernelWorld {
  readonly clock: VirtualClock;
  readonly network: MemoryNetwork;
  kernel(id: string, options?: Partial<NetKernelOptions> & { transport?: Transport }): NetKernel;
  /** Starts kernels and connects each to every other, waiting until all links are up. */
  mesh(ids: string[], options?: Partial<NetKernelOptions>): Promise<NetKernel[]>;
  stopAll(): Promise<void>;
}

/** A new {@link KernelWorld}. */
export function kernelWorld(seed = 'kernel-tests'): KernelWorld {
  const clock = new VirtualClock();
  const network = new MemoryNetwork();
  const random = seededRandom(seed);
  const made: NetKernel[] = [];
  const world: KernelWorld = {
    clock,
    network,
    kernel(id, options = {}) {
      const transport = options.transport ?? network.transport();
      const k = new NetKernel({
        cookie: 'secret',
        address: id,
        id,
        ...options,
        env: { clock, random: random.fork(id), transport, logger: silentLogger },
      });
      made.push(k);
      return k;
    },
    async mesh(ids, options) {
      const ks = ids.map((id) => world.kernel(id, options));
      await Promise.all(ks.map((k) => k.start()));
      for (const a of ks) for (const b of ks) if (a !== b) a.connect(b.self);
      await until(() => ks.every((k) => k.connectedNodes().length === ks.length - 1));
      return ks;
    },
    async stopAll() {
      await Promise.all(made.map((k) => k.stop()));
    },
  };
  return world;
}

/** Lets microtasks run until `condition` holds; fails after `turns` turns. */
export async function until(condition: () => boolean, turns = 10_000): Promise<void> {
  for (let i = 0; i < turns; i++) {
    if (condition()) return;
    await new Promise<void>((r) => setTimeout(r, 0));
  }
  throw new Error('condition not reached');
}
