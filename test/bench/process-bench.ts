// W1–W3 as users deploy them, beside Redis as it is deployed. The owners are `clusterluck node`
// processes, one in memory and one with a data directory (every grant synced before it is
// answered). The caller is a member in this process, all over TCP on 127.0.0.1. Semaphore ids are
// chosen so that their owner is one of those processes; a second row puts them on the caller. Redis
// runs as its own `redis-server`, in memory and then with `appendfsync always`, with the ioredis
// client in this process. Each row gives throughput and latency, and the CPU each process spent per
// cycle: this process from `process.cpuUsage()`, the others from /proc/PID/stat.
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { ClusterNode } from '../../lib/cluster/cluster-node.js';
import { createCluster } from '../../lib/node.js';
import { freePort, startNode, stopAll, type Proc } from '../support/node-processes.js';
import { dsmClient, loadLine, w1, w1Line, w2, w3, warmUpSeconds, type LoadFigures, type SemaphoreClient, type W1Figures } from './dsm-workloads.js';
import { redisClient, startRedis } from './redis-bench.js';
import { startBenchServer } from './w4-bench.js';

/** Clock ticks per second of /proc/PID/stat's times. */
const ticksPerSecond = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU time process `pid` has used so far, µs: utime + stime from /proc/PID/stat. */
async function cpuOfUs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // The fields after the command's closing parenthesis start at field 3 (state); utime is 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / ticksPerSecond;
}

/** CPU time this process has used so far, µs. */
function ownCpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/** Runs `work` and returns its figures with the CPU µs per cycle of this process (`self`) and of each of `others` (by name). */
async function metered<F>(others: Record<string, number>, work: () => Promise<F>, cycles: (f: F) => number): Promise<{ f: F; cpu: Record<string, number> }> {
  const before = { self: ownCpuUs(), ...Object.fromEntries(await Promise.all(Object.entries(others).map(async ([k, pid]) => [k, await cpuOfUs(pid)] as const))) };
  const f = await work();
  const after = { self: ownCpuUs(), ...Object.fromEntries(await Promise.all(Object.entries(others).map(async ([k, pid]) => [k, await cpuOfUs(pid)] as const))) };
  const n = cycles(f);
  return { f, cpu: Object.fromEntries(Object.keys(after).map((k) => [k, ((after as Record<string, number>)[k] as number) - ((before as Record<string, number>)[k] as number)]).map(([k, us]) => [k, (us as number) / n])) };
}

const cpuText = (cpu: Record<string, number>, names: Record<string, string>): string =>
  `CPU per cycle: ${Object.entries(cpu).map(([k, us]) => `${names[k] ?? k} ${Math.round(us).toLocaleString('en')} µs`).join(', ')}`;

/** Round trips/s of one message at a time between two Node processes, its p50 in ms, and this process's CPU µs per trip. */
interface Floor { readonly perSecond: number; readonly p50: number; readonly cpuUs: number }

/**
 * The floor under W1: one `bytes`-byte message at a time (about a post's frame) to a Node process
 * that only writes back what it reads (echo-server.ts), unmeasured for `warm` s, then for `seconds`.
 */
async function echoFloor(port: number, seconds: number, warm: number, bytes = 160): Promise<Floor> {
  const socket = createConnection({ port, host: '127.0.0.1' });
  socket.setNoDelay(true);
  await once(socket, 'connect');
  const message = Buffer.alloc(bytes, 7);
  const run = (ms: number): Promise<number[]> => new Promise((resolve) => {
    const trips: number[] = [];
    let got = 0;
    let sentAt = performance.now();
    const end = sentAt + ms;
    const onData = (chunk: Buffer): void => {
      got += chunk.byteLength;
      if (got < bytes) return;
      got -= bytes;
      const now = performance.now();
      trips.push(now - sentAt);
      if (now >= end) {
        socket.off('data', onData);
        return resolve(trips);
      }
      sentAt = now;
      socket.write(message);
    };
    socket.on('data', onData);
    socket.write(message);
  });
  try {
    await run(warm * 1000);
    const cpu = ownCpuUs();
    const started = performance.now();
    const trips = await run(seconds * 1000);
    const elapsedS = (performance.now() - started) / 1000;
    const cpuUs = (ownCpuUs() - cpu) / trips.length;
    trips.sort((a, b) => a - b);
    return { perSecond: trips.length / elapsedS, p50: trips[Math.floor(trips.length / 2)] as number, cpuUs };
  } finally {
    socket.destroy();
  }
}

/** One W1–W3 row set's figures. */
interface Rows { W1: { f: W1Figures; cpu: Record<string, number> }; W2: { f: LoadFigures; cpu: Record<string, number> }; W3: { f: LoadFigures; cpu: Record<string, number> } }

/** W1–W3 through `client` on ids from `owned(prefix, i)`, metered; prints each row. */
async function rows(print: (line: string) => void, where: string, client: SemaphoreClient, owned: (prefix: string, count: number) => string[],
  seconds: number, others: Record<string, number>, names: Record<string, string>): Promise<Rows> {
  // Each workload runs unmeasured first (as warmUpSeconds says), then measured.
  const warm = warmUpSeconds(seconds);
  const [w1id] = owned('w1', 1) as [string];
  await w1(client, w1id, 1000);
  const W1 = await metered(others, () => w1(client, w1id), () => 5000);
  print(`${w1Line(where, W1.f)}; ${cpuText(W1.cpu, names)}`);
  const [w2id] = owned('w2', 1) as [string];
  await w2(client, w2id, warm);
  const W2 = await metered(others, () => w2(client, w2id, seconds), (f) => f.cycles);
  print(`${loadLine('W2', where, W2.f)}; ${cpuText(W2.cpu, names)}`);
  const ids = owned('w3', 10_000);
  await w3(client, ids, warm);
  const W3 = await metered(others, () => w3(client, ids, seconds), (f) => f.cycles);
  print(`${loadLine('W3', where, W3.f)}; ${cpuText(W3.cpu, names)}`);
  return { W1, W2, W3 };
}

/** The first `count` ids `prefix-i` that `node` owns on `caller`'s ring. */
function ownedBy(caller: ClusterNode, node: string): (prefix: string, count: number) => string[] {
  return (prefix, count) => {
    const out: string[] = [];
    for (let i = 0; out.length < count; i++) if (caller.gossip.ring().find(`${prefix}-${i}`).id === node) out.push(`${prefix}-${i}`);
    return out;
  };
}

/** `npm run bench -- --transport tcp`: W1–W3 with every owner in its own process, beside Redis in its own (with `vsRedis`). */
export async function processBench(print: (line: string) => void, seconds: number, vsRedis: boolean): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'clusterluck-bench-'));
  const procs: Proc[] = [];
  let caller: ClusterNode | undefined;
  try {
    const portA = await freePort();
    const a = await startNode({ id: 'a', port: portA, cookie: 'bench', started: procs });
    const d = await startNode({ id: 'd', port: await freePort(), cookie: 'bench', join: `127.0.0.1:${portA}`, dataDir: join(dir, 'd'), started: procs });
    caller = await createCluster({ id: 'caller', cookie: 'bench', join: `127.0.0.1:${portA}`, logLevel: 'error', dsm: { minWaitTimeout: 1, maxWaitTimeout: 10 } });
    const joined = caller;
    while (joined.gossip.ring().size() < 3) await new Promise((r) => setTimeout(r, 20));
    const client = dsmClient(joined.dsm);
    const pidA = a.child.pid as number;
    const names = { self: 'caller', a: 'owner' };
    print(`W1–W3: every server runs each workload unmeasured first (W1 1,000 cycles, durable W1 200, W2 and W3 ${warmUpSeconds(seconds)} s), then measured`);
    const ours = await rows(print, 'clusterluck, owner a `clusterluck node` process (TCP), caller a member in this one', client, ownedBy(joined, 'a'), seconds, { a: pidA }, names);
    await rows(print, 'clusterluck, caller on the owner', client, ownedBy(joined, 'caller'), seconds, {}, { self: 'caller' });
    const [durableId] = ownedBy(joined, 'd')('w1d', 1) as [string];
    await w1(client, durableId, 200);
    const disk = await metered({ d: d.child.pid as number }, () => w1(client, durableId, 1000), () => 1000);
    print(`${w1Line('clusterluck, owner with a data directory (grants synced before the answer), caller a member in this process', disk.f)}; ${cpuText(disk.cpu, { self: 'caller', d: 'owner' })}`);
    await joined.stop({ leave: false });
    caller = undefined;
    await stopAll(procs);

    const echo = await startBenchServer('echo-server.ts');
    let floor: Floor;
    try {
      floor = await echoFloor(echo.port, seconds, warmUpSeconds(seconds));
    } finally {
      echo.child.kill('SIGKILL');
    }
    print(`floor: one 160-byte message at a time to a Node process that only writes back what it reads (test/bench/echo-server.ts): ` +
      `${Math.round(floor.perSecond).toLocaleString('en')} round trips/s, p50 ${floor.p50.toFixed(3)} ms, client CPU ${Math.round(floor.cpuUs)} µs per trip; ` +
      `W1 is two round trips, so no Node owner answering each request exceeds ${Math.round(floor.perSecond / 2).toLocaleString('en')} cycles/s (clusterluck's W1: ${(ours.W1.f.perSecond / (floor.perSecond / 2)).toFixed(2)}× that)`);
    if (!vsRedis) return;

    const server = await startRedis();
    if (server === undefined) return void print('redis: redis-server is not on PATH (Debian package redis-server); skipping the comparison');
    let theirs: Rows;
    const redis = new Redis({ port: server.port, host: '127.0.0.1' });
    try {
      const all = (prefix: string, count: number): string[] => Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
      theirs = await rows(print, 'redis-semaphore, redis-server in its own process, ioredis in this one', redisClient(redis), all, seconds, { server: server.pid }, { self: 'client', server: 'redis-server' });
    } finally {
      redis.disconnect();
      await server.stop();
    }
    const aof = await startRedis(true);
    if (aof === undefined) return;
    const redisAof = new Redis({ port: aof.port, host: '127.0.0.1' });
    let theirsDisk: { f: W1Figures; cpu: Record<string, number> };
    try {
      await w1(redisClient(redisAof), 'w1', 200);
      theirsDisk = await metered({ server: aof.pid }, () => w1(redisClient(redisAof), 'w1', 1000), () => 1000);
      print(`${w1Line('redis-semaphore, redis-server with appendfsync always', theirsDisk.f)}; ${cpuText(theirsDisk.cpu, { self: 'client', server: 'redis-server' })}`);
    } finally {
      redisAof.disconnect();
      await aof.stop();
    }

    const x = (a: number, b: number): string => `${(a / b).toFixed(2)}×`;
    print(`targets (owner in its own process, caller on a non-owner): ` +
      `W1 ${x(ours.W1.f.perSecond, theirs.W1.f.perSecond)} (≥ 1.5×; the floor's ceiling ${x(floor.perSecond / 2, theirs.W1.f.perSecond)}), post p99 ${ours.W1.f.post.p99.toFixed(2)} ms vs ${theirs.W1.f.post.p99.toFixed(2)} ms (no worse); ` +
      `W2 ${x(ours.W2.f.perSecond, theirs.W2.f.perSecond)} (≥ 1.5×); W3 ${x(ours.W3.f.perSecond, theirs.W3.f.perSecond)} (≥ 1.5×); ` +
      `caller CPU per W1 cycle ${x(ours.W1.cpu['self'] as number, theirs.W1.cpu['self'] as number)} the ioredis client's (≤ 1×; the floor's client, two trips: ${x(2 * floor.cpuUs, theirs.W1.cpu['self'] as number)}); ` +
      `W1 durable ${x(disk.f.perSecond, theirsDisk.f.perSecond)} Redis with appendfsync always`);
  } finally {
    await caller?.stop({ leave: false });
    await stopAll(procs);
    await rm(dir, { recursive: true, force: true });
  }
}
