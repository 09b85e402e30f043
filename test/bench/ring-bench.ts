// Hash ring balance (keys per member) and find() throughput.
import { ringVnodesPerWeightDefault } from '../../lib/constants.js';
import { HashRing } from '../../lib/core/hash-ring.js';

const keyCount = 100_000;

function ringOf(members: number, vnodesPerWeight: number): HashRing {
  const ring = new HashRing({ vnodesPerWeight });
  for (let i = 0; i < members; i++) ring.insert({ id: `node-${i}`, address: `10.0.0.${i}:7022` });
  return ring;
}

/** Keys `key-0 … key-99999` per member: max/min ratio and each member's share. */
function balance(ring: HashRing): { ratio: number; shares: string } {
  const counts = new Map<string, number>(ring.nodes().map((n) => [n.id, 0]));
  for (let i = 0; i < keyCount; i++) {
    const id = ring.find(`key-${i}`).id;
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  const values = [...counts.values()];
  const shares = values.map((c) => `${((100 * c) / keyCount).toFixed(1)}%`).join('/');
  return { ratio: Math.max(...values) / Math.min(...values), shares };
}

/** Prints ring balance for our default and for Clusterluck's 3 vnodes, then find() calls per second. */
export async function ringBench(print: (line: string) => void, seconds = 0.5): Promise<void> {
  const cases: [members: number, vnodes: number, note: string][] = [
    [10, ringVnodesPerWeightDefault, 'default; target ≤ 1.10'],
    [10, 3, "Clusterluck's vnodes"],
    [3, ringVnodesPerWeightDefault, 'default'],
    [3, 3, "Clusterluck's vnodes"],
  ];
  for (const [members, vnodes, note] of cases) {
    const { ratio, shares } = balance(ringOf(members, vnodes));
    const detail = members <= 3 ? `, shares ${shares}` : '';
    print(`ring balance, ${members} members × ${vnodes} vnodes (${note}): max/min keys ${ratio.toFixed(3)}${detail}`);
  }

  const ring = ringOf(100, ringVnodesPerWeightDefault);
  const keys = Array.from({ length: 4096 }, (_, i) => `semaphore-${i}`);
  let sink = 0;
  let calls = 0;
  const start = performance.now();
  let now = start;
  while (now - start < seconds * 1000) {
    for (const key of keys) sink += ring.find(key).id.length;
    calls += keys.length;
    now = performance.now();
  }
  const rate = calls / ((now - start) / 1000);
  const points = ring.pointCount().toLocaleString('en');
  print(`ring find(), 100 members × ${ringVnodesPerWeightDefault} vnodes (${points} points): ${Math.round(rate).toLocaleString('en')} calls/s`);
  if (sink === 0) print('(unreachable: keeps find() from being optimised away)');
  await Promise.resolve();
}
