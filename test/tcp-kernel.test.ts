// The real kernel over the real TCP transport on 127.0.0.1, with the real clock and randomness:
// calls both ways, and a node with the wrong cookie gets nothing through.
import { Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../lib/env/logger.js';
import { GenServer, noReply } from '../lib/kernel/gen-server.js';
import type { From } from '../lib/kernel/actor.js';
import { NetKernel } from '../lib/kernel/net-kernel.js';
import { cryptoRandom } from '../lib/platform/crypto-random.js';
import { systemClock } from '../lib/platform/system-clock.js';
import { tcpTransport } from '../lib/transports/tcp.js';
import { sleep } from './support/events.js';

class Echo extends GenServer {
  readonly seen: unknown[] = [];
  constructor(kernel: NetKernel) {
    super(kernel);
    this.handle('echo', (data) => {
      this.seen.push(data);
      return { from: kernel.self.id, data };
    });
  }
}

/** Answers nothing until told: its calls wait in `parked`. */
class Parker extends GenServer {
  readonly parked: From[] = [];
  constructor(kernel: NetKernel) {
    super(kernel);
    this.handle('park', (_data, from) => {
      this.parked.push(from);
      return noReply;
    });
  }
}

const kernels: NetKernel[] = [];
afterEach(async () => {
  await Promise.all(kernels.splice(0).map((k) => k.stop()));
});

async function node(id: string, cookie = 'tcp-secret'): Promise<[NetKernel, Echo]> {
  const env = { clock: systemClock(), random: cryptoRandom(), transport: tcpTransport(), logger: silentLogger };
  const kernel = new NetKernel({ env, id, address: '127.0.0.1:0', cookie, handshakeTimeoutMs: 1000 });
  kernels.push(kernel);
  const echo = new Echo(kernel).start('echo');
  await kernel.start();
  return [kernel, echo];
}

async function until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  for (const end = Date.now() + timeoutMs; !condition(); await sleep(5)) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
  }
}

describe('NetKernel over TCP', () => {
  it('two kernels on 127.0.0.1 connect and call each other both ways', async () => {
    const [a, echoA] = await node('a');
    const [b, echoB] = await node('b');
    expect(a.self.address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(a.self.address).not.toBe('127.0.0.1:0');
    a.connect(b.self);
    await until(() => a.isConnected('b') && b.isConnected('a'), 'both sides connected');
    await expect(a.call({ node: 'b', name: 'echo' }, 'echo', { n: 1 }, { timeoutMs: 5000 })).resolves.toEqual({ from: 'b', data: { n: 1 } });
    await expect(b.call({ node: 'a', name: 'echo' }, 'echo', ['two'], { timeoutMs: 5000 })).resolves.toEqual({ from: 'a', data: ['two'] });
    expect([echoA.seen, echoB.seen]).toEqual([[['two']], [{ n: 1 }]]);
  });

  it('an answer given later with `now` reaches the socket before reply returns; one without waits for the connection\'s flush', async () => {
    const [a] = await node('a');
    const [b] = await node('b');
    const parker = new Parker(b).start('parker');
    const parked = parker.parked;
    a.connect(b.self);
    await until(() => a.isConnected('b') && b.isConnected('a'), 'both sides connected');
    const answers = [a.call({ node: 'b', name: 'parker' }, 'park', 1, { timeoutMs: 5000 }), a.call({ node: 'b', name: 'parker' }, 'park', 2, { timeoutMs: 5000 })];
    await until(() => parked.length === 2, 'both calls parked');
    const write = vi.spyOn(Socket.prototype, 'write');
    try {
      const [later, now] = parked as [From, From];
      parker.reply(later, 'later');
      expect(write).not.toHaveBeenCalled();
      parker.reply(now, 'now', true);
      expect(write).toHaveBeenCalledTimes(1); // both answers, in one write
    } finally {
      vi.restoreAllMocks();
    }
    await expect(Promise.all(answers)).resolves.toEqual(['later', 'now']);
  });

  it('a kernel with the wrong cookie never connects and never reaches an actor', async () => {
    const [b, echoB] = await node('b');
    const [mallory] = await node('m', 'wrong-cookie');
    await expect(mallory.connectAddress(b.self.address)).rejects.toMatchObject({ code: 'CONNECTION_CLOSED' });
    mallory.connect(b.self);
    const outcome = await mallory.call({ node: 'b', name: 'echo' }, 'echo', 'evil', { timeoutMs: 1500 }).catch((e: unknown) => e);
    expect(outcome).toMatchObject({ code: expect.stringMatching(/^(TIMEOUT|CONNECTION_CLOSED)$/) as unknown });
    expect(b.stats.dropped.badSignature).toBeGreaterThan(0);
    expect([b.connectedNodes(), mallory.connectedNodes(), echoB.seen]).toEqual([[], [], []]);
  });
});
