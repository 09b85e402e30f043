// `npm run cluster`: a local three-node cluster on 127.0.0.1 over TCP, joined into one ring, and an
// interactive session on the first node. Ctrl-C (or "quit", or end of input) stops all three.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { interactive, openSession } from '../lib/cli/cli.js';
import type { ClusterNode } from '../lib/cluster/cluster-node.js';
import { createCluster } from '../lib/node.js';

const help = `usage: npm run cluster [-- --data-dir DIR] [--log-level warn]

Starts three clusterluck nodes (a, b, c) on 127.0.0.1 with free ports, joins them into one ring
over TCP, then opens the interactive session on node a (the same as "clusterluck cli").
Try:  create jobs 2  |  post jobs worker-1 30000  |  read jobs  |  inspect  |  help
Ctrl-C, "quit" or the end of input stops the three nodes cleanly.

  --data-dir DIR    keep the semaphore tables in DIR (default: a temporary directory, removed at exit)
  --log-level L     debug, info, warn (default) or error
  --help            this text

Exit code: 0, 1 when a command failed, 128 for bad usage (as "clusterluck cli").`;

const levels = ['debug', 'info', 'warn', 'error'] as const;

/** The flags, parsed strictly (an unknown flag or a stray word is an error, as in the CLI). */
function flags(argv: string[]): { help: boolean; dataDir?: string; level: (typeof levels)[number] } {
  const { values } = parseArgs({
    args: argv, strict: true, allowPositionals: false,
    options: { help: { type: 'boolean', short: 'h' }, 'data-dir': { type: 'string' }, 'log-level': { type: 'string' } },
  });
  const level = values['log-level'] ?? 'warn';
  if (!(levels as readonly string[]).includes(level)) throw new Error(`--log-level must be debug, info, warn or error, got ${JSON.stringify(level)}`);
  const dir = values['data-dir'];
  if (dir === '') throw new Error('--data-dir must name a directory, got ""');
  return { help: values.help === true, level: level as (typeof levels)[number], ...(dir === undefined ? {} : { dataDir: dir }) };
}

async function main(argv: string[]): Promise<void> {
  let o: ReturnType<typeof flags>;
  try {
    o = flags(argv);
  } catch (err) {
    console.error(`npm run cluster: ${(err as Error).message}\n\n${help}`);
    process.exitCode = 128; // bad usage, as the CLI (etcdctl's code)
    return;
  }
  if (o.help) return void console.log(help);
  const level = o.level;
  const kept = o.dataDir;
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
        id, cookie, port: 0, dataDir: join(dataRoot, id), logLevel: level,
        ...(first === undefined ? {} : { join: `${first.self.id}@${first.self.address}` }),
      }));
    }
    for (const n of nodes) console.log(`node ${n.self.id} listening on ${n.self.address}`);
    await converged(nodes);
    console.log(`one ring of ${nodes[0]?.gossip.ring().size()} members, checksum ${nodes[0]?.gossip.ring().checksum()}; data in ${dataRoot}`);
    const a = nodes[0] as ClusterNode;
    const session = await openSession(a.self.address, cookie);
    try {
      if (await interactive(session, 'table') > 0) process.exitCode = 1;
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
