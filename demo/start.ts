// `npm start`: a local three-node cluster on 127.0.0.1 over TCP, joined into one ring, and an
// interactive session on the first node. Ctrl-C (or "quit", or end of input) stops all three.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { interactive, openSession } from '../lib/cli.js';
import type { ClusterNode } from '../lib/cluster/cluster-node.js';
import { createCluster } from '../lib/node.js';

const help = `usage: npm start [-- --data-dir DIR] [--log-level warn]

Starts three clusterluck nodes (a, b, c) on 127.0.0.1 with free ports, joins them into one ring
over TCP, then opens the interactive session on node a (the same as "clusterluck cli").
Try:  create jobs 2  |  post jobs worker-1 30000  |  read jobs  |  inspect  |  help
Ctrl-C, "quit" or the end of input stops the three nodes cleanly.

  --data-dir DIR    keep the semaphore tables in DIR (default: a temporary directory, removed at exit)
  --log-level L     debug, info, warn (default) or error
  --help            this text`;

function option(argv: string[], name: string): string | undefined {
  const at = argv.indexOf(name);
  return at >= 0 ? argv[at + 1] : undefined;
}

async function main(argv: string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) return void console.log(help);
  const level = option(argv, '--log-level') ?? 'warn';
  if (!['debug', 'info', 'warn', 'error'].includes(level)) {
    console.error(`--log-level must be debug, info, warn or error, got ${JSON.stringify(level)}`);
    process.exitCode = 2;
    return;
  }
  const kept = option(argv, '--data-dir');
  const dataRoot = kept ?? (await mkdtemp(join(tmpdir(), 'clusterluck-')));
  const cookie = 'clusterluck-local-demo';
  const nodes: ClusterNode[] = [];
  let stopping: Promise<void> | undefined;
  const stopAll = (): Promise<void> => (stopping ??= (async () => {
    console.log('\nstopping a, b and c …');
    await Promise.all(nodes.map((n) => n.stop()));
    if (kept === undefined) await rm(dataRoot, { recursive: true, force: true });
    console.log('stopped.');
  })());
  process.once('SIGINT', () => void stopAll().then(() => process.exit(0)));
  try {
    for (const id of ['a', 'b', 'c']) {
      const first = nodes[0];
      nodes.push(await createCluster({
        id, cookie, port: 0, dataDir: join(dataRoot, id), logLevel: level as 'warn',
        ...(first === undefined ? {} : { join: `${first.self.id}@${first.self.address}` }),
      }));
    }
    for (const n of nodes) console.log(`node ${n.self.id} listening on ${n.self.address}`);
    await converged(nodes);
    console.log(`one ring of ${nodes[0]?.gossip.ring().size()} members, checksum ${nodes[0]?.gossip.ring().checksum()}; data in ${dataRoot}`);
    const a = nodes[0] as ClusterNode;
    const session = await openSession(a.self.address, cookie);
    try {
      await interactive(session, false);
    } finally {
      await session.close();
    }
  } finally {
    await stopAll();
  }
}

/** Waits (up to 10 s) until every node sees the same three-member ring. */
async function converged(nodes: ClusterNode[]): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const sums = new Set(nodes.map((n) => n.gossip.ring().checksum()));
    if (sums.size === 1 && nodes.every((n) => n.gossip.ring().size() === nodes.length)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  console.warn('warning: the ring has not converged after 10 s; continuing');
}

await main(process.argv.slice(2));
