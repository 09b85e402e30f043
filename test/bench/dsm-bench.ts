// DSMServer workloads W1–W4 and memory per semaphore, as the DSMServer issue defines them.
// The cluster comes from a factory, so the same workloads run over memory, TCP or WebRTC.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClusterNode } from '../../lib/cluster/cluster-node.js';
import { leaseMsMaxDefault } from '../../lib/constants.js';
import { HashRing } from '../../lib/core/hash-ring.js';
import { DSMServer } from '../../lib/dsm/dsm-server.js';
import { silentLogger } from '../../lib/env/logger.js';
import type { Transport } from '../../lib/env/transport.js';
import { NetKernel } from '../../lib/kernel/net-kernel.js';
import { cryptoRandom } from '../../lib/platform/crypto-random.js';
import { fsStorage } from '../../lib/platform/storage/fs-storage.node.js';
import { nodeHmac } from '../../lib/platform/hmac.node.js';
import { systemClock } from '../../lib/platform/system-clock.js';
import { MemoryNetwork } from '../../lib/transports/memory-network.js';
import { webrtcTransport } from '../../lib/transports/webrtc/transport.js';
import { MemorySignalHub } from '../../lib/transports/webrtc/signal-memory.js';
import { nodeWrtc } from '../webrtc-node.js';
import { dsmClient, loadLine, w1, w1Line, w2, w3, w4Acquire, w4Line, type W1Figures } from './dsm-workloads.js';
import { redisWorkloads, type Figures } from './redis-bench.js';

/** A running cluster for the workloads: its servers, a static ring, and how to stop it. */
export interface BenchCluster {
  readonly servers: DSMServer[];
  readonly ring: HashRing;
  stop(): Promise<void>;
}

/** Builds `size` kernels on `transport()`s, fully connected, each with a DSMServer on one static ring. */
export async function benchCluster(size: number, transport: () => Transport, address: (i: number) => string): Promise<BenchCluster> {
  const kernels = Array.from({ length: size }, (_, i) => new NetKernel({
    env: { clock: systemClock(), random: cryptoRandom(), transport: transport(), logger: silentLogger },
    id: `n${i}`, address: address(i), cookie: 'bench', hmac: nodeHmac,
  }));
  await Promise.all(kernels.map((k) => k.start()));
  for (const a of kernels) for (const b of kernels) if (a !== b) a.connect(b.self);
  while (!kernels.every((k) => k.connectedNodes().length === size - 1)) await new Promise((r) => setTimeout(r, 5));
  const ring = new HashRing();
  for (const k of kernels) ring.insert(k.self);
  const servers = kernels.map((k) => new DSMServer({ ring: () => ring }, k, { minWaitTimeout: 1, maxWaitTimeout: 10 }).start());
  return { servers, ring, async stop() {
    await Promise.all(servers.map((s) => s.stop()));
    await Promise.all(kernels.map((k) => k.stop()));
  } };
}


/** An id owned by `ownerIndex` on the ring (so the caller can be a non-owner). */
function idOwnedBy(c: BenchCluster, ownerIndex: number, prefix: string): string {
  for (let i = 0; ; i++) if (c.ring.find(`${prefix}-${i}`).id === `n${ownerIndex}`) return `${prefix}-${i}`;
}

/** Runs W1–W4 with callers on `callerIndex` against semaphores owned by `ownerIndex`. */
export async function dsmWorkloads(c: BenchCluster, print: (line: string) => void, opts: { seconds: number; callerIndex: number; ownerIndex: number; label: string }): Promise<Figures> {
  const dsm = c.servers[opts.callerIndex] as DSMServer;
  const where = `${opts.label}, caller ${opts.callerIndex === opts.ownerIndex ? 'on the owner' : 'on a non-owner'}`;
  // W1: one holder, n=1, sequential post+close, 5,000 cycles.
  const w1id = idOwnedBy(c, opts.ownerIndex, 'w1');
  const f1 = await w1(dsm, w1id);
  print(w1Line(where, f1));

  // W2: 64 concurrent holders, n=8, one try then close. W3: 10,000 semaphores, n=4, 32 workers.
  const w2id = idOwnedBy(c, opts.ownerIndex, 'w2');
  const f2 = await w2(dsmClient(dsm), w2id, opts.seconds);
  print(loadLine('W2', where, f2));
  const ids = Array.from({ length: 10_000 }, (_, i) => `w3-${i}`);
  const f3 = await w3(dsmClient(dsm), ids, opts.seconds);
  print(loadLine('W3', `${where} (owners spread over the ring)`, f3));

  // W4: n=2, 32 holders queue through acquire, hold 5 ms, release.
  const w4id = idOwnedBy(c, opts.ownerIndex, 'w4');
  const f4 = await w4Acquire(dsm, w4id, opts.seconds);
  print(w4Line(where, f4));
  for (const id of [w1id, w2id, w4id, ...ids]) await dsm.destroy(id);
  return { W1: f1.perSecond, W2: f2.perSecond, W3: f3.perSecond, W4: f4.perSecond };
}

/**
 * Heap bytes per idle semaphore and per holder, with 1,000,000 semaphores on one node: a
 * ClusterNode on its decided view, as `createCluster` makes them, that has granted before.
 */
export async function dsmMemory(print: (line: string) => void, count = 1_000_000): Promise<void> {
  const node = new ClusterNode({
    id: 'mem-0', address: 'mem-0', cookie: 'bench', kernel: { hmac: nodeHmac },
    env: { clock: systemClock(), random: cryptoRandom(), transport: new MemoryNetwork().transport(), logger: silentLogger },
  });
  await node.start({});
  while (!node.gossip.isServing()) await new Promise((r) => setTimeout(r, 20));
  const dsm = node.dsm;
  const heap = (): number => {
    (globalThis as { gc?: () => void }).gc?.();
    return process.memoryUsage().heapUsed;
  };
  // Every running owner has granted: its tokens, from view 1 on, are past 2^31, which changes how
  // V8 lays out the semaphores made afterwards (see the Semaphore's lastToken).
  await dsm.create('granted-before', 1);
  await dsm.post('granted-before', 'holder', leaseMsMaxDefault);
  const before = heap();
  for (let i = 0; i < count; i += 10_000) {
    await Promise.all(Array.from({ length: Math.min(10_000, count - i) }, (_, j) => dsm.create(`sem-${i + j}`, 4)));
  }
  const idle = heap();
  for (let i = 0; i < count; i += 10_000) {
    await Promise.all(Array.from({ length: Math.min(10_000, count - i) }, (_, j) => dsm.post(`sem-${i + j}`, 'holder', leaseMsMaxDefault)));
  }
  const held = heap();
  const gcNote = (globalThis as { gc?: unknown }).gc === undefined ? ' (run with --expose-gc for exact figures)' : '';
  print(`memory: ${((idle - before) / count).toFixed(0)} B per idle semaphore, ${((held - idle) / count).toFixed(0)} B per holder (its lease and deadline-heap entry), ${count.toLocaleString('en')} semaphores on one ClusterNode (view ${node.gossip.view()?.number ?? 0})${gcNote}`);
  await node.stop({ leave: false });
}

/** Transports the DSM workloads run over. */
export type BenchTransport = 'memory' | 'tcp' | 'webrtc';

/** The cluster for one transport, all in this process: 3 nodes, or for WebRTC 2 Node nodes over node-datachannel on loopback. */
function clusterOver(transport: 'memory' | 'webrtc'): Promise<BenchCluster> {
  if (transport === 'webrtc') {
    const hub = new MemorySignalHub();
    return benchCluster(2, () => webrtcTransport({ signaller: hub.signaller(), clock: systemClock(), wrtc: nodeWrtc }), (i) => `webrtc-${i}`);
  }
  const network = new MemoryNetwork();
  return benchCluster(3, () => network.transport(), (i) => `mem-${i}`);
}

/** `npm run bench` section: W1–W4 with every node in this process (memory: 3 nodes; WebRTC: 2), the caller on a non-owner. */
export async function dsmBench(print: (line: string) => void, opts: { seconds: number; transport: 'memory' | 'webrtc'; vsRedis: boolean }): Promise<Figures> {
  const c = await clusterOver(opts.transport);
  const label = opts.transport === 'webrtc' ? 'webrtc transport (node-datachannel), 2 Node nodes in this process' : 'memory transport, 3 nodes in this process';
  const ours = await dsmWorkloads(c, print, { seconds: opts.seconds, callerIndex: 1, ownerIndex: 0, label });
  await c.stop();
  if (opts.vsRedis) {
    const theirs = await redisWorkloads(print, opts.seconds);
    if (theirs !== undefined) {
      for (const w of ['W1', 'W2', 'W3', 'W4'] as const) {
        print(`${w}: clusterluck ${Math.round(ours[w]).toLocaleString('en')}/s vs redis-semaphore ${Math.round(theirs[w]).toLocaleString('en')}/s — ratio ${(ours[w] / theirs[w]).toFixed(2)}×`);
      }
    }
  }
  if (opts.transport === 'memory') {
    await viewsW1(print);
    await dsmMemory(print);
  }
  return ours;
}

/** Three ClusterNodes on decided views over one memory network, with or without a disk each. */
async function viewsCluster(safety: 'strict' | 'clusterluck', dir: string | undefined): Promise<{ caller: ClusterNode; owner: ClusterNode; stop(): Promise<void> }> {
  const network = new MemoryNetwork();
  const nodes: ClusterNode[] = [];
  for (let i = 0; i < 3; i++) {
    const storage = dir === undefined ? undefined : fsStorage(join(dir, `${safety}-${i}`));
    const node = new ClusterNode({
      id: `v${i}`, address: `v${i}`, cookie: 'bench', kernel: { hmac: nodeHmac },
      env: { clock: systemClock(), random: cryptoRandom(), transport: network.transport(), logger: silentLogger, ...(storage === undefined ? {} : { storage }) },
      gossip: { safety }, dsm: { safety, minWaitTimeout: 1, maxWaitTimeout: 10, ...(storage === undefined ? {} : { disk: true }) },
    });
    await node.start(i === 0 ? {} : { seed: (nodes[0] as ClusterNode).self });
    nodes.push(node);
  }
  while (!nodes.every((n) => n.gossip.isServing())) await new Promise((r) => setTimeout(r, 20));
  return { caller: nodes[0] as ClusterNode, owner: nodes[1] as ClusterNode, stop: () => Promise.all(nodes.map((n) => n.stop({ leave: false }))).then(() => undefined) };
}

/**
 * W1 through ClusterNodes on decided views (ownership lease checked on every request, handoff
 * listening), caller on a non-owner, memory transport: the safe defaults beside Clusterluck mode
 * (`safety: 'clusterluck'`: no lock-delay or drift bound, grants acknowledged once written rather
 * than synced), both clusters up at once in this process, rounds alternating between them, the
 * median round of each compared. Without a disk, then with one (files in a temporary directory,
 * the shipped `fsyncInterval`).
 */
export async function viewsW1(print: (line: string) => void, rounds = 5): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'clusterluck-bench-'));
  try {
    for (const disk of [false, true]) {
      const clusters = { strict: await viewsCluster('strict', disk ? dir : undefined), clusterluck: await viewsCluster('clusterluck', disk ? dir : undefined) };
      const runs: Record<string, W1Figures[]> = { strict: [], clusterluck: [] };
      let k = 0;
      for (let round = 0; round < rounds; round++) {
        for (const safety of ['strict', 'clusterluck'] as const) {
          const { caller, owner } = clusters[safety];
          let id = '';
          while (caller.gossip.find((id = `vw1-${k++}`)).id !== owner.self.id);
          while (owner.gossip.ownership(id).state !== 'owner') await new Promise((r) => setTimeout(r, 20));
          runs[safety]?.push(await w1(caller.dsm, id, disk ? 400 : 2000));
        }
      }
      const median = (list: W1Figures[]): W1Figures => [...list].sort((a, b) => a.perSecond - b.perSecond)[Math.floor(list.length / 2)] as W1Figures;
      const where = disk ? 'with a disk (fsyncInterval 1000)' : 'no disk';
      for (const safety of ['strict', 'clusterluck'] as const) print(w1Line(`views, memory transport, 3 ClusterNodes, ${where}, safety ${safety}, caller on a non-owner, median of ${rounds} rounds`, median(runs[safety] ?? [])));
      const ratio = median(runs['strict'] ?? []).perSecond / median(runs['clusterluck'] ?? []).perSecond;
      print(`W1 ${where}: the safety rules / Clusterluck mode = ${ratio.toFixed(2)}× (rounds: ${(runs['strict'] ?? []).map((f) => Math.round(f.perSecond)).join(', ')} vs ${(runs['clusterluck'] ?? []).map((f) => Math.round(f.perSecond)).join(', ')})`);
      await clusters.strict.stop();
      await clusters.clusterluck.stop();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
