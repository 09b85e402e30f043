// A cluster of DSMServers over one MemoryNetwork with a virtual clock and a shared static ring.
import { HashRing } from '../../lib/core/hash-ring.js';
import { DSMServer, type DSMServerOptions } from '../../lib/dsm/dsm-server.js';
import type { NetKernel } from '../../lib/kernel/net-kernel.js';
import { kernelWorld, type KernelWorld } from './kernels.js';

/** Nodes, their servers, and the ring they share. */
export interface DsmCluster {
  readonly world: KernelWorld;
  readonly ring: HashRing;
  readonly kernels: NetKernel[];
  readonly servers: DSMServer[];
  /** The server on the node that owns `id`, and one on a node that does not. */
  roles(id: string): { owner: DSMServer; other: DSMServer };
  stop(): Promise<void>;
}

/** Starts `size` nodes n0..n(size-1), fully meshed, each with a DSMServer named 'dsm'. */
export async function dsmCluster(size: number, opts: DSMServerOptions = {}, seed = 'dsm'): Promise<DsmCluster> {
  const world = kernelWorld(seed);
  const ids = Array.from({ length: size }, (_, i) => `n${i}`);
  const kernels = await world.mesh(ids);
  const ring = new HashRing();
  for (const k of kernels) ring.insert(k.self);
  const servers = kernels.map((k) => new DSMServer({ ring: () => ring }, k, opts).start());
  return {
    world, ring, kernels, servers,
    roles(id) {
      const ownerId = ring.find(id).id;
      const owner = servers.find((s) => s.kernel.self.id === ownerId) as DSMServer;
      const other = servers.find((s) => s.kernel.self.id !== ownerId) as DSMServer;
      return { owner, other };
    },
    async stop() {
      await Promise.all(servers.map((s) => s.stop()));
      await world.stopAll();
    },
  };
}
