// The same workloads through redis-semaphore against a local redis-server, for `--vs-redis`.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { Semaphore } from 'redis-semaphore';
import { loadLine, w1, w1Line, w2, w3, w4Line, w4Loop, type SemaphoreClient } from './dsm-workloads.js';

/** Figures of one run, by workload, to print side by side. */
export type Figures = Record<'W1' | 'W2' | 'W3' | 'W4', number>;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/**
 * Starts redis-server on 127.0.0.1 in a temporary directory (in memory, or with `durable` every
 * write in its append-only file, fsynced before the answer) and resolves once it answers;
 * undefined when it is not installed.
 */
export async function startRedis(durable = false): Promise<{ port: number; pid: number; stop(): Promise<void> } | undefined> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'clusterluck-redis-'));
  const persistence = durable ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
  const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', ...persistence], { stdio: 'ignore' });
  const started = await new Promise<boolean>((resolve) => {
    child.once('error', () => resolve(false));
    const probe = async (): Promise<void> => {
      for (let i = 0; i < 100; i++) {
        const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
        r.on('error', () => undefined); // refused until it listens: that is what the probe asks
        const ok = await r.connect().then(() => true, () => false);
        r.disconnect();
        if (ok) return resolve(true);
        await new Promise((res) => setTimeout(res, 50));
      }
      resolve(false);
    };
    void probe();
  });
  if (!started) {
    child.kill();
    await rm(dir, { recursive: true, force: true });
    return undefined;
  }
  return { port, pid: child.pid as number, async stop() {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await rm(dir, { recursive: true, force: true });
  } };
}

/** W4 alone through redis-semaphore (it polls every 10 ms), after `warmSeconds` unmeasured; prints and returns the figures, or undefined without redis-server. */
export async function redisW4(print: (line: string) => void, seconds: number, warmSeconds: number, waiters = 32, holdMs = 5): Promise<{ perSecond: number } | undefined> {
  const server = await startRedis();
  if (server === undefined) {
    print('redis: redis-server is not on PATH (Debian package redis-server); skipping the comparison');
    return undefined;
  }
  const redis = new Redis({ port: server.port, host: '127.0.0.1' });
  try {
    const take = async (): Promise<() => Promise<void>> => {
      const s = new Semaphore(redis, 'w4', 2, { lockTimeout: 10_000, acquireTimeout: 60_000, retryInterval: 10, refreshInterval: 0 });
      await s.acquire();
      return () => s.release();
    };
    await w4Loop(warmSeconds, take, waiters, holdMs);
    const f = await w4Loop(seconds, take, waiters, holdMs);
    print(w4Line('redis-semaphore (redis-server in its own process)', f));
    return { perSecond: f.perSecond };
  } finally {
    redis.disconnect();
    await server.stop();
  }
}

/** A {@link SemaphoreClient} on redis-semaphore: `tryAcquire`, and `release` of the instance that took the slot. */
export function redisClient(redis: Redis): SemaphoreClient {
  const held = new Map<string, Semaphore>();
  return {
    create: () => Promise.resolve(), // a redis-semaphore exists once used
    async tryTake(id, n, holder) {
      // One attempt, as the contract says: redis-semaphore's tryAcquire otherwise retries every retryInterval until acquireTimeout.
      const s = new Semaphore(redis, id, n, { lockTimeout: 10_000, acquireTimeout: 60_000, acquireAttemptsLimit: 1, retryInterval: 10, refreshInterval: 0 });
      if (!(await s.tryAcquire())) return false;
      held.set(`${id}\n${holder}`, s);
      return true;
    },
    async give(id, holder) {
      const s = held.get(`${id}\n${holder}`);
      held.delete(`${id}\n${holder}`);
      await s?.release();
    },
  };
}

/** Runs W1–W4 through redis-semaphore; prints and returns the figures, or undefined without redis-server. */
export async function redisWorkloads(print: (line: string) => void, seconds: number): Promise<Figures | undefined> {
  const server = await startRedis();
  if (server === undefined) {
    print('redis: redis-server is not on PATH (Debian package redis-server); skipping the comparison');
    return undefined;
  }
  const redis = new Redis({ port: server.port, host: '127.0.0.1' });
  const client = redisClient(redis);
  try {
    const f1 = await w1(client, 'w1');
    print(w1Line('redis-semaphore', f1));
    const f2 = await w2(client, 'w2', seconds);
    print(loadLine('W2', 'redis-semaphore', f2));
    const f3 = await w3(client, Array.from({ length: 10_000 }, (_, i) => `w3-${i}`), seconds);
    print(loadLine('W3', 'redis-semaphore', f3));
    const f4 = await w4Loop(seconds, async () => {
      const s = new Semaphore(redis, 'w4', 2, { lockTimeout: 10_000, acquireTimeout: 60_000, retryInterval: 10, refreshInterval: 0 });
      await s.acquire();
      return () => s.release();
    });
    print(w4Line('redis-semaphore', f4));
    return { W1: f1.perSecond, W2: f2.perSecond, W3: f3.perSecond, W4: f4.perSecond };
  } finally {
    redis.disconnect();
    await server.stop();
  }
}
