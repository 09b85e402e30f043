// What anyone who can open a TCP connection can make a node hold before proving the cookie: a
// small frame bound, an admission budget per listener and per address, and a timeout for a peer
// that stalls mid-frame. Raw sockets at a bare transport, then 300 of them at a `clusterluck node`
// process whose memory is read from /proc. Only 127.0.0.1.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CloseDetail, Connection, Listener } from '../lib/env/transport.js';
import { preAuthFrameBytesMaxDefault, tcpTransport, type TcpTransportOptions } from '../lib/transports/tcp.js';
import { sleep } from './support/events.js';
import { freePort, startNode, stopAll, type Proc } from './support/node-processes.js';

const listeners: Listener[] = [];
const sockets: Socket[] = [];
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(listeners.map((l) => l.close()));
});

/** A listening transport that records each accepted connection and how it closed. */
async function serve(o: TcpTransportOptions = {}) {
  const transport = tcpTransport(o);
  const listener = await transport.listen('127.0.0.1:0');
  listeners.push(listener);
  const accepted: { conn: Connection; frames: number[]; closed?: CloseDetail }[] = [];
  listener.addEventListener('connection', (e) => {
    const entry: (typeof accepted)[number] = { conn: e.detail, frames: [] };
    accepted.push(entry);
    e.detail.addEventListener('message', (m) => entry.frames.push(m.detail.byteLength));
    e.detail.addEventListener('close', (c) => (entry.closed = c.detail));
  });
  const { port } = listener.address.match(/:(?<port>\d+)$/)?.groups as { port: string };
  return { transport, accepted, port: Number(port) };
}

/** A raw socket to `port`, connected; resolves `closed` when the node closes it. */
async function raw(port: number): Promise<{ socket: Socket; closed: Promise<void> }> {
  const socket = connect(port, '127.0.0.1');
  sockets.push(socket);
  socket.on('error', () => undefined);
  socket.on('data', () => undefined); // read what the node sends (its hello), so its close is seen
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('close', () => reject(new Error('closed before it connected')));
  });
  return { socket, closed };
}

const prefix = (length: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(length);
  return b;
};

async function until(check: () => boolean, what: string, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe('TCP before authentication', () => {
  it('a frame over preAuthFrameBytesMax from a peer that has not authenticated aborts the connection; after authenticated() it is fine', async () => {
    const server = await serve();
    const a = await raw(server.port);
    await until(() => server.accepted.length === 1, 'the connection');
    a.socket.write(prefix(preAuthFrameBytesMaxDefault + 1));
    await a.closed;
    await until(() => server.accepted[0]?.closed !== undefined, 'the close event');
    expect(server.accepted[0]?.closed?.error?.message).toMatch(/before authenticating, over preAuthFrameBytesMax 4096/);
    expect(server.transport.stats.tooLargeBeforeAuth).toBe(1);

    const b = await raw(server.port);
    await until(() => server.accepted.length === 2, 'the second connection');
    b.socket.write(Buffer.concat([prefix(preAuthFrameBytesMaxDefault), Buffer.alloc(preAuthFrameBytesMaxDefault)])); // at the bound: fine
    await until(() => server.accepted[1]?.frames.length === 1, 'the frame at the bound');
    server.accepted[1]?.conn.authenticated?.();
    b.socket.write(Buffer.concat([prefix(512 * 1024), Buffer.alloc(512 * 1024)]));
    await until(() => server.accepted[1]?.frames.length === 2, 'the large frame after authentication');
    expect(server.accepted[1]?.frames).toEqual([preAuthFrameBytesMaxDefault, 512 * 1024]);
    expect(server.accepted[1]?.closed).toBeUndefined();
  });

  it('admits at most unauthenticatedPerAddressMax unauthenticated connections from one address; an authenticated one frees its slot', async () => {
    const server = await serve({ unauthenticatedPerAddressMax: 2 });
    const [a, b] = [await raw(server.port), await raw(server.port)];
    await until(() => server.accepted.length === 2, 'two connections');
    const c = await raw(server.port);
    await c.closed; // closed at accept
    expect(server.accepted).toHaveLength(2);
    expect(server.transport.stats.refusedUnauthenticated).toBe(1);
    server.accepted[0]?.conn.authenticated?.();
    const d = await raw(server.port);
    await until(() => server.accepted.length === 3, 'a connection in the freed slot');
    b.socket.destroy(); // a closed one frees its slot too
    await until(() => server.accepted[1]?.closed !== undefined, 'b closed');
    await raw(server.port);
    await until(() => server.accepted.length === 4, 'a connection in the slot b left');
    expect(server.transport.stats.refusedUnauthenticated).toBe(1);
    void a;
    void d;
  });

  it('a peer that stops mid-frame is dropped after halfFrameTimeoutMs, authenticated or not', async () => {
    const server = await serve({ halfFrameTimeoutMs: 200 });
    const a = await raw(server.port);
    await until(() => server.accepted.length === 1, 'the connection');
    server.accepted[0]?.conn.authenticated?.();
    const started = Date.now();
    a.socket.write(Buffer.concat([prefix(1000), Buffer.alloc(10)]));
    await sleep(100);
    a.socket.write(Buffer.alloc(10)); // progress restarts the timer
    await a.closed;
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
    await until(() => server.accepted[0]?.closed !== undefined, 'the close event');
    expect(server.accepted[0]?.closed?.error?.message).toMatch(/sent 20 of a 1000-byte frame and then nothing for 200 ms/);
    expect(server.transport.stats.stalledMidFrame).toBe(1);
  });
});

describe('a clusterluck node under 300 connections that each send all but the last byte of a 1 MiB frame', () => {
  const procs: Proc[] = [];
  let dir = '';
  afterAll(async () => {
    await stopAll(procs);
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  });

  const rssKiB = async (pid: number): Promise<number> => Number(/VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1]);

  it('holds a few MiB more at most, closes them, and keeps answering', async () => {
    dir = await mkdtemp(join(tmpdir(), 'clusterluck-budget-'));
    const port = await freePort();
    const node = await startNode({ id: 'a', port, dataDir: join(dir, 'a'), cookie: 'budget-cookie', started: procs });
    const pid = node.child.pid as number;
    await sleep(500);
    const before = await rssKiB(pid);
    // Each sends all of its 1 MiB frame but the last byte, so a node that buffers it really holds it.
    const body = Buffer.alloc(1024 * 1024 - 1, 7);
    const opened = await Promise.allSettled(Array.from({ length: 300 }, async () => {
      const s = await raw(port);
      s.socket.write(prefix(1024 * 1024));
      s.socket.write(body);
      return s;
    }));
    await sleep(1000);
    const after = await rssKiB(pid);
    const growthKiB = after - before;
    console.log(`RSS of the node: ${before} KiB before, ${after} KiB with 300 connections sending 1 MiB frames (+${growthKiB} KiB, ${(growthKiB / 300).toFixed(1)} KiB per connection)`);
    // Node reads a socket in chunks of up to 64 KiB, so each connection can leave one such chunk as
    // garbage until the next collection (300 × 64 KiB ≈ 19 MiB, seen on a loaded machine); the
    // frames themselves (+180 MiB measured without this budget) are never held.
    expect(growthKiB).toBeLessThan(48 * 1024);
    // The node closed every one of them (refused at accept, or aborted at the length prefix).
    const closed = await Promise.race([
      Promise.all(opened.map((o) => (o.status === 'fulfilled' ? o.value.closed : Promise.resolve()))).then(() => true),
      sleep(5000).then(() => false),
    ]);
    expect(closed).toBe(true);
    // ...and still serves a client that holds the cookie.
    const { openSession } = await import('../lib/cli/cli.js');
    const session = await openSession(`127.0.0.1:${port}`, 'budget-cookie');
    try {
      expect(await session.run('ping')).toMatchObject({ pong: 'a' });
    } finally {
      await session.close();
    }
  }, 60_000);
});
