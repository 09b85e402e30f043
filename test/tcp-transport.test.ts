// The TCP transport: the shared compliance suite (plain and over TLS), then what only TCP has:
// byte streams cut anywhere, hostile bytes at the port, batching, timeouts. Only 127.0.0.1.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { isClusterluckError } from '../lib/env/errors.js';
import type { CloseDetail, Connection, Listener, Transport } from '../lib/env/transport.js';
import { flushAtBytes, parseHostPort, tcpTransport, type TcpTlsOptions } from '../lib/transports/tcp.js';
import { nextEvent, sleep } from './support/events.js';
import { transportCompliance } from './transport-compliance.js';

const local = '127.0.0.1:0';

/** Self-signed certificates for CN=localhost (and an outsider's) in a temporary directory, or why there are none. */
function makeCertificates(): { tls: TcpTlsOptions; outsider: TcpTlsOptions; dir: string } | string {
  try {
    execFileSync('which', ['openssl'], { stdio: 'ignore' });
  } catch {
    return 'openssl is not on PATH';
  }
  const dir = mkdtempSync(join(tmpdir(), 'clusterluck-tls-'));
  const make = (name: string): { cert: string; key: string } => {
    const [cert, key] = [join(dir, `${name}.pem`), join(dir, `${name}-key.pem`)];
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1',
      '-keyout', key, '-out', cert], { stdio: 'ignore' });
    return { cert, key };
  };
  const [ours, theirs] = [make('cluster'), make('outsider')];
  return { dir, tls: { ...ours, ca: ours.cert, servername: 'localhost' }, outsider: { ...theirs, ca: ours.cert, servername: 'localhost' } };
}
const certificate = makeCertificates();
const tls = typeof certificate === 'string' ? undefined : certificate.tls;
if (typeof certificate === 'string') console.log(`skipping the TLS tests: ${certificate}`);
afterAll(() => {
  if (typeof certificate !== 'string') rmSync(certificate.dir, { recursive: true, force: true });
});

/** Once the suite has aborted and closed everything, no socket or server of this process stays open. */
async function nothingLeftOpen(): Promise<void> {
  const open = (): string[] => process.getActiveResourcesInfo().filter((r) => r.startsWith('TCP'));
  await until(() => open().length === 0, 'every socket and server to close', 2000).catch(() => undefined);
  expect(open()).toEqual([]);
}

// A listener bound on port 0 reports its real port, and a second listen there is refused.
transportCompliance('tcp transport', {
  setup: async () => ({ transports: [tcpTransport(), tcpTransport()], addressFor: () => local }),
  teardown: nothingLeftOpen,
  exclusiveAddresses: true,
});
if (tls !== undefined) {
  transportCompliance('tcp transport over TLS', {
    setup: async () => ({ transports: [tcpTransport({ tls }), tcpTransport({ tls })], addressFor: () => local }),
    teardown: nothingLeftOpen,
    exclusiveAddresses: true,
  });
}

/** A listener that records (and optionally echoes) every frame per connection. */
interface Served {
  readonly listener: Listener;
  readonly conns: Connection[];
  frames(i: number): number[][];
  closeOf(i: number): CloseDetail | undefined;
  stop(): Promise<void>;
}

async function serve(transport: Transport, echo = false): Promise<Served> {
  const listener = await transport.listen(local);
  const conns: Connection[] = [];
  const frames = new Map<Connection, number[][]>();
  const closes = new Map<Connection, CloseDetail>();
  listener.addEventListener('connection', ({ detail: c }) => {
    conns.push(c);
    frames.set(c, []);
    c.addEventListener('message', ({ detail }) => {
      frames.get(c)?.push([...detail]);
      if (echo && c.status === 'open') c.send(detail);
    });
    c.addEventListener('close', ({ detail }) => closes.set(c, detail));
  });
  return {
    listener, conns,
    frames: (i) => frames.get(conns[i] as Connection) ?? [],
    closeOf: (i) => closes.get(conns[i] as Connection),
    async stop() {
      for (const c of conns) c.abort();
      await listener.close();
    },
  };
}

async function rawClient(address: string): Promise<Socket> {
  const { host, port } = parseHostPort(address);
  const socket = connect({ host, port });
  socket.setNoDelay(true);
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.on('error', () => undefined);
  return socket;
}

async function until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  for (const end = Date.now() + timeoutMs; !condition(); await sleep(2)) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
  }
}

const prefix = (length: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(length);
  return b;
};
const framed = (bytes: ArrayLike<number>): Buffer => Buffer.concat([prefix(bytes.length), Buffer.from(Array.from(bytes))]);
const counting = (n: number, from = 0): number[] => Array.from({ length: n }, (_, i) => (from + i) & 0xff);

/** Dials `address`, sends `bytes`, and resolves with the echoed frame. */
async function echoOnce(address: string, bytes: number[], transport = tcpTransport()): Promise<number[]> {
  const conn = await transport.dial(address, { signal: AbortSignal.timeout(5000) });
  try {
    const echoed = new Promise<number[]>((resolve) => conn.addEventListener('message', (e) => resolve([...e.detail]), { once: true }));
    conn.send(Uint8Array.from(bytes));
    return await echoed;
  } finally {
    conn.abort();
  }
}

describe('tcp transport', () => {
  it('a frame split across many segments, and many frames in one segment, are reassembled', async () => {
    const served = await serve(tcpTransport());
    const [a, b] = [await rawClient(served.listener.address), await rawClient(served.listener.address)];
    try {
      const stream = Buffer.concat([framed(counting(300)), framed([]), framed([9])]);
      for (let at = 0; at < stream.length; at += 7) {
        a.write(stream.subarray(at, at + 1 + (at % 7)));
        a.write(stream.subarray(at + 1 + (at % 7), at + 7));
        await sleep(1);
      }
      const many = Array.from({ length: 200 }, (_, i) => counting(i % 17, i));
      b.write(Buffer.concat(many.map(framed)));
      await until(() => served.frames(0).length === 3 && served.frames(1).length === 200, 'all frames');
      expect(served.frames(0)).toEqual([counting(300), [], [9]]);
      expect(served.frames(1)).toEqual(many);
    } finally {
      a.destroy();
      b.destroy();
      await served.stop();
    }
  });

  it('partial frames from two peers never mix', async () => {
    const served = await serve(tcpTransport());
    const [a, b] = [await rawClient(served.listener.address), await rawClient(served.listener.address)];
    try {
      const [fa, fb] = [framed(counting(50, 1)), framed(counting(40, 101))];
      for (const [s, bytes] of [[a, fa.subarray(0, 2)], [b, fb.subarray(0, 3)], [a, fa.subarray(2, 30)], [b, fb.subarray(3, 9)],
        [a, fa.subarray(30)], [b, fb.subarray(9)]] as const) {
        s.write(bytes);
        await sleep(5);
      }
      await until(() => served.frames(0).length + served.frames(1).length === 2, 'both frames');
      expect(new Set([served.frames(0), served.frames(1)].map((f) => JSON.stringify(f))))
        .toEqual(new Set([JSON.stringify([counting(50, 1)]), JSON.stringify([counting(40, 101)])]));
    } finally {
      a.destroy();
      b.destroy();
      await served.stop();
    }
  });

  it('an oversized length prefix aborts only that connection; another keeps working', async () => {
    const served = await serve(tcpTransport({ frameBytesMax: 1024 }), true);
    const bad = await rawClient(served.listener.address);
    const badClosed = new Promise((resolve) => bad.once('close', resolve));
    try {
      await expect(echoOnce(served.listener.address, [1, 2])).resolves.toEqual([1, 2]);
      bad.write(Buffer.concat([framed([7]), prefix(1025), Buffer.alloc(100)]));
      await badClosed;
      const i = 0; // `bad` connected before any good client
      await until(() => served.closeOf(i) !== undefined, 'the bad connection closes');
      expect(served.frames(i)).toEqual([[7]]);
      expect(isClusterluckError(served.closeOf(i)?.error, 'BAD_MESSAGE')).toBe(true);
      await expect(echoOnce(served.listener.address, counting(1024))).resolves.toEqual(counting(1024));
    } finally {
      bad.destroy();
      await served.stop();
    }
  });

  it('property: random bytes, truncated and oversized frames never crash the listener; good clients get through', async () => {
    const served = await serve(tcpTransport({ frameBytesMax: 1024 }), true);
    const steady = await tcpTransport().dial(served.listener.address, { signal: AbortSignal.timeout(5000) });
    const echoed: number[][] = [];
    steady.addEventListener('message', (e) => echoed.push([...e.detail]));
    const junk = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc.tuple(fc.uint8Array({ maxLength: 100 }), fc.nat()).map(([b, cut]) => framed(b).subarray(0, cut % (b.length + 4))),
      fc.integer({ min: 1025, max: 0xffff_ffff }).map(prefix),
    );
    try {
      await fc.assert(fc.asyncProperty(fc.array(junk, { minLength: 1, maxLength: 4 }), fc.boolean(), async (pieces, reset) => {
        const socket = await rawClient(served.listener.address);
        for (const piece of pieces) socket.write(piece);
        if (reset) socket.resetAndDestroy();
        else socket.end();
        steady.send(Uint8Array.of(echoed.length & 0xff));
        await expect(echoOnce(served.listener.address, [5, 6, 7])).resolves.toEqual([5, 6, 7]);
        socket.destroy();
      }), { numRuns: 40 });
      await until(() => echoed.length === 40, 'every echo on the steady connection');
      expect(echoed).toEqual(Array.from({ length: 40 }, (_, i) => [i]));
      await until(() => served.conns.every((c) => c === served.conns[0] || c.status === 'closed'), 'junk connections to close');
    } finally {
      steady.abort();
      await served.stop();
    }
  });

  it('frames sent by one callback, or by the promises it settles, leave in one write per KiB before the next callback, on sockets without Nagle delay and with keepalive', async () => {
    const [write, noDelay, keepAlive] = (['write', 'setNoDelay', 'setKeepAlive'] as const).map((m) => vi.spyOn(Socket.prototype, m));
    const served = await serve(tcpTransport({ keepAliveMs: 7000 }));
    const conn = await tcpTransport({ keepAliveMs: 7000 }).dial(served.listener.address, { signal: AbortSignal.timeout(5000) });
    try {
      const ours = (): unknown[] | undefined => write?.mock.contexts.filter((s) => (s as Socket).localPort === Number(conn.localAddress.split(':')[1]));
      // 70 frames of 4 + 10 bytes (980, under flushAtBytes): one write once this callback is done.
      write?.mockClear();
      for (let i = 0; i < 70; i++) conn.send(Uint8Array.from(counting(10, i)));
      await until(() => served.frames(0).length === 70, 'the first 70 frames');
      expect(ours()).toHaveLength(1);
      // 200 more (2,800 bytes): a write as each KiB fills (after 74 frames, then 148), and the 52 left once this callback is done.
      expect(flushAtBytes).toBe(1024);
      write?.mockClear();
      for (let i = 0; i < 200; i++) conn.send(Uint8Array.from(counting(10, i)));
      await until(() => served.frames(0).length === 270, 'all frames');
      expect(ours()).toHaveLength(3);
      // What the promises a callback settled send after their awaits (a chunk's answers, and the
      // requests they lead to) leaves in one write, not one per microtask, and before the next
      // callback of the event loop runs (a timer's release does not wait for the poll phase's reads).
      write?.mockClear();
      let writesByNextCallback = -1;
      await new Promise<void>((resolve) => {
        setTimeout(() => {
          // Queued before the sends: it sees the write only if the flush does not wait for the end of the turn.
          setImmediate(() => {
            writesByNextCallback = ours()?.length ?? -1;
            resolve();
          });
          void Promise.resolve().then(async () => {
            conn.send(Uint8Array.from(counting(10, 1)));
            await null;
            conn.send(Uint8Array.from(counting(10, 2)));
            await Promise.resolve();
            conn.send(Uint8Array.from(counting(10, 3)));
          });
        }, 1);
      });
      await until(() => served.frames(0).length === 273, 'the callback\'s frames');
      expect(ours()).toHaveLength(1);
      expect(writesByNextCallback).toBe(1);
      expect([noDelay?.mock.calls, keepAlive?.mock.calls]).toEqual([[[true], [true]], [[true, 7000], [true, 7000]]]);
    } finally {
      vi.restoreAllMocks();
      conn.abort();
      await served.stop();
    }
  });

  it('flushNow hands what was queued to the socket at once, in one write, and the turn\'s later frames still leave together', async () => {
    const write = vi.spyOn(Socket.prototype, 'write');
    const served = await serve(tcpTransport());
    const conn = await tcpTransport().dial(served.listener.address, { signal: AbortSignal.timeout(5000) });
    try {
      const ours = (): unknown[] => write.mock.contexts.filter((s) => (s as Socket).localPort === Number(conn.localAddress.split(':')[1]));
      write.mockClear();
      conn.send(Uint8Array.from(counting(10, 1)));
      conn.send(Uint8Array.from(counting(10, 2)));
      expect(ours()).toHaveLength(0); // queued for the flush
      conn.flushNow?.();
      expect(ours()).toHaveLength(1); // both, before flushNow returned
      conn.flushNow?.(); // nothing queued: no empty write
      conn.send(Uint8Array.from(counting(10, 3)));
      conn.send(Uint8Array.from(counting(10, 4)));
      expect(ours()).toHaveLength(1);
      await until(() => served.frames(0).length === 4, 'the four frames');
      expect(ours()).toHaveLength(2);
      expect(served.frames(0)).toEqual([1, 2, 3, 4].map((i) => counting(10, i)));
    } finally {
      vi.restoreAllMocks();
      conn.abort();
      await served.stop();
    }
  });

  it('what beforeFlush sends leaves in the flush it ran before: one scheduled flush, one write, no second flush scheduled', async () => {
    const served = await serve(tcpTransport());
    const conn = await tcpTransport().dial(served.listener.address, { signal: AbortSignal.timeout(5000) });
    // The connection's one way to schedule a flush (a protected method, spied on this object alone).
    const later = vi.spyOn(conn as unknown as { later(fn: () => void): void }, 'later');
    const write = vi.spyOn(Socket.prototype, 'write');
    try {
      const ours = (): unknown[] => write.mock.contexts.filter((s) => (s as Socket).localPort === Number(conn.localAddress.split(':')[1]));
      conn.send(Uint8Array.from(counting(10, 1)));
      conn.beforeFlush?.(() => conn.send(Uint8Array.from(counting(10, 2))));
      await until(() => served.frames(0).length === 2, 'the two frames');
      expect(served.frames(0)).toEqual([1, 2].map((i) => counting(10, i)));
      expect(ours()).toHaveLength(1);
      expect(later).toHaveBeenCalledTimes(1);
    } finally {
      vi.restoreAllMocks();
      conn.abort();
      await served.stop();
    }
  });

  it('property: frames sent over many ticks arrive intact and in order, however they fill the send buffers they share', async () => {
    // A send buffer serves many ticks (each flush writes what was added since the last); a frame
    // that does not fit starts a new one, and one over 64 KiB gets its own.
    const served = await serve(tcpTransport({ preAuthFrameBytesMax: 1 << 20 }));
    const conn = await tcpTransport().dial(served.listener.address, { signal: AbortSignal.timeout(5000) });
    try {
      const sizes = fc.oneof(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 200, max: 20_000 }), fc.integer({ min: 60_000, max: 140_000 }));
      const sent: Buffer[] = [];
      await fc.assert(fc.asyncProperty(fc.array(fc.array(sizes, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 10 }), fc.nat(255), async (ticks, seed) => {
        for (const tick of ticks) {
          for (const size of tick) {
            const frame = Buffer.from(counting(size, seed + sent.length));
            sent.push(frame);
            conn.send(frame);
          }
          await sleep(0);
        }
        await until(() => served.frames(0).length === sent.length, `${sent.length} frames`);
        const wrong = served.frames(0).findIndex((f, i) => !Buffer.from(f).equals(sent[i] as Buffer));
        expect(wrong).toBe(-1);
      }), { numRuns: 20 });
    } finally {
      conn.abort();
      await served.stop();
    }
  });

  const hwmCases: [string, TcpTlsOptions | undefined][] = [['plain', undefined], ...(tls === undefined ? [] : [['TLS', tls] as [string, TcpTlsOptions]])];
  it.each(hwmCases)('a high-water mark under the socket buffer still gets its drain (%s)', async (_name, withTls) => {
    const options = { highWaterMarkBytes: 100, ...(withTls === undefined ? {} : { tls: withTls }) };
    const served = await serve(tcpTransport(options));
    const conn = await tcpTransport(options).dial(served.listener.address, { signal: AbortSignal.timeout(5000) });
    try {
      const drained = nextEvent(conn, 'drain', 2000);
      const accepted = [conn.send(new Uint8Array(50)), conn.send(new Uint8Array(50))];
      expect(accepted).toEqual([true, false]);
      await drained;
      expect(conn.bufferedBytes).toBeLessThan(100);
      await until(() => served.frames(0).length === 2, 'both frames');
    } finally {
      conn.abort();
      await served.stop();
    }
  });

  it('idleTimeoutMs aborts a silent connection with TIMEOUT; the peer sees CONNECTION_CLOSED', async () => {
    const served = await serve(tcpTransport({ idleTimeoutMs: 100 }));
    const conn = await tcpTransport().dial(served.listener.address, { signal: AbortSignal.timeout(5000) });
    const closed = new Promise<CloseDetail>((resolve) => conn.addEventListener('close', (e) => resolve(e.detail)));
    try {
      await until(() => served.closeOf(0) !== undefined, 'the idle connection to close', 2000);
      expect(isClusterluckError(served.closeOf(0)?.error, 'TIMEOUT')).toBe(true);
      expect(isClusterluckError((await closed).error, 'CONNECTION_CLOSED')).toBe(true);
    } finally {
      conn.abort();
      await served.stop();
    }
  });

  it('addresses are host:port or [ipv6]:port; anything else is INVALID_ARGUMENT', async () => {
    expect(parseHostPort('[::1]:7022')).toEqual({ host: '::1', port: 7022 });
    expect(parseHostPort('node-a.local:0')).toEqual({ host: 'node-a.local', port: 0 });
    for (const bad of ['', '127.0.0.1', '::1:80', '127.0.0.1:65536', 'a b:1', ':80', '127.0.0.1:-1']) {
      expect(() => parseHostPort(bad), bad).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
    await expect(tcpTransport().dial('127.0.0.1:0', { signal: AbortSignal.timeout(100) })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(() => tcpTransport({ frameBytesMax: 2 ** 32 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('an end of stream is graceful only after the goodbye prefix 0xFFFFFFFF; without it, CONNECTION_CLOSED', async () => {
    const served = await serve(tcpTransport());
    const [polite, rude] = [await rawClient(served.listener.address), await rawClient(served.listener.address)];
    const heard: Buffer[] = [];
    polite.on('data', (d: Buffer) => heard.push(d));
    try {
      polite.end(Buffer.concat([framed([1]), prefix(0xffff_ffff)]));
      await until(() => served.closeOf(0) !== undefined, 'the polite close');
      expect([served.frames(0), served.closeOf(0)]).toEqual([[[1]], {}]);
      expect([...Buffer.concat(heard)]).toEqual([0xff, 0xff, 0xff, 0xff]);
      rude.end(Buffer.concat([framed([2]), framed([3, 4]).subarray(0, 5)]));
      await until(() => served.closeOf(1) !== undefined, 'the rude close');
      expect(served.frames(1)).toEqual([[2]]);
      expect(isClusterluckError(served.closeOf(1)?.error, 'CONNECTION_CLOSED')).toBe(true);
    } finally {
      polite.destroy();
      rude.destroy();
      await served.stop();
    }
  });

  describe.skipIf(tls === undefined)('over TLS', () => {
    const withTls = tls as TcpTlsOptions;

    it('with a CA, the listener refuses a dialler whose certificate it does not trust (mutual TLS)', async () => {
      const served = await serve(tcpTransport({ tls: withTls }), true);
      const outsider = tcpTransport({ tls: (certificate as { outsider: TcpTlsOptions }).outsider });
      try {
        const outcome = await outsider.dial(served.listener.address, { signal: AbortSignal.timeout(5000) }).then(
          (conn) => Promise.race([sleep(2000).then(() => 'still open'), new Promise<unknown>((resolve) => {
            conn.addEventListener('close', (e) => resolve(e.detail.error));
            conn.send(Uint8Array.of(1));
          })]).finally(() => conn.abort()),
          (err: unknown) => err);
        expect(outcome).toBeInstanceOf(Error);
        await expect(echoOnce(served.listener.address, [4, 2], tcpTransport({ tls: withTls }))).resolves.toEqual([4, 2]);
        expect(served.conns).toHaveLength(1);
        expect(served.frames(0)).toEqual([[4, 2]]);
      } finally {
        await served.stop();
      }
    });

    it('a dialer that does not trust the certificate is refused, and the listener keeps serving', async () => {
      const served = await serve(tcpTransport({ tls: withTls }), true);
      try {
        const untrusting = tcpTransport({ tls: { cert: withTls.cert, key: withTls.key } });
        await expect(untrusting.dial(served.listener.address, { signal: AbortSignal.timeout(5000) }))
          .rejects.toMatchObject({ code: 'CONNECTION_REFUSED' });
        await expect(echoOnce(served.listener.address, [4, 2], tcpTransport({ tls: withTls }))).resolves.toEqual([4, 2]);
        expect(served.conns).toHaveLength(1);
      } finally {
        await served.stop();
      }
    });

    it('plain bytes or silence at a TLS port never become a connection', async () => {
      const served = await serve(tcpTransport({ tls: { ...withTls, handshakeTimeoutMs: 100 } }));
      const [plain, silent] = [await rawClient(served.listener.address), await rawClient(served.listener.address)];
      try {
        plain.write(framed([1, 2, 3]));
        await Promise.all([plain, silent].map((s) => new Promise((resolve) => s.once('close', resolve))));
        expect(served.conns).toEqual([]);
      } finally {
        plain.destroy();
        silent.destroy();
        await served.stop();
      }
    });
  });
});
