import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ClusterluckError } from '../lib/env/errors.js';
import type { Connection } from '../lib/env/transport.js';
import type { From } from '../lib/kernel/actor.js';
import { FrameSigner, FrameType, nonceBinding, readBatch, readFrame, writeFrame, writeHello } from '../lib/kernel/frame.js';
import { Link } from '../lib/kernel/link.js';
import { GenServer, noReply } from '../lib/kernel/gen-server.js';
import { MessageKind, readMessage, writeMessage } from '../lib/kernel/message.js';
import { VirtualClock } from '../sim/clock/virtual-clock.js';
import { MemoryConnection } from '../lib/transports/memory-connection.js';
import type { NetKernel } from '../lib/kernel/net-kernel.js';
import { kernelWorld, until, type KernelWorld } from './support/kernels.js';

class Echo extends GenServer {
  calls = 0;
  casts: unknown[] = [];
  held: From[] = [];
  settleLater: (() => void)[] = [];
  constructor(kernel: NetKernel) {
    super(kernel);
    this.handle('echo', (data) => {
      this.calls++;
      return data;
    });
    this.handle('note', (data) => void this.casts.push(data));
    this.handle('hold', (_data, from) => {
      this.held.push(from);
      return noReply;
    });
    // Answers later, but its handler's promise settles only after `settleLater` runs: whoever
    // answers in between (another message's handler, as a queued grant does) answers first.
    this.handle('holdAsync', (_data, from) => {
      this.held.push(from);
      return new Promise((resolve) => this.settleLater.push(() => resolve(noReply)));
    });
    this.handle('fail', () => {
      throw new ClusterluckError('SEMAPHORE_FULL', 'no room');
    });
  }
}

let world: KernelWorld;
afterEach(async () => {
  await world.stopAll();
});

async function pair(options = {}): Promise<[NetKernel, NetKernel, Echo]> {
  world = kernelWorld();
  const [a, b] = (await world.mesh(['a', 'b'], options)) as [NetKernel, NetKernel];
  return [a, b, new Echo(b).start('echo')];
}

describe('NetKernel', () => {
  it('connectAddress gives up on a dial that never answers: TIMEOUT after timeoutMs, or the caller\'s abort', async () => {
    world = kernelWorld('dial-timeout');
    const base = world.network.transport();
    // A transport whose dials hang until aborted (a blackholed address).
    const hanging = { ...base, listen: base.listen.bind(base), dial: (_address: string, o: { signal: AbortSignal }) =>
      new Promise<Connection>((_, reject) => o.signal.addEventListener('abort', () => reject(o.signal.reason), { once: true })) };
    const a = world.kernel('a', { transport: hanging as typeof base });
    await a.start();
    const timedOut = a.connectAddress('nowhere', { timeoutMs: 250 }).then(() => undefined, (e: unknown) => e as ClusterluckError);
    await world.clock.advance(249);
    await world.clock.advance(2);
    expect((await timedOut)?.code).toBe('TIMEOUT');
    const controller = new AbortController();
    const aborted = a.connectAddress('nowhere', { signal: controller.signal }).catch((e: unknown) => e);
    controller.abort(new Error('caller gave up'));
    expect(String(await aborted)).toContain('caller gave up');
    const byDefault = a.connectAddress('nowhere').then(() => undefined, (e: unknown) => e as ClusterluckError);
    await world.clock.advance(10_001);
    expect((await byDefault)?.code).toBe('TIMEOUT');
  });

  it('a call across nodes resolves with the remote reply', async () => {
    const [a, , echo] = await pair();
    await expect(a.call({ node: 'b', name: 'echo' }, 'echo', { x: [1, 'two'] })).resolves.toEqual({ x: [1, 'two'] });
    expect(echo.calls).toBe(1);
  });

  it('a cast reaches the remote actor and expects nothing back', async () => {
    const [a, , echo] = await pair();
    a.cast({ node: 'b', name: 'echo' }, 'note', 42);
    await until(() => echo.casts.length === 1);
    expect(echo.casts).toEqual([42]);
  });

  it('a handler error comes back as a ClusterluckError with its code, without a stack', async () => {
    const [a] = await pair();
    const err = await a.call({ node: 'b', name: 'echo' }, 'fail', null).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClusterluckError);
    expect((err as ClusterluckError).code).toBe('SEMAPHORE_FULL');
    expect((err as ClusterluckError).stack).not.toContain('gen-server');
  });

  it('a call to an unknown actor gets a clear NO_SUCH_ACTOR error (not NOT_FOUND, which means no such semaphore)', async () => {
    const [a] = await pair();
    await expect(a.call({ node: 'b', name: 'nobody' }, 'echo', 1)).rejects.toMatchObject({
      code: 'NO_SUCH_ACTOR',
      message: 'no actor named "nobody" on node "b"',
    });
  });

  it('a call to a node that was never connected fails NOT_CONNECTED', async () => {
    const [a] = await pair();
    await expect(a.call({ node: 'zed', name: 'echo' }, 'echo', 1)).rejects.toMatchObject({ code: 'NOT_CONNECTED' });
  });

  it('calls between actors on one node never touch the network and never answer synchronously', async () => {
    const [, b, echo] = await pair();
    const sent = b.stats.framesSent;
    let settled = false;
    const p = b.call({ node: 'b', name: 'echo' }, 'echo', { deep: { v: 1 } }).then((v) => {
      settled = true;
      return v;
    });
    expect(settled).toBe(false);
    expect(echo.calls).toBe(0);
    await expect(p).resolves.toEqual({ deep: { v: 1 } });
    expect(b.stats.framesSent).toBe(sent);
  });

  it('a call times out with TIMEOUT when no reply comes', async () => {
    const [a] = await pair();
    const p = a.call({ node: 'b', name: 'echo' }, 'hold', 1, { timeoutMs: 500 });
    const outcome = p.catch((e: unknown) => e);
    await world.clock.advance(499);
    await world.clock.advance(2);
    expect(await outcome).toMatchObject({ code: 'TIMEOUT' });
  });

  it('a call answered before its handler\'s promise resolved to noReply is counted once, and the server still goes idle', async () => {
    const [a, , echo] = await pair();
    const answer = a.call({ node: 'b', name: 'echo' }, 'holdAsync', 1);
    await until(() => echo.held.length === 1);
    expect(echo.idle()).toBe(false);
    echo.reply(echo.held[0] as From, 'early');
    for (const settle of echo.settleLater.splice(0)) settle();
    await expect(answer).resolves.toBe('early');
    await until(() => echo.idle());
    expect(echo.answered.get('holdAsync')?.get('OK')).toBe(1);
  });

  it('a late reply after a timeout is counted and dropped', async () => {
    const [a, , echo] = await pair();
    const outcome = a.call({ node: 'b', name: 'echo' }, 'hold', 1, { timeoutMs: 100 }).catch((e: unknown) => e);
    await until(() => echo.held.length === 1);
    await world.clock.advance(101);
    expect(await outcome).toMatchObject({ code: 'TIMEOUT' });
    echo.reply(echo.held[0] as From, 'late');
    await until(() => a.stats.repliesUnmatched === 1);
  });

  it('an aborted call rejects with the signal reason, before or after sending', async () => {
    const [a] = await pair();
    const early = new AbortController();
    early.abort(new Error('early'));
    await expect(a.call({ node: 'b', name: 'echo' }, 'echo', 1, { signal: early.signal })).rejects.toThrow('early');
    const late = new AbortController();
    const p = a.call({ node: 'b', name: 'echo' }, 'hold', 1, { signal: late.signal });
    late.abort(new Error('late'));
    await expect(p).rejects.toThrow('late');
  });

  it('a call drops its listener on the caller\'s signal when it ends (replied, failed or timed out), so one signal can serve every call in flight', async () => {
    const [a] = await pair();
    const shared = new AbortController().signal;
    const listening = new Set<unknown>();
    vi.spyOn(shared, 'addEventListener').mockImplementation((_type, listener) => void listening.add(listener));
    vi.spyOn(shared, 'removeEventListener').mockImplementation((_type, listener) => void listening.delete(listener));
    const to = { node: 'b', name: 'echo' };
    const calls = [
      a.call(to, 'echo', 1, { signal: shared }),
      a.call(to, 'fail', 1, { signal: shared }).catch((e: unknown) => e),
      a.call(to, 'hold', 1, { signal: shared, timeoutMs: 100 }).catch((e: unknown) => e),
    ];
    expect(listening.size).toBe(3);
    await world.clock.advance(101);
    expect(await Promise.all(calls)).toMatchObject([1, { code: 'SEMAPHORE_FULL' }, { code: 'TIMEOUT' }]);
    expect(listening.size).toBe(0);
  });

  it('a message larger than frameBytesMax is refused on send with MESSAGE_TOO_LARGE', async () => {
    const [a] = await pair({ frameBytesMax: 4096 });
    await expect(a.call({ node: 'b', name: 'echo' }, 'echo', 'x'.repeat(5000))).rejects.toMatchObject({ code: 'MESSAGE_TOO_LARGE' });
    expect(() => a.cast({ node: 'b', name: 'echo' }, 'note', 'x'.repeat(5000))).toThrow(/exceeds frameBytesMax/);
  });

  it('bad arguments throw INVALID_ARGUMENT naming the field and value', async () => {
    const [a] = await pair();
    await expect(a.call({ node: 'b', name: '' }, 'echo', 1)).rejects.toThrow('dest.name must be');
    await expect(a.call({ node: 'b', name: 'echo' }, 'echo', 1, { timeoutMs: -5 })).rejects.toThrow('timeoutMs must be a positive number of ms, got -5');
    await expect(a.call({ node: 'b', name: 'echo' }, 'echo', 10n)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('pending calls fail with CONNECTION_CLOSED when their connection closes', async () => {
    const [a, b, echo] = await pair();
    const outcome = a.call({ node: 'b', name: 'echo' }, 'hold', 1).catch((e: unknown) => e);
    await until(() => echo.held.length === 1);
    await b.stop();
    expect(await outcome).toMatchObject({ code: 'CONNECTION_CLOSED' });
  });

  it('emits connect and disconnect, and re-dials a node that comes back', async () => {
    world = kernelWorld();
    const a = world.kernel('a');
    const events: string[] = [];
    a.addEventListener('connect', (e) => events.push(`+${e.detail.id}`));
    a.addEventListener('disconnect', (e) => events.push(`-${e.detail.id}`));
    await a.start();
    const b1 = world.kernel('b');
    await b1.start();
    a.connect(b1.self);
    await until(() => a.isConnected('b'));
    await b1.stop();
    await until(() => !a.isConnected('b'));
    const b2 = world.kernel('b');
    await b2.start();
    new Echo(b2).start('echo');
    for (let i = 0; i < 50 && !a.isConnected('b'); i++) await world.clock.advance(1000);
    expect(events).toEqual(['+b', '-b', '+b']);
    await expect(a.call({ node: 'b', name: 'echo' }, 'echo', 'again')).resolves.toBe('again');
  });

  it('connectAddress finds the node at an address, then keeps it connected; a wrong cookie is refused', async () => {
    world = kernelWorld();
    const a = world.kernel('a');
    const b = world.kernel('b');
    const m = world.kernel('m', { cookie: 'wrong' });
    new Echo(b).start('echo');
    await Promise.all([a.start(), b.start(), m.start()]);
    await expect(a.connectAddress('b')).resolves.toEqual({ id: 'b', address: 'b' });
    await expect(a.call({ node: 'b', name: 'echo' }, 'echo', 'found')).resolves.toBe('found');
    const refused = m.connectAddress('b').catch((e: unknown) => e);
    await world.clock.advance(5001);
    expect(await refused).toMatchObject({ code: 'CONNECTION_CLOSED', message: expect.stringContaining('cookie') as unknown });
  });

  it('queues messages while a node is down and delivers them once it is up', async () => {
    world = kernelWorld();
    const a = world.kernel('a');
    await a.start();
    a.connect({ id: 'b', address: 'b' });
    const reply = a.call({ node: 'b', name: 'echo' }, 'echo', 'queued');
    const b = world.kernel('b');
    new Echo(b).start('echo');
    await b.start();
    for (let i = 0; i < 50 && !a.isConnected('b'); i++) await world.clock.advance(1000);
    await expect(reply).resolves.toBe('queued');
  });

  it('the queue to a down node is bounded: the oldest message is dropped and its call fails QUEUE_FULL', async () => {
    world = kernelWorld();
    const a = world.kernel('a', { sendQueueLengthMax: 3 });
    await a.start();
    a.connect({ id: 'b', address: 'b' });
    const calls = [1, 2, 3, 4, 5].map((i) => a.call({ node: 'b', name: 'echo' }, 'echo', i).catch((e: unknown) => e));
    const first = await Promise.all(calls.slice(0, 2));
    expect(first.map((e) => (e as ClusterluckError).code)).toEqual(['QUEUE_FULL', 'QUEUE_FULL']);
    expect(a.stats.queueDropped).toBe(2);
    const b = world.kernel('b');
    new Echo(b).start('echo');
    await b.start();
    for (let i = 0; i < 50 && !a.isConnected('b'); i++) await world.clock.advance(1000);
    expect(await Promise.all(calls.slice(2))).toEqual([3, 4, 5]);
  });

  it('a node held down (markDown): its queued and awaiting calls fail UNREACHABLE at once, and so do new ones while only a re-dial could carry them', async () => {
    world = kernelWorld();
    const a = world.kernel('a');
    await a.start();
    a.connect({ id: 'b', address: 'b' });
    // Nobody listens at b: let the first dial fail, so a re-dial waits out its backoff.
    await world.clock.advance(1000);
    const queued = a.call({ node: 'b', name: 'echo' }, 'echo', 'queued').catch((e: unknown) => e);
    await settleTurns();
    a.markDown('b');
    expect(await queued).toMatchObject({ code: 'UNREACHABLE', message: expect.stringContaining('"b"') as unknown });
    const started = world.clock.now();
    expect(await a.call({ node: 'b', name: 'echo' }, 'echo', 'later').catch((e: unknown) => e)).toMatchObject({ code: 'UNREACHABLE' });
    expect(world.clock.now()).toBe(started);
    expect(a.isDown('b')).toBe(true);
  });

  it('a call awaiting its reply on an open connection fails UNREACHABLE when its node is marked down; an open connection still carries new calls', async () => {
    const [a, , echo] = await pair();
    const held = a.call({ node: 'b', name: 'echo' }, 'hold', 1).catch((e: unknown) => e);
    await until(() => echo.held.length === 1);
    a.markDown('b');
    expect(await held).toMatchObject({ code: 'UNREACHABLE' });
    await expect(a.call({ node: 'b', name: 'echo' }, 'echo', 'open')).resolves.toBe('open');
  });

  it('a sign of life (markUp) re-dials at once instead of after the backoff, and calls wait for a connection again', async () => {
    world = kernelWorld();
    const a = world.kernel('a');
    await a.start();
    a.connect({ id: 'b', address: 'b' });
    // Ten minutes of failed dials: the backoff is at its 30 s ceiling.
    for (let i = 0; i < 600; i++) await world.clock.advance(1000);
    a.markDown('b');
    const b = world.kernel('b');
    new Echo(b).start('echo');
    await b.start();
    await settleTurns();
    expect(a.isConnected('b')).toBe(false); // the re-dial still waits out its backoff
    a.markUp('b');
    await until(() => a.isConnected('b'));
    expect(a.isDown('b')).toBe(false);
    await expect(a.call({ node: 'b', name: 'echo' }, 'echo', 'back')).resolves.toBe('back');
  });

  it('what one turn sends to a node leaves as one batch frame (one MAC, one sequence number), delivered in order; a message alone leaves as a data frame; a batch past 1 KiB leaves at once', async () => {
    const [a, , echo] = await pair();
    const sent = vi.spyOn(MemoryConnection.prototype, 'send');
    const framesFrom = (self: string): Uint8Array[] =>
      sent.mock.calls.flatMap(([frame], i) => ((sent.mock.contexts[i] as MemoryConnection).localAddress === self ? [frame] : []));
    try {
      for (let i = 0; i < 10; i++) a.cast({ node: 'b', name: 'echo' }, 'note', i);
      await until(() => echo.casts.length === 10);
      expect(echo.casts).toEqual([...Array(10).keys()]);
      const ten = framesFrom('a').map((f) => readFrame(f));
      expect(ten.map((f) => f?.type)).toEqual([FrameType.batch]);
      expect(readBatch(ten[0]?.body as Uint8Array)?.map((m) => readMessage(m)?.kind)).toHaveLength(10);

      sent.mockClear();
      a.cast({ node: 'b', name: 'echo' }, 'note', 'alone');
      await until(() => echo.casts.length === 11);
      expect(framesFrom('a').map((f) => readFrame(f)?.type)).toEqual([FrameType.data]);

      sent.mockClear();
      const big = 'x'.repeat(300);
      for (let i = 0; i < 10; i++) a.cast({ node: 'b', name: 'echo' }, 'note', `${i}${big}`);
      await until(() => echo.casts.length === 21);
      expect(echo.casts.slice(11)).toEqual([...Array(10).keys()].map((i) => `${i}${big}`));
      const frames = framesFrom('a').map((f) => readFrame(f));
      // Each batch leaves once it holds 1 KiB: three of these 330-byte messages and more than a header.
      expect(frames.length).toBeGreaterThanOrEqual(3);
      expect(frames.flatMap((f) => (f?.type === FrameType.batch ? readBatch(f.body) ?? [] : [f?.body])).length).toBe(10);
      for (const f of frames) expect(f?.body.byteLength).toBeLessThan(1024 + 400);
    } finally {
      sent.mockRestore();
    }
  });

  it('a ready link whose connection is closing packs nothing more: send says false, as it did for a frame', () => {
    // A connection that records what is asked of it; the test plays the peer's hello and auth.
    const conn = Object.assign(new EventTarget(), {
      status: 'open' as 'open' | 'closing', outbound: true, remoteAddress: 'b', hooks: [] as (() => void)[], sent: [] as Uint8Array[],
      send(frame: Uint8Array): boolean { this.sent.push(frame); return true; },
      beforeFlush(fn: () => void): void { this.hooks.push(fn); },
    });
    const key = new Uint8Array(32).fill(3);
    const ours = new Uint8Array(16).fill(1);
    const theirs = new Uint8Array(16).fill(2);
    let ready = false;
    const link = new Link(conn as unknown as Connection, {
      self: { id: 'a', address: 'a' }, signer: new FrameSigner(key), nonce: ours, clock: new VirtualClock(),
      frameBytesMax: 1 << 20, handshakeTimeoutMs: 5000, idLengthMax: 256, checkCodecs: true,
    }, { ready: () => void (ready = true), message: () => undefined, closed: () => undefined, drop: () => undefined, drain: () => undefined });
    const arrive = (frame: Uint8Array): boolean => conn.dispatchEvent(new CustomEvent('message', { detail: frame }));
    arrive(writeFrame(undefined, FrameType.hello, 0, undefined, writeHello({ id: 'b', address: 'b', nonce: theirs })));
    arrive(writeFrame(new FrameSigner(key), FrameType.data, 1, nonceBinding(ours, theirs), writeMessage(MessageKind.auth, 0, '', new TextEncoder().encode('"b"'))));
    expect(ready).toBe(true);
    expect(link.send(MessageKind.cast, 0, 'x', new Uint8Array([1]))).toBe(true);
    expect(conn.hooks).toHaveLength(1);
    conn.status = 'closing';
    expect(link.send(MessageKind.cast, 0, 'x', new Uint8Array([2]))).toBe(false);
    expect(conn.hooks).toHaveLength(1);
    conn.status = 'open'; // only to see what the batch held
    (conn.hooks[0] as () => void)();
    const last = readFrame(conn.sent.at(-1) as Uint8Array);
    expect(last?.type).toBe(FrameType.data); // message 1 alone: message 2 never joined it
    expect(readMessage(last?.body as Uint8Array)?.payload).toEqual(new Uint8Array([1]));
  });

  it('property: concurrent calls from many nodes each get their own reply', async () => {
    world = kernelWorld('prop');
    const ks = await world.mesh(['n0', 'n1', 'n2']);
    for (const k of ks) new Echo(k).start('echo');
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.nat(2), fc.nat(2), fc.jsonValue()), { maxLength: 40 }), async (plan) => {
        const replies = await Promise.all(
          plan.map(([from, to, v]) => (ks[from] as NetKernel).call({ node: `n${to}`, name: 'echo' }, 'echo', v)),
        );
        expect(replies).toEqual(plan.map(([, , v]) => JSON.parse(JSON.stringify(v)) as unknown));
      }),
      { numRuns: 30 },
    );
  });
});

describe('NetKernel authentication', () => {
  it('a node with the wrong cookie never connects and never reaches an actor', async () => {
    world = kernelWorld();
    const b = world.kernel('b');
    const echo = new Echo(b).start('echo');
    await b.start();
    const mallory = world.kernel('m', { cookie: 'wrong' });
    await mallory.start();
    mallory.connect(b.self);
    const outcome = mallory.call({ node: 'b', name: 'echo' }, 'note', 'evil', { timeoutMs: 1000 }).catch((e: unknown) => e);
    await until(() => b.stats.dropped.badSignature > 0);
    await world.clock.advance(6000);
    expect(b.connectedNodes()).toEqual([]);
    expect(echo.casts).toEqual([]);
    expect(await outcome).toBeInstanceOf(ClusterluckError);
  });

  async function rawConnection(): Promise<{ conn: Connection; received: Uint8Array[] }> {
    const conn = await world.network.transport().dial('b', { signal: new AbortController().signal });
    const received: Uint8Array[] = [];
    conn.addEventListener('message', (e) => received.push(e.detail));
    return { conn, received };
  }

  it('garbage, oversized and unauthenticated frames are dropped and counted, and the node keeps serving', async () => {
    const [a, b, echo] = await pair({ frameBytesMax: 4096 });
    const { conn } = await rawConnection();
    conn.send(new TextEncoder().encode('{"type":"message","data":null}'));
    conn.send(new Uint8Array(5000));
    const fake = new Uint8Array(64);
    fake[0] = 1;
    fake[1] = 2;
    fake[5] = 1;
    conn.send(fake);
    await until(() => b.stats.dropped.malformed + b.stats.dropped.tooLarge + b.stats.dropped.unexpected >= 3);
    expect(b.stats.dropped.tooLarge).toBe(1);
    expect(echo.calls + echo.casts.length).toBe(0);
    await expect(a.call({ node: 'b', name: 'echo' }, 'echo', 'still here')).resolves.toBe('still here');
  });

  it('a captured signed frame replayed on a new connection is dropped as a bad signature', async () => {
    world = kernelWorld();
    const captured: Uint8Array[] = [];
    const base = world.network.transport();
    const tapping = {
      ...base,
      name: base.name,
      frameBytesMax: base.frameBytesMax,
      listen: base.listen.bind(base),
      async dial(address: string, options: { signal: AbortSignal }) {
        const conn = await base.dial(address, options);
        const send = conn.send.bind(conn);
        conn.send = (frame: Uint8Array) => {
          captured.push(frame.slice());
          return send(frame);
        };
        return conn;
      },
    };
    const a = world.kernel('a', { transport: tapping });
    const b = world.kernel('b');
    const echo = new Echo(b).start('echo');
    await Promise.all([a.start(), b.start()]);
    a.connect(b.self);
    a.cast({ node: 'b', name: 'echo' }, 'note', 'once');
    await until(() => echo.casts.length === 1);
    const { conn } = await rawConnection();
    for (const frame of captured) conn.send(frame);
    await until(() => Object.values(b.stats.dropped).reduce((x, y) => x + y, 0) >= captured.length - 1);
    expect(b.stats.dropped.badSignature).toBeGreaterThan(0);
    await world.clock.advance(10);
    expect(echo.casts).toEqual(['once']);
  });
  it('a connection that closed before the kernel saw it (a stalled accept, a reset dial) neither throws nor leaks', async () => {
    world = kernelWorld();
    const base = world.network.transport();
    const closedFirst = async (conn: Connection): Promise<Connection> => {
      conn.abort();
      await until(() => conn.status === 'closed');
      return conn;
    };
    const stalled = {
      name: base.name,
      frameBytesMax: base.frameBytesMax,
      async listen(address: string) {
        const inner = await base.listen(address);
        const outer = new EventTarget() as EventTarget & { address: string; close: () => Promise<void> };
        outer.address = inner.address;
        outer.close = () => inner.close();
        let first = true;
        inner.addEventListener('connection', (e) => {
          const conn = (e as CustomEvent<Connection>).detail;
          if (!first) return void outer.dispatchEvent(new CustomEvent('connection', { detail: conn }));
          first = false; // the first one is handed over only after it died
          void closedFirst(conn).then((c) => outer.dispatchEvent(new CustomEvent('connection', { detail: c })));
        });
        return outer;
      },
      async dial(address: string, options: { signal: AbortSignal }) {
        return closedFirst(await base.dial(address, options));
      },
    };
    const b = world.kernel('b', { transport: stalled as never });
    const echo = new Echo(b).start('echo');
    const a = world.kernel('a', { transport: stalled as never });
    const c = world.kernel('c');
    await Promise.all([a.start(), b.start(), c.start()]);
    await expect(a.connectAddress('b')).rejects.toMatchObject({ code: 'CONNECTION_CLOSED' });
    await world.clock.advance(10);
    c.connect(b.self); // b's first accepted connection arrives dead; c re-dials
    await until(() => c.connectedNodes().length === 1);
    await expect(c.call({ node: 'b', name: 'echo' }, 'echo', 'alive')).resolves.toBe('alive');
    expect(echo.calls).toBe(1);
  });
  it('a frame that arrives after its connection closed (read from a stalled process\'s buffer) is handled without a throw', async () => {
    world = kernelWorld();
    const base = world.network.transport();
    let stale = 0;
    const lateReader = {
      name: base.name,
      frameBytesMax: base.frameBytesMax,
      dial: base.dial.bind(base),
      async listen(address: string) {
        const inner = await base.listen(address);
        const outer = new EventTarget() as EventTarget & { address: string; close: () => Promise<void> };
        outer.address = inner.address;
        outer.close = () => inner.close();
        inner.addEventListener('connection', (e) => {
          const conn = (e as CustomEvent<Connection>).detail;
          if (stale++ > 0) return void outer.dispatchEvent(new CustomEvent('connection', { detail: conn }));
          // The first connection: its first frame is read only after the connection has died.
          const view = new EventTarget() as EventTarget & Connection;
          let closed = false;
          Object.defineProperties(view, {
            id: { get: () => conn.id }, localAddress: { get: () => conn.localAddress }, remoteAddress: { get: () => conn.remoteAddress },
            outbound: { get: () => conn.outbound }, bufferedBytes: { get: () => conn.bufferedBytes },
            status: { get: () => (closed ? 'closed' : conn.status) },
          });
          view.send = (frame) => {
            if (closed) throw new ClusterluckError('CONNECTION_CLOSED', 'closed');
            return conn.send(frame);
          };
          view.close = () => conn.close();
          view.abort = (err) => conn.abort(err);
          let first = true;
          conn.addEventListener('message', (m) => {
            if (first) {
              first = false;
              closed = true;
              conn.abort();
            }
            view.dispatchEvent(new CustomEvent('message', { detail: (m as CustomEvent<Uint8Array>).detail }));
          });
          conn.addEventListener('close', (c) => view.dispatchEvent(new CustomEvent('close', { detail: (c as CustomEvent).detail })));
          outer.dispatchEvent(new CustomEvent('connection', { detail: view }));
        });
        return outer;
      },
    };
    const b = world.kernel('b', { transport: lateReader as never });
    const echo = new Echo(b).start('echo');
    const a = world.kernel('a');
    await Promise.all([a.start(), b.start()]);
    a.connect(b.self);
    for (let t = 0; t < 30_000 && a.connectedNodes().length === 0; t += 100) await world.clock.advance(100); // a re-dials
    expect(a.connectedNodes().map((n) => n.id)).toEqual(['b']);
    await expect(a.call({ node: 'b', name: 'echo' }, 'echo', 'after')).resolves.toBe('after');
    expect(stale).toBeGreaterThan(1);
    expect(echo.calls).toBe(1);
  });
});

/** Lets pending microtasks and queued deliveries run without moving the virtual clock. */
async function settleTurns(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((r) => setTimeout(r, 0));
}
