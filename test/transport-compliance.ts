// The one transport compliance suite: every Transport (memory, sim, tcp, webrtc) runs it from a
// spec file of a few lines. It assumes nothing about timing beyond awaiting events with a
// timeout, and dials `listener.address`, so transports that bind on listen (TCP port 0) work.
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isClusterluckError, type ErrorCode } from '../lib/env/errors.js';
import type { Address, CloseDetail, Connection, Listener, Transport } from '../lib/env/transport.js';
import { recordEvents, sleep, type EventRecorder } from './support/events.js';

/** Two endpoints of the transport under test, fresh for each test. */
export interface TransportPair {
  readonly transports: readonly [Transport, Transport];
  /** What endpoint `t` passes to `listen`: a fixed address, or one the listener binds (`127.0.0.1:0`). */
  addressFor(t: 0 | 1): Address;
}

/** How the suite makes and disposes of endpoints. */
export interface TransportFactory {
  /** Called before each test. */
  setup(): Promise<TransportPair>;
  /** Called after each test, once the suite has aborted its connections and closed its listeners. */
  teardown(): Promise<void>;
  /** Listening twice on one (bound) address rejects ADDRESS_IN_USE. @default true */
  readonly exclusiveAddresses?: boolean;
  /** Longest wait for one expected event. @default 5000 */
  readonly eventTimeoutMs?: number;
}

/** One side of a connection, with everything it received recorded from the start. */
interface End {
  readonly conn: Connection;
  readonly rec: EventRecorder;
  frames(): Uint8Array[];
  closes(): CloseDetail[];
}

interface Server {
  readonly listener: Listener;
  readonly accepted: End[];
  readonly rec: EventRecorder;
}

/** Registers the compliance suite for one transport. */
export function transportCompliance(name: string, factory: TransportFactory): void {
  const timeoutMs = factory.eventTimeoutMs ?? 5000;
  let pair: TransportPair;
  let ends: End[] = [];
  let listeners: Listener[] = [];

  const record = (conn: Connection): End => {
    // These tests speak frames as an authenticated link does: tell the connection so, as the
    // kernel does once the peer proved the cookie (TCP keeps a tighter budget until then).
    conn.authenticated?.();
    const rec = recordEvents(conn, ['message', 'close', 'drain'], timeoutMs);
    const end: End = {
      conn,
      rec,
      frames: () => rec.of<CustomEvent<Uint8Array>>('message').map((e) => e.detail),
      closes: () => rec.of<CustomEvent<CloseDetail>>('close').map((e) => e.detail),
    };
    ends.push(end);
    return end;
  };
  /** Listens on endpoint 1; `onAccept` runs inside the `connection` handler, after recording starts. */
  const serve = async (onAccept?: (end: End) => void): Promise<Server> => {
    const listener = await pair.transports[1].listen(pair.addressFor(1));
    listeners.push(listener);
    const accepted: End[] = [];
    listener.addEventListener('connection', (e) => {
      const end = record(e.detail);
      accepted.push(end);
      onAccept?.(end);
    });
    return { listener, accepted, rec: recordEvents(listener, ['connection', 'close'], timeoutMs) };
  };
  const dial = (address: Address, signal = new AbortController().signal): Promise<Connection> =>
    pair.transports[0].dial(address, { signal });
  /** Dials `server` from endpoint 0 and returns both ends, recording from the moment each exists. */
  const connect = async (server: Server): Promise<[End, End]> => {
    const before = server.accepted.length;
    const client = record(await dial(server.listener.address));
    await server.rec.until(() => server.accepted.length > before, 'the connection event');
    return [client, server.accepted[before] as End];
  };
  const frameCount = (end: End, count: number): Promise<void> =>
    end.rec.until(() => end.frames().length >= count, `${count} frames on ${end.conn.id}`);
  const closed = (end: End): Promise<void> => end.rec.until(() => end.closes().length > 0, `close of ${end.conn.id}`);

  describe(name, () => {
    beforeEach(async () => {
      pair = await factory.setup();
    });
    afterEach(async () => {
      for (const end of ends) end.conn.abort();
      await Promise.all(listeners.map((l) => l.close()));
      ends = [];
      listeners = [];
      await factory.teardown();
    });

    it('dial and listen pair up', async () => {
      const server = await serve();
      const [client, accepted] = await connect(server);
      expect([client.conn.outbound, accepted.conn.outbound]).toEqual([true, false]);
      expect([client.conn.status, accepted.conn.status]).toEqual(['open', 'open']);
      expect(client.conn.remoteAddress).toBe(server.listener.address);
      expect(client.conn.id).not.toBe(accepted.conn.id);
      client.conn.send(bytes([1]));
      accepted.conn.send(bytes([2]));
      await Promise.all([frameCount(accepted, 1), frameCount(client, 1)]);
      expect([accepted.frames(), client.frames()]).toEqual([[bytes([1])], [bytes([2])]]);
    });

    it('frames arrive whole and in order in both directions', async () => {
      const server = await serve();
      const max = pair.transports[0].frameBytesMax;
      const size = fc.oneof(fc.integer({ min: 0, max: 64 }), fc.integer({ min: 0, max }), fc.constant(max));
      const sizes = fc.array(size, { maxLength: 10 });
      await fc.assert(fc.asyncProperty(sizes, sizes, async (up, down) => {
        const [client, accepted] = await connect(server);
        const sentUp = up.map((n, i) => pattern(n, i));
        const sentDown = down.map((n, i) => pattern(n, 1000 + i));
        await Promise.all([sendAll(client, sentUp), sendAll(accepted, sentDown)]);
        await Promise.all([frameCount(accepted, sentUp.length), frameCount(client, sentDown.length)]);
        expectFrames(accepted.frames(), sentUp);
        expectFrames(client.frames(), sentDown);
        await client.conn.close();
      }), { numRuns: 12 });
    });

    it('frames sent at once on both sides, as soon as each side has the connection, are never lost', async () => {
      const server = await serve((end) => end.conn.send(bytes([2])));
      const client = record(await dial(server.listener.address));
      client.conn.send(bytes([1]));
      await server.rec.until(() => server.accepted.length > 0, 'the connection event');
      const accepted = server.accepted[0] as End;
      await Promise.all([frameCount(accepted, 1), frameCount(client, 1)]);
      expect([accepted.frames(), client.frames()]).toEqual([[bytes([1])], [bytes([2])]]);
    });

    it('an empty frame arrives as an empty message', async () => {
      const [client, accepted] = await connect(await serve());
      client.conn.send(new Uint8Array(0));
      client.conn.send(bytes([7]));
      await frameCount(accepted, 2);
      expect(accepted.frames()).toEqual([new Uint8Array(0), bytes([7])]);
    });

    it('a frame larger than frameBytesMax throws MESSAGE_TOO_LARGE and sends nothing', async () => {
      const [client, accepted] = await connect(await serve());
      const max = pair.transports[0].frameBytesMax;
      expectCode(() => client.conn.send(new Uint8Array(max + 1)), 'MESSAGE_TOO_LARGE');
      client.conn.send(bytes([3]));
      await frameCount(accepted, 1);
      await sleep(20);
      expect(accepted.frames()).toEqual([bytes([3])]);
      expect(client.conn.status).toBe('open');
    });

    it('send does not deliver synchronously', async () => {
      const [client, accepted] = await connect(await serve());
      client.conn.send(bytes([1]));
      accepted.conn.send(bytes([2]));
      expect([accepted.frames().length, client.frames().length]).toEqual([0, 0]);
      await Promise.all([frameCount(accepted, 1), frameCount(client, 1)]);
    });

    it('send returns false past the high-water mark and drain follows', async () => {
      const [client, accepted] = await connect(await serve());
      const chunk = new Uint8Array(Math.min(pair.transports[0].frameBytesMax, 16 * 1024)).fill(5);
      let sent = 0;
      let accepting = true;
      while (accepting && sent * chunk.byteLength < 256 * 1024 * 1024) {
        accepting = client.conn.send(chunk);
        sent++;
      }
      expect(accepting, 'send never returned false').toBe(false);
      const high = client.conn.bufferedBytes;
      expect(high).toBeGreaterThan(0);
      await client.rec.until(() => client.rec.of('drain').length > 0, 'drain');
      expect(client.conn.bufferedBytes).toBeLessThan(high);
      await frameCount(accepted, sent);
      expect(accepted.frames().every((f) => f.byteLength === chunk.byteLength && f[0] === 5)).toBe(true);
    });

    it('close is graceful: frames sent before it arrive, then both sides close without error, once', async () => {
      const [client, accepted] = await connect(await serve());
      const sent = Array.from({ length: 20 }, (_, i) => pattern(100 * i, i));
      for (const frame of sent) client.conn.send(frame);
      await client.conn.close();
      expect(client.conn.status).toBe('closed');
      await closed(accepted);
      expectFrames(accepted.frames(), sent);
      expect(accepted.conn.status).toBe('closed');
      await client.conn.close();
      await sleep(50);
      expect([client.closes().map((c) => c.error), accepted.closes().map((c) => c.error)]).toEqual([[undefined], [undefined]]);
    });

    it('beforeFlush (where offered): fn runs once, before the flush, and what it sends follows what was sent before', async ({ skip }) => {
      const [client, accepted] = await connect(await serve());
      if (client.conn.beforeFlush === undefined) return skip();
      let runs = 0;
      client.conn.send(bytes([1]));
      client.conn.beforeFlush(() => {
        runs++;
        client.conn.send(bytes([3]));
      });
      client.conn.send(bytes([2]));
      expect(runs).toBe(0);
      await frameCount(accepted, 3);
      expect(runs).toBe(1);
      expectFrames(accepted.frames(), [bytes([1]), bytes([2]), bytes([3])]);
      // Asked with nothing else sent, it still runs: the connection flushes for it.
      client.conn.beforeFlush(() => client.conn.send(bytes([4])));
      await frameCount(accepted, 4);
      expect(runs).toBe(1);
      expectFrames(accepted.frames().slice(3), [bytes([4])]);
    });

    it('beforeFlush (where offered): a close begun in the same turn sends what fn sends before the close; an abort drops it', async ({ skip }) => {
      const server = await serve();
      const [client, accepted] = await connect(server);
      if (client.conn.beforeFlush === undefined) return skip();
      client.conn.beforeFlush(() => client.conn.send(bytes([7])));
      await client.conn.close();
      await closed(accepted);
      expectFrames(accepted.frames(), [bytes([7])]);
      expect(accepted.closes().map((c) => c.error)).toEqual([undefined]);
      const [other, otherAccepted] = await connect(server);
      let ran = false;
      other.conn.beforeFlush?.(() => {
        ran = true;
      });
      other.conn.abort();
      await closed(otherAccepted);
      await sleep(20);
      expect(ran).toBe(false);
    });

    it('closing both ends at once closes each exactly once without error', async () => {
      const [client, accepted] = await connect(await serve());
      client.conn.send(bytes([1]));
      accepted.conn.send(bytes([2]));
      await Promise.all([client.conn.close(), accepted.conn.close()]);
      await sleep(50);
      expect([client.closes().map((c) => c.error), accepted.closes().map((c) => c.error)]).toEqual([[undefined], [undefined]]);
    });

    it('abort drops buffered frames; the remote sees close with a CONNECTION_CLOSED error', async () => {
      const [client, accepted] = await connect(await serve());
      const sent: Uint8Array[] = [];
      for (let i = 0; sent.length < 4096; i++) {
        sent.push(pattern(8 * 1024, i));
        if (!client.conn.send(sent[sent.length - 1] as Uint8Array)) break;
      }
      const reason = new Error('enough');
      client.conn.abort(reason);
      expect([client.conn.status, client.conn.bufferedBytes]).toEqual(['closed', 0]);
      await Promise.all([closed(client), closed(accepted)]);
      expect(client.closes()[0]?.error).toBe(reason);
      expect(isClusterluckError(accepted.closes()[0]?.error, 'CONNECTION_CLOSED')).toBe(true);
      expect(accepted.frames().length).toBeLessThan(sent.length);
      expectFrames(accepted.frames(), sent.slice(0, accepted.frames().length));
      await sleep(50);
      expect([client.closes().length, accepted.closes().length]).toEqual([1, 1]);
    });

    it('abort without an error closes the local side with ABORTED', async () => {
      const [client, accepted] = await connect(await serve());
      accepted.conn.abort();
      await Promise.all([closed(client), closed(accepted)]);
      expect(isClusterluckError(accepted.closes()[0]?.error, 'ABORTED')).toBe(true);
      expect(isClusterluckError(client.closes()[0]?.error, 'CONNECTION_CLOSED')).toBe(true);
    });

    it('send after close or abort throws CONNECTION_CLOSED on either side', async () => {
      const server = await serve();
      const [client, accepted] = await connect(server);
      await client.conn.close();
      await closed(accepted);
      expectCode(() => client.conn.send(bytes([1])), 'CONNECTION_CLOSED');
      expectCode(() => accepted.conn.send(bytes([1])), 'CONNECTION_CLOSED');
      const [other] = await connect(server);
      other.conn.abort();
      expectCode(() => other.conn.send(bytes([1])), 'CONNECTION_CLOSED');
    });

    it('dial with no listener rejects CONNECTION_REFUSED', async () => {
      const server = await serve();
      await server.listener.close();
      await expectRejectCode(dial(server.listener.address), 'CONNECTION_REFUSED');
    });

    it('dial with an already-aborted signal rejects with signal.reason and connects nothing', async () => {
      const server = await serve();
      const controller = new AbortController();
      const reason = new Error('gave up');
      controller.abort(reason);
      await expect(dial(server.listener.address, controller.signal)).rejects.toBe(reason);
      await sleep(50);
      expect(server.accepted).toEqual([]);
    });

    it('a dial aborted in flight rejects with signal.reason and leaves nothing open', async () => {
      const server = await serve();
      const controller = new AbortController();
      const reason = new Error('gave up');
      const dialing = dial(server.listener.address, controller.signal);
      controller.abort(reason);
      await expect(dialing).rejects.toBe(reason);
      await sleep(50);
      await Promise.all(server.accepted.map(closed));
    });

    it.skipIf(factory.exclusiveAddresses === false)('listening twice on one address rejects ADDRESS_IN_USE', async () => {
      const server = await serve();
      for (const t of pair.transports) await expectRejectCode(t.listen(server.listener.address), 'ADDRESS_IN_USE');
    });

    it('listener close stops new dials but keeps existing connections', async () => {
      const server = await serve();
      const [client, accepted] = await connect(server);
      await server.listener.close();
      await server.rec.until(() => server.rec.of('close').length === 1, 'the listener close event');
      await expectRejectCode(dial(server.listener.address), 'CONNECTION_REFUSED');
      client.conn.send(bytes([1]));
      accepted.conn.send(bytes([2]));
      await Promise.all([frameCount(accepted, 1), frameCount(client, 1)]);
      expect([client.conn.status, accepted.conn.status]).toEqual(['open', 'open']);
    });

    it('many concurrent connections between the same two endpoints stay independent', async () => {
      const server = await serve((end) => end.conn.addEventListener('message', (e) => end.conn.send(e.detail)));
      const clients = (await Promise.all(Array.from({ length: 8 }, () => dial(server.listener.address)))).map(record);
      const sent = clients.map((_, c) => Array.from({ length: 10 }, (_, i) => tagged(c, i, 1 + ((c * 37 + i * 101) % 3000))));
      clients.forEach((client, c) => sent[c]?.forEach((frame) => client.conn.send(frame)));
      await Promise.all(clients.map((client) => frameCount(client, 10)));
      clients.forEach((client, c) => expectFrames(client.frames(), sent[c] ?? []));
      expect(server.accepted.map((a) => [a.frames().length, new Set(a.frames().map((f) => f[0])).size]))
        .toEqual(clients.map(() => [10, 1]));
      const [gone, ...rest] = clients as [End, ...End[]];
      gone.conn.abort();
      const goneServerSide = server.accepted.find((a) => a.frames()[0]?.[0] === 0) as End;
      await closed(goneServerSide);
      rest.forEach((client, c) => client.conn.send(tagged(c + 1, 99, 5)));
      await Promise.all(rest.map((client) => frameCount(client, 11)));
      rest.forEach((client, c) => expect(client.frames()[10]).toEqual(tagged(c + 1, 99, 5)));
    });

    it('the sender may reuse and mutate its buffer after send', async () => {
      const [client, accepted] = await connect(await serve());
      const buffer = bytes([1, 2, 3]);
      client.conn.send(buffer);
      buffer.fill(9);
      client.conn.send(buffer);
      buffer.fill(0);
      const big = bytes([10, 11, 12, 13, 14, 15]);
      client.conn.send(big.subarray(2, 5));
      big.fill(0);
      await frameCount(accepted, 3);
      expect(accepted.frames()).toEqual([bytes([1, 2, 3]), bytes([9, 9, 9]), bytes([12, 13, 14])]);
    });
  });
}

function bytes(values: number[]): Uint8Array {
  return Uint8Array.from(values);
}

/** `length` bytes that differ from any other frame's with a different `tag`. */
function pattern(length: number, tag: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (tag * 131 + i * 7 + (i >> 8)) & 0xff;
  return out;
}

/** A frame whose first two bytes say which connection and which frame it is. */
function tagged(connection: number, index: number, length: number): Uint8Array {
  const out = pattern(Math.max(2, length), connection * 100 + index);
  out[0] = connection;
  out[1] = index;
  return out;
}

/** Sends every frame, waiting for `drain` whenever `send` says so. */
async function sendAll(end: End, frames: readonly Uint8Array[]): Promise<void> {
  for (const frame of frames) {
    if (end.conn.send(frame)) continue;
    const drains = end.rec.of('drain').length;
    await end.rec.until(() => end.rec.of('drain').length > drains, `drain on ${end.conn.id}`);
  }
}

function expectFrames(got: readonly Uint8Array[], want: readonly Uint8Array[]): void {
  expect(got.map((f) => f.byteLength)).toEqual(want.map((f) => f.byteLength));
  const bad = got.findIndex((f, i) => !sameBytes(f, want[i] as Uint8Array));
  expect(bad, `frame ${bad} differs`).toBe(-1);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

function expectCode(fn: () => unknown, code: ErrorCode): void {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(isClusterluckError(thrown, code), `expected ${code}, got ${String(thrown)}`).toBe(true);
}

async function expectRejectCode(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  const outcome = await promise.then(
    (value: unknown) => ({ value }),
    (err: unknown) => ({ err }),
  );
  if ('value' in outcome && typeof (outcome.value as Connection | undefined)?.abort === 'function') {
    (outcome.value as Connection).abort();
  }
  expect('err' in outcome && isClusterluckError(outcome.err, code), `expected a rejection with ${code}`).toBe(true);
}
