// `npm start`: three in-memory nodes on one hash ring, calling each other through signed frames.
// (A later issue turns this into a local TCP cluster with an interactive session.)
import { HashRing } from '../lib/core/hash-ring.js';
import { GenServer } from '../lib/kernel/gen-server.js';
import { NetKernel } from '../lib/kernel/net-kernel.js';
import { consoleLogger } from '../lib/platform/console-logger.js';
import { cryptoRandom } from '../lib/platform/crypto-random.js';
import { systemClock } from '../lib/platform/system-clock.js';
import { MemoryNetwork } from '../lib/transports/memory-network.js';

const help = `usage: npm start [-- --keys N]

Starts three clusterluck nodes (a, b, c) in this process over an in-memory network, puts them
on one consistent-hash ring, and has each node ask the owner of some keys to count them.
Every call crosses the kernel as a signed frame. Prints what each node did, then exits.

  --keys N   how many keys to route (default 12)
  --help     this text`;

class Counter extends GenServer {
  readonly counts = new Map<string, number>();
  constructor(kernel: NetKernel) {
    super(kernel);
    this.handle('count', (data) => {
      if (typeof data !== 'string') throw new TypeError('key must be a string');
      const n = (this.counts.get(data) ?? 0) + 1;
      this.counts.set(data, n);
      return { key: data, count: n, by: kernel.self.id };
    });
  }
}

async function main(argv: string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) return void console.log(help);
  const at = argv.indexOf('--keys');
  const keys = at >= 0 ? Number(argv[at + 1]) : 12;
  if (!Number.isInteger(keys) || keys < 1 || keys > 10_000) {
    console.error(`--keys must be an integer from 1 to 10000, got ${String(argv[at + 1])}`);
    process.exitCode = 2;
    return;
  }
  const network = new MemoryNetwork();
  const kernels = ['a', 'b', 'c'].map(
    (id) => new NetKernel({
      id, address: `mem:${id}`, cookie: 'demo-cookie',
      env: { clock: systemClock(), random: cryptoRandom(), transport: network.transport(), logger: consoleLogger(id, 'warn') },
    }),
  );
  await Promise.all(kernels.map((k) => k.start()));
  const ring = new HashRing();
  for (const k of kernels) ring.insert(k.self);
  for (const k of kernels) for (const other of kernels) if (k !== other) k.connect(other.self);
  const counters = kernels.map((k) => new Counter(k).start('counter'));
  console.log(`3 nodes up: ${kernels.map((k) => `${k.self.id}@${k.self.address}`).join(', ')}; ring checksum ${ring.checksum()}`);

  const started = performance.now();
  for (let i = 0; i < keys; i++) {
    const key = `job-${i}`;
    const caller = kernels[i % kernels.length] as NetKernel;
    const owner = ring.find(key);
    const reply = (await caller.call({ node: owner.id, name: 'counter' }, 'count', key, { timeoutMs: 5000 })) as { count: number; by: string };
    const route = owner.id === caller.self.id ? 'served locally' : `routed ${caller.self.id} → ${owner.id}`;
    console.log(`  ${caller.self.id} count(${key}): ${route}, count ${reply.count} by ${reply.by}`);
  }
  const ms = performance.now() - started;
  for (const [i, c] of counters.entries()) console.log(`node ${kernels[i]?.self.id} owns ${c.counts.size} of ${keys} keys`);
  const sent = kernels.reduce((n, k) => n + k.stats.framesSent, 0);
  const refused = kernels.reduce((n, k) => n + Object.values(k.stats.dropped).reduce((x, y) => x + y, 0), 0);
  console.log(`${keys} calls in ${ms.toFixed(1)} ms; ${sent} signed frames sent, ${refused} refused`);
  await Promise.all(kernels.map((k) => k.stop()));
}

await main(process.argv.slice(2));
