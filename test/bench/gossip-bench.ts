// Gossip membership on virtual time: convergence after one change, message rate, time to detect
// a dead node, and time to a decided view without a crashed member / with a joined one, for 5,
// 50 and 200 nodes at the default interval (1 s) and fanout (3).
// Anchors: Serf's model puts 99.99 % convergence at ~2 s for 1,000 nodes (0.2 s interval,
// fanout 3, i.e. ~10 rounds); memberlist detects a dead node in ~6 s (LAN defaults).
import { autoRemoveAfterMsDefault, gossipFanoutDefault, gossipIntervalMsDefault } from '../../lib/constants.js';
import { detectionBoundMs, suspicionTimeoutMs } from '../../lib/gossip/failure-detector.js';
import type { GossipRingOptions } from '../../lib/gossip/gossip-options.js';
import { GossipWorld } from '../support/gossip-world.js';

const stepMs = 50;

const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `n${String(i).padStart(3, '0')}`);

/** A converged world of `n` members (all of them in one decided view, serving). */
async function cluster(n: number, options: GossipRingOptions): Promise<GossipWorld> {
  const w = new GossipWorld(`gossip-bench-${n}`, options);
  const all = ids(n);
  const [first] = await w.addAll(all);
  first?.ring.minsert(all.slice(1).map((id) => w.get(id).kernel.self));
  await w.runUntil(() => w.converged(all) && all.every((id) => w.get(id).ring.isServing()), 600_000, 500);
  await w.clock.advance(5000);
  return w;
}

/** Ms from a member's crash until every other member adopted a decided view without it. */
async function removal(w: GossipWorld, victim: string): Promise<number> {
  const start = w.clock.now();
  await w.kill(victim);
  await w.runUntil(() => [...w.nodes.values()].every((n) => !(n.ring.view()?.members.some((m) => m.id === victim) ?? true)), 600_000, stepMs);
  return w.clock.now() - start;
}

/** Ms from a fresh node's join request (through `via`) until every member, it included, adopted a view with it. */
async function joining(w: GossipWorld, id: string, via: string): Promise<number> {
  const node = await w.add(id);
  node.ring.join('test');
  const start = w.clock.now();
  void node.ring.sync(w.get(via).kernel.self, 10_000);
  await w.runUntil(() => [...w.nodes.values()].every((n) => n.ring.view()?.members.some((m) => m.id === id) ?? false), 600_000, stepMs);
  return w.clock.now() - start;
}

function framesSent(w: GossipWorld): number {
  let sum = 0;
  for (const n of w.nodes.values()) sum += n.kernel.stats.framesSent;
  return sum;
}

/** Ms of virtual time until half and until all nodes adopted a view where `id` has `weight` (a change decided by Paxos, spread by pushes and gossip). */
async function spread(w: GossipWorld, id: string, weight: number): Promise<{ halfMs: number; allMs: number }> {
  const start = w.clock.now();
  const count = (): number => [...w.nodes.values()].filter((n) => n.ring.view()?.members.find((m) => m.id === id)?.weight === weight).length;
  let halfMs = -1;
  await w.runUntil(() => {
    const c = count();
    if (halfMs < 0 && c * 2 >= w.nodes.size) halfMs = w.clock.now() - start;
    return c === w.nodes.size;
  }, 120_000, stepMs);
  return { halfMs, allMs: w.clock.now() - start };
}

async function detect(w: GossipWorld, victim: string): Promise<{ suspectMs: number; firstDownMs: number; allDownMs: number }> {
  const start = w.clock.now();
  let suspectMs = -1;
  let firstDownMs = -1;
  const downs = new Set<string>();
  for (const n of w.nodes.values()) {
    if (n.id === victim) continue;
    n.ring.events.addEventListener('suspect', (e) => {
      if (e.detail.id === victim && suspectMs < 0) suspectMs = w.clock.now() - start;
    });
    n.ring.events.addEventListener('down', (e) => {
      if (e.detail.id !== victim) return;
      if (firstDownMs < 0) firstDownMs = w.clock.now() - start;
      downs.add(n.id);
    });
  }
  const others = w.nodes.size - 1;
  await w.kill(victim);
  await w.runUntil(() => downs.size === others, 300_000, stepMs);
  return { suspectMs, firstDownMs, allDownMs: w.clock.now() - start };
}

const s = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

/** Prints convergence, message rate and detection time per cluster size. */
export async function gossipBench(print: (line: string) => void, sizes: readonly number[] = [5, 50, 200]): Promise<void> {
  const cases: [number, GossipRingOptions, string][] = sizes.map((n) => [n, {}, `interval ${gossipIntervalMsDefault} ms, fanout ${gossipFanoutDefault}`]);
  if (sizes.includes(200)) cases.push([200, { intervalMs: 200 }, "interval 200 ms (Serf's), fanout 3"]);
  for (const [n, options, label] of cases) {
    const wallStart = performance.now();
    const w = await cluster(n, options);
    const interval = options.intervalMs ?? gossipIntervalMsDefault;

    const before = framesSent(w);
    const quietMs = 20_000;
    await w.clock.advance(quietMs);
    const rate = (framesSent(w) - before) / n / (quietMs / 1000);

    const origin = ids(n)[1] as string;
    w.get(origin).ring.update(ids(n)[2] as string, 2);
    const { halfMs, allMs } = await spread(w, ids(n)[2] as string, 2);
    print(`gossip ${n} nodes (${label}): one operator change (a weight) decided and adopted by 50 % in ${s(halfMs)}, ` +
      `by 100 % in ${s(allMs)} (${(allMs / interval).toFixed(1)} gossip rounds)`);
    print(`gossip ${n} nodes (${label}): steady state ${rate.toFixed(1)} messages sent per node per second (digests, probes, acks, ownership confirmations)`);

    if (options.intervalMs === undefined) {
      const d = await detect(w, ids(n)[n - 1] as string);
      print(`gossip ${n} nodes: dead node suspected after ${s(d.suspectMs)}, down on the first node after ${s(d.firstDownMs)}, ` +
        `on all ${n - 1} after ${s(d.allDownMs)} (suspicion timeout ${s(suspicionTimeoutMs(n, 4, 1000))}, bound ${s(detectionBoundMs(n, 4, 1000))})`);
      const removedMs = await removal(w, ids(n)[n - 2] as string);
      print(`views ${n} nodes: crash → decided view without it on every member after ${s(removedMs)} ` +
        `(detection + auto-remove ${s(autoRemoveAfterMsDefault)} + the Paxos round)`);
      const joinedMs = await joining(w, 'joiner', ids(n)[0] as string);
      print(`views ${n} nodes: join request → decided view with it on every member after ${s(joinedMs)}`);
    }
    await w.stop();
    print(`  (${n} nodes simulated in ${((performance.now() - wallStart) / 1000).toFixed(1)} s of wall time)`);
  }
}
