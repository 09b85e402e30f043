// W4 as the Leases issue measures it, every owner in its own OS process: 32 waiters on an n=2
// semaphore, each holding 5 ms, for `seconds` after a warm-up, through clusterluck's `acquire` (the owner a
// `clusterluck node` process, the caller a member in this process), a minimal FIFO server (the
// reference: one process, pushed grants, nothing else) and redis-semaphore on redis-server (it
// polls). Prints grants/s, the longest wait and grants per waiter, then the targets.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCluster } from '../../lib/node.js';
import { freePort, startNode, stopAll, type Proc } from '../support/node-processes.js';
import { w4Acquire, w4Line, w4Loop, warmUpSeconds, type W4Figures } from './dsm-workloads.js';
import { redisW4 } from './redis-bench.js';

const root = join(import.meta.dirname, '..', '..');
const waiters = 32;
const holdMs = 5;

/** W4 against the FIFO server at `port`. */
async function fifoW4(port: number, seconds: number): Promise<W4Figures> {
  const socket = createConnection({ port, host: '127.0.0.1' });
  socket.setNoDelay(true);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const pending = new Map<number, () => void>();
  let buffered = '';
  socket.on('data', (chunk) => {
    buffered += chunk.toString();
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      const { req } = JSON.parse(buffered.slice(0, nl)) as { req: number };
      buffered = buffered.slice(nl + 1);
      pending.get(req)?.();
      pending.delete(req);
    }
  });
  let next = 0;
  const acquire = (): Promise<void> => new Promise((resolve) => {
    const req = next++;
    pending.set(req, resolve);
    socket.write(`${JSON.stringify({ op: 'acquire', id: 'w4', req })}\n`);
  });
  const release = (): void => void socket.write(`${JSON.stringify({ op: 'release', id: 'w4' })}\n`);
  const take = async (): Promise<() => void> => {
    await acquire();
    return release;
  };
  await w4Loop(warmUpSeconds(seconds), take, waiters, holdMs);
  const figures = await w4Loop(seconds, take, waiters, holdMs);
  socket.destroy();
  return figures;
}

/** Starts one of the bench's own servers (`file` under test/bench, taking its port) in its own process; resolves once it listens. */
export async function startBenchServer(file: string): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'test/bench', file), String(port)], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => (d.toString().includes('listening') ? resolve() : undefined));
    child.once('exit', (code) => reject(new Error(`${file} exited with ${code}`)));
  });
  return { port, child };
}

/** Runs W4 three ways and prints the figures and the Leases issue's targets. */
export async function w4Processes(print: (line: string) => void, seconds: number, vsRedis: boolean): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'clusterluck-w4-'));
  const procs: Proc[] = [];
  let fifo: ChildProcess | undefined;
  print(`W4: every server runs it ${warmUpSeconds(seconds)} s unmeasured (its hot paths compiled), then ${seconds} s measured`);
  try {
    // The owner as `clusterluck node` in memory (as the FIFO server and Redis run here), then with a
    // data directory (every grant synced before it is answered).
    let ours: W4Figures | undefined;
    for (const disk of [false, true]) {
      const port = await freePort();
      const owner = await startNode({ id: 'owner', port, ...(disk ? { dataDir: join(dir, 'owner') } : {}), cookie: 'bench', started: procs });
      const caller = await createCluster({ id: 'caller', cookie: 'bench', join: `127.0.0.1:${port}`, logLevel: 'error' });
      let id = '';
      for (let i = 0; ; i++) if (caller.gossip.ring().find((id = `w4-${i}`)).id === 'owner') break;
      await w4Acquire(caller.dsm, id, warmUpSeconds(seconds), waiters, holdMs);
      const f = await w4Acquire(caller.dsm, id, seconds, waiters, holdMs);
      print(w4Line(`clusterluck acquire (owner in its own process, TCP, ${disk ? 'grants synced to its data directory' : 'in memory'})`, f));
      ours ??= f;
      await caller.stop();
      await stopAll([owner]);
    }
    if (ours === undefined) throw new Error('unreachable');

    const server = await startBenchServer('fifo-server.ts');
    fifo = server.child;
    const ref = await fifoW4(server.port, seconds);
    print(w4Line('minimal FIFO server (its own process, TCP)', ref));

    const redis = vsRedis ? await redisW4(print, seconds, warmUpSeconds(seconds), waiters, holdMs) : undefined;
    const bound = 3 * holdMs * (waiters / 2);
    print(`targets: grants per waiter max/min ${(ours.grantsMax / ours.grantsMin).toFixed(3)} (≤ 1.1); ` +
      `longest wait ${ours.longestMs.toFixed(0)} ms (≤ 3 × hold × waiters / n = ${bound} ms); ` +
      `grants/s ${(ours.perSecond / ref.perSecond).toFixed(3)}× the FIFO server's (≥ 0.95)` +
      (redis === undefined ? '' : `; ${(ours.perSecond / redis.perSecond).toFixed(2)}× redis-semaphore's`));
  } finally {
    fifo?.kill('SIGKILL');
    await stopAll(procs);
    await rm(dir, { recursive: true, force: true });
  }
}
