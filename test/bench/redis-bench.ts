// The same workloads through redis-semaphore against a local redis-server, for `--vs-redis`.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { Semaphore } from 'redis-semaphore';
import { w4Line, w4Loop } from './dsm-workloads.js';

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

/** Starts redis-server on 127.0.0.1 in a temporary directory; undefined when it is not installed. */
async function startRedis(): Promise<{ port: number; stop(): Promise<void> } | undefined> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'clusterluck-redis-'));
  const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
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
  return { port, async stop() {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await rm(dir, { recursive: true, force: true });
  } };
}

/** W4 alone through redis-semaphore (it polls every 10 ms); prints and returns the figures, or undefined without redis-server. */
export async function redisW4(print: (line: string) => void, seconds: number, waiters = 32, holdMs = 5): Promise<{ perSecond: number } | undefined> {
  const server = await startRedis();
  if (server === undefined) {
    print('redis: redis-server is not on PATH (Debian package redis-server); skipping the comparison');
    return undefined;
  }
  const redis = new Redis({ port: server.port, host: '127.0.0.1' });
  try {
    const f = await w4Loop(seconds, async () => {
      const s = new Semaphore(redis, 'w4', 2, { lockTimeout: 10_000, acquireTimeout: 60_000, retryInterval: 10, refreshInterval: 0 });
      await s.acquire();
      return () => s.release();
    }, waiters, holdMs);
    print(w4Line('redis-semaphore (redis-server in its own process)', f));
    return { perSecond: f.perSecond };
  } finally {
    redis.disconnect();
    await server.stop();
  }
}

/** Runs W1–W4 through redis-semaphore; prints and returns the figures, or undefined without redis-server. */
export async function redisWorkloads(print: (line: string) => void, seconds: number): Promise<Figures | undefined> {
  const server = await startRedis();
  if (server === undefined) {
    print('redis: redis-server is not on PATH (Debian package redis-server); skipping the comparison');
    return undefined;
  }
  const redis = new Redis({ port: server.port, host: '127.0.0.1' });
  const sem = (key: string, n: number, retryInterval = 10) => new Semaphore(redis, key, n, { lockTimeout: 10_000, acquireTimeout: 60_000, retryInterval, refreshInterval: 0 });
  const out = {} as Figures;
  try {
    let t = performance.now();
    for (let i = 0; i < 5000; i++) {
      const s = sem('w1', 1);
      await s.acquire();
      await s.release();
    }
    out.W1 = 5000 / ((performance.now() - t) / 1000);
    print(`redis W1: ${Math.round(out.W1).toLocaleString('en')}/s cycles`);

    let ok = 0;
    let end = performance.now() + seconds * 1000;
    await Promise.all(Array.from({ length: 64 }, async () => {
      while (performance.now() < end) {
        const s = sem('w2', 8);
        if (await s.tryAcquire()) {
          await s.release();
          ok++;
        }
      }
    }));
    out.W2 = ok / seconds;
    print(`redis W2: ${Math.round(out.W2).toLocaleString('en')}/s successful cycles`);

    ok = 0;
    end = performance.now() + seconds * 1000;
    await Promise.all(Array.from({ length: 32 }, async () => {
      while (performance.now() < end) {
        const s = sem(`w3-${Math.floor(Math.random() * 10_000)}`, 4);
        if (await s.tryAcquire()) await s.release();
        ok++;
      }
    }));
    out.W3 = ok / seconds;
    print(`redis W3: ${Math.round(out.W3).toLocaleString('en')}/s cycles`);

    const f4 = await w4Loop(seconds, async () => {
      const s = sem('w4', 2, 10);
      await s.acquire();
      return () => s.release();
    });
    out.W4 = f4.perSecond;
    print(w4Line('redis-semaphore', f4));
    return out;
  } finally {
    redis.disconnect();
    await server.stop();
  }
}
