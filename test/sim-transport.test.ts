import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isClusterluckError } from '../lib/env/errors.js';
import type { CloseDetail, Connection, Transport } from '../lib/env/transport.js';
import { formatSimNetworkEvent, type SimNetworkEvent } from '../sim/network/sim-net-event.js';
import { SimNetwork, type SimNetworkOptions } from '../sim/network/sim-network.js';
import { seededRandom } from '../sim/world/seeded-random.js';
import { VirtualClock } from '../sim/clock/virtual-clock.js';
import { simNetworkFactory } from './support/sim-transports.js';
import { transportCompliance } from './transport-compliance.js';

transportCompliance('sim network', simNetworkFactory('compliance'));

// ---- the rest runs on virtual time only: no real timers, so every run is the same ----

/** A connection end with what it received, recorded from the moment we hold it. */
interface End {
  readonly conn: Connection;
  readonly got: number[];
  readonly gotAt: number[];
  readonly closes: CloseDetail[];
}

interface Sim {
  readonly clock: VirtualClock;
  readonly net: SimNetwork;
  readonly events: SimNetworkEvent[];
  /** Listens on `name` with a transport named `name`; returns it. */
  host(name: string): Promise<Transport>;
  /** Dials `to` from `from`'s transport, advancing the clock `ms`; both ends. */
  connect(from: string, to: string, ms?: number): Promise<[End, End]>;
}

async function sim(seed: string, options: Partial<SimNetworkOptions> = {}): Promise<Sim> {
  const clock = new VirtualClock();
  const events: SimNetworkEvent[] = [];
  const net = new SimNetwork({ clock, random: seededRandom(seed), onEvent: (e) => events.push(e), ...options });
  const transports = new Map<string, Transport>();
  const accepted = new Map<string, End[]>();
  const s: Sim = {
    clock, net, events,
    async host(name) {
      const t = net.transport(name);
      transports.set(name, t);
      const list: End[] = [];
      accepted.set(name, list);
      (await t.listen(name)).addEventListener('connection', (e) => list.push(record(e.detail, clock)));
      return t;
    },
    async connect(from, to, ms = 200) {
      const list = accepted.get(to) ?? [];
      const before = list.length;
      const dialing = (transports.get(from) as Transport).dial(to, { signal: new AbortController().signal });
      await clock.advance(ms);
      const client = record(await dialing, clock);
      return [client, list[before] as End];
    },
  };
  return s;
}

function record(conn: Connection, clock: VirtualClock): End {
  const end: End = { conn, got: [], gotAt: [], closes: [] };
  conn.addEventListener('message', (e) => {
    end.got.push(tagOf(e.detail));
    end.gotAt.push(clock.now());
  });
  conn.addEventListener('close', (e) => end.closes.push(e.detail));
  return end;
}

function frame(tag: number): Uint8Array {
  return Uint8Array.of(tag & 0xff, tag >> 8, 0xab);
}

function tagOf(f: Uint8Array): number {
  return (f[0] ?? 0) | ((f[1] ?? 0) << 8);
}

const range = (n: number, from = 0): number[] => Array.from({ length: n }, (_, i) => from + i);

function closedWith(end: End, code: 'CONNECTION_CLOSED' | 'ABORTED'): boolean {
  return end.closes.length === 1 && isClusterluckError(end.closes[0]?.error, code);
}

describe('SimNetwork', () => {
  it('keeps each connection FIFO under random latency, in both directions, for any seed', async () => {
    const latency = fc.record({ min: fc.integer({ min: 0, max: 30 }), extra: fc.integer({ min: 1, max: 100 }) });
    let runs = 0;
    let varied = 0;
    await fc.assert(fc.asyncProperty(fc.string(), latency, fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 5, maxLength: 60 }),
      async (seed, { min, extra }, gaps) => {
        const s = await sim(seed, { defaultLink: { latencyMs: { min, max: min + extra } } });
        await s.host('a');
        await s.host('b');
        const [client, server] = await s.connect('a', 'b', 2 * (min + extra) + 1);
        for (const [i, gap] of gaps.entries()) {
          client.conn.send(frame(i));
          server.conn.send(frame(1000 + i));
          await s.clock.advance(gap);
        }
        await s.clock.runUntilIdle();
        expect(server.got).toEqual(range(gaps.length));
        expect(client.got).toEqual(range(gaps.length, 1000));
        // Did the latency vary in this run (some frame waited behind an earlier one or took longer)?
        // Not always: with a 0–1 ms range and frames sent at once, every frame may arrive together.
        const sentAt = gaps.reduce<number[]>((at, gap) => [...at, (at.at(-1) ?? 0) + gap], [0]);
        runs++;
        if (server.gotAt.some((t, i) => t - (sentAt[i] ?? 0) !== server.gotAt[0]! - sentAt[0]!)) varied++;
      }), { numRuns: 40 });
    // …but across runs it did: FIFO held under latency that really varied.
    expect(varied).toBeGreaterThan(runs / 2);
  });

  it('the same seed gives the same trace; different seeds give different ones', async () => {
    const a = await story('seed-a');
    expect(a.length).toBeGreaterThan(100);
    expect(await story('seed-a')).toEqual(a);
    expect(await story('seed-b')).not.toEqual(a);
  });

  it('a dial takes one round trip; the listener has the connection after one way', async () => {
    const s = await sim('rtt', { defaultLink: { latencyMs: 7 } });
    await s.host('b');
    const t = s.net.transport('a');
    let acceptedAt = -1;
    s.net.onEvent = (e) => { if (e.kind === 'accept') acceptedAt = e.atMs; };
    let connectedAt = -1;
    const dialing = t.dial('b', { signal: new AbortController().signal }).then((c) => { connectedAt = s.clock.now(); return c; });
    await s.clock.advance(13);
    expect([acceptedAt, connectedAt]).toEqual([7, -1]);
    await s.clock.advance(1);
    expect(connectedAt).toBe(14);
    (await dialing).abort();
  });

  it('a symmetric partition holds traffic both ways; heal delivers it and new dials work again', async () => {
    const s = await sim('partition', { defaultLink: { latencyMs: { min: 1, max: 20 } } });
    await s.host('a');
    await s.host('b');
    const [client, server] = await s.connect('a', 'b');
    s.net.partition(['a'], ['b']);
    client.conn.send(frame(1));
    server.conn.send(frame(2));
    await s.clock.advance(1000);
    expect([server.got, client.got]).toEqual([[], []]);
    const dial = await dialOutcome(s, 'a', 'b', 3000);
    expect(isClusterluckError(dial, 'TIMEOUT')).toBe(true);
    s.net.heal();
    await s.clock.advance(100);
    expect([server.got, client.got]).toEqual([[1], [2]]);
    expect([client.conn.status, server.conn.status]).toEqual(['open', 'open']);
    const again = await dialOutcome(s, 'a', 'b', 100);
    expect(again).toMatchObject({ status: 'open', remoteAddress: 'b' });
  });

  it('a partition held for stallBreakMs breaks the connections with traffic held, both sides CONNECTION_CLOSED; idle ones stay open', async () => {
    const s = await sim('stall', { stallBreakMs: 2000 });
    await s.host('a');
    await s.host('b');
    const [busyClient, busyServer] = await s.connect('a', 'b');
    const [idleClient, idleServer] = await s.connect('a', 'b');
    s.net.partition('a', 'b');
    const at = s.clock.now();
    busyClient.conn.send(frame(1));
    await s.clock.advance(1500);
    expect(busyClient.conn.status).toBe('open');
    await s.clock.advance(1000);
    expect(closedWith(busyClient, 'CONNECTION_CLOSED') && closedWith(busyServer, 'CONNECTION_CLOSED')).toBe(true);
    const broke = s.events.find((e) => e.kind === 'break');
    expect((broke?.atMs ?? 0) - at).toBeGreaterThanOrEqual(2000);
    expect((broke?.atMs ?? Infinity) - at).toBeLessThanOrEqual(2000 + 10);
    expect([idleClient.conn.status, idleServer.conn.status]).toEqual(['open', 'open']);
    expect(busyServer.got).toEqual([]);
  });

  it('a one-way partition holds one direction only', async () => {
    const s = await sim('one-way');
    await s.host('a');
    await s.host('b');
    const [client, server] = await s.connect('a', 'b');
    s.net.partitionOneWay('a', 'b');
    client.conn.send(frame(1));
    server.conn.send(frame(2));
    await s.clock.advance(1000);
    expect([server.got, client.got]).toEqual([[], [2]]);
    // A dial needs both directions, so it fails either way across a one-way partition.
    expect(isClusterluckError(await dialOutcome(s, 'b', 'a', 3000), 'TIMEOUT')).toBe(true);
    s.net.heal();
    await s.clock.advance(100);
    expect(server.got).toEqual([1]);
  });

  it('isolate cuts one address off from everyone while the others still talk', async () => {
    const s = await sim('isolate');
    for (const n of ['a', 'b', 'c']) await s.host(n);
    const [ab] = await s.connect('a', 'b');
    const [bc, cb] = await s.connect('b', 'c');
    s.net.isolate('a');
    ab.conn.send(frame(1));
    bc.conn.send(frame(2));
    await s.clock.advance(500);
    expect(cb.got).toEqual([2]);
    expect(s.events.filter((e) => e.kind === 'deliver' && e.from === 'a')).toEqual([]);
  });

  it('a dial across a partition rejects TIMEOUT exactly at connectTimeoutMs; aborting it rejects at once and leaves no timer', async () => {
    const s = await sim('dial-timeout', { connectTimeoutMs: 2500 });
    await s.host('b');
    s.net.partition('a', 'b');
    const t = s.net.transport('a');
    let outcome: unknown;
    t.dial('b', { signal: new AbortController().signal }).then((c) => (outcome = c), (e: unknown) => (outcome = e));
    await s.clock.advance(2499);
    expect(outcome).toBeUndefined();
    await s.clock.advance(1);
    expect(isClusterluckError(outcome, 'TIMEOUT')).toBe(true);
    expect(s.clock.pending()).toBe(0);
    const controller = new AbortController();
    const reason = new Error('enough');
    const aborted = t.dial('b', { signal: controller.signal });
    await s.clock.advance(1200);
    controller.abort(reason);
    await expect(aborted).rejects.toBe(reason);
    expect([s.clock.pending(), s.net.connectionCount()]).toEqual([0, 0]);
  });

  it('a dial whose SYNs are lost connects at the next retransmission once the partition heals', async () => {
    const s = await sim('syn-retry', { defaultLink: { latencyMs: 5 }, connectTimeoutMs: 10_000 });
    await s.host('b');
    s.net.partition('a', 'b');
    let connectedAt = -1;
    void s.net.transport('a').dial('b', { signal: new AbortController().signal }).then((c) => { connectedAt = s.clock.now(); c.abort(); });
    await s.clock.advance(1500);
    s.net.heal();
    await s.clock.advance(3000);
    // SYNs at 0, 1000 (lost) and 3000 (after the heal): connected one round trip later.
    expect(connectedAt).toBe(3010);
  });

  it('clog delays everything to and from an address by the given amount, and holds frames in flight', async () => {
    const s = await sim('clog', { defaultLink: { latencyMs: 5 } });
    await s.host('a');
    await s.host('b');
    const [client, server] = await s.connect('a', 'b');
    client.conn.send(frame(0));
    await s.clock.advance(2);
    const t0 = s.clock.now();
    s.net.clog('b', 100);
    client.conn.send(frame(1));
    server.conn.send(frame(2));
    await s.clock.advance(300);
    expect(server.gotAt).toEqual([t0 + 100, t0 + 105]);
    expect(client.gotAt).toEqual([t0 + 105]);
    client.conn.send(frame(3));
    await s.clock.advance(10);
    expect(server.gotAt.at(-1)).toBe(t0 + 305);
  });

  it('loss on a reliable link resets the connection: a prefix arrives, then both sides close CONNECTION_CLOSED', async () => {
    const s = await sim('loss-reset', { defaultLink: { loss: 0.1 } });
    await s.host('a');
    await s.host('b');
    const [client, server] = await s.connect('a', 'b');
    s.net.setLink('a', 'b', { loss: 0.2 });
    const sent: number[] = [];
    for (let i = 0; i < 200 && client.conn.status === 'open'; i++) {
      client.conn.send(frame(i));
      sent.push(i);
      await s.clock.advance(3);
    }
    await s.clock.runUntilIdle();
    expect(s.net.counts.reset).toBe(1);
    expect(server.got.length).toBeLessThan(sent.length);
    expect(server.got).toEqual(sent.slice(0, server.got.length));
    expect(closedWith(client, 'CONNECTION_CLOSED') && closedWith(server, 'CONNECTION_CLOSED')).toBe(true);
  });

  it('unreliable loss drops single frames silently and the connection stays open', async () => {
    const s = await sim('loss-drop');
    await s.host('a');
    await s.host('b');
    const [client, server] = await s.connect('a', 'b');
    s.net.setLink('a', 'b', { loss: 0.3, unreliable: true });
    for (const i of range(100)) client.conn.send(frame(i));
    await s.clock.runUntilIdle();
    expect(server.got.length).toBeGreaterThan(40);
    expect(server.got.length).toBeLessThan(95);
    expect(server.got).toEqual([...server.got].sort((x, y) => x - y));
    expect(s.net.counts.drop).toBe(100 - server.got.length);
    expect([client.conn.status, client.conn.bufferedBytes]).toEqual(['open', 0]);
  });

  it('unreliable duplication delivers some frames twice, each copy after its original', async () => {
    const s = await sim('dup');
    await s.host('a');
    await s.host('b');
    const [client, server] = await s.connect('a', 'b');
    s.net.setLink('a', 'b', { duplicate: 0.3, unreliable: true });
    for (const i of range(100)) client.conn.send(frame(i));
    await s.clock.runUntilIdle();
    const twice = range(100).filter((i) => server.got.filter((g) => g === i).length === 2);
    expect(new Set(server.got)).toEqual(new Set(range(100)));
    expect(twice.length).toBe(s.net.counts.duplicate);
    expect(twice.length).toBeGreaterThan(10);
    for (const i of twice) expect(server.got.indexOf(i)).toBeLessThan(server.got.lastIndexOf(i));
    expect(client.conn.bufferedBytes).toBe(0);
  });

  it('unreliable reordering lets frames overtake; nothing is lost', async () => {
    const s = await sim('reorder');
    await s.host('a');
    await s.host('b');
    const [client, server] = await s.connect('a', 'b');
    s.net.setLink('a', 'b', { reorder: 0.3, unreliable: true });
    for (const i of range(100)) {
      client.conn.send(frame(i));
      await s.clock.advance(1);
    }
    await s.clock.runUntilIdle();
    expect([...server.got].sort((x, y) => x - y)).toEqual(range(100));
    expect(server.got).not.toEqual(range(100));
  });

  it('duplication or reordering without unreliable: true is refused INVALID_ARGUMENT', async () => {
    const s = await sim('refuse');
    expect(() => s.net.setLink('a', 'b', { duplicate: 0.1 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => s.net.setDefaultLink({ reorder: 0.1 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => s.net.setLink('a', 'b', { latencyMs: { min: 5, max: 2 } })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(s.net.link('a', 'b')).toEqual(s.net.link('x', 'y'));
  });

  it('abort reaches the peer after one latency as CONNECTION_CLOSED; the aborting side closes with its error', async () => {
    const s = await sim('abort', { defaultLink: { latencyMs: 9 } });
    await s.host('a');
    await s.host('b');
    const [client, server] = await s.connect('a', 'b');
    const reason = new Error('bye');
    client.conn.abort(reason);
    await s.clock.advance(8);
    expect([client.closes.map((c) => c.error), server.conn.status]).toEqual([[reason], 'open']);
    await s.clock.advance(1);
    expect(closedWith(server, 'CONNECTION_CLOSED')).toBe(true);
    expect([s.net.connectionCount(), s.clock.pending()]).toEqual([0, 0]);
  });

  it('a listener that aborts at once fails the dial with CONNECTION_CLOSED and leaves nothing behind', async () => {
    const s = await sim('reject-in-handshake');
    const listener = await s.net.transport('b').listen('b');
    listener.addEventListener('connection', (e) => e.detail.abort());
    const outcome = await dialOutcome(s, 'a', 'b', 100);
    expect(isClusterluckError(outcome, 'CONNECTION_CLOSED')).toBe(true);
    expect([s.net.connectionCount(), s.clock.pending()]).toEqual([0, 0]);
  });

  it('frames held by a partition count against the high-water mark; drain follows the heal', async () => {
    const s = await sim('backpressure', { highWaterMarkBytes: 30 });
    await s.host('a');
    await s.host('b');
    const [client, server] = await s.connect('a', 'b');
    let drains = 0;
    client.conn.addEventListener('drain', () => drains++);
    s.net.partition('a', 'b');
    const accepted = range(10).map((i) => client.conn.send(frame(i)));
    expect(accepted).toEqual([...range(9).map(() => true), false]);
    await s.clock.advance(1000);
    expect([drains, client.conn.bufferedBytes, server.got.length]).toEqual([0, 30, 0]);
    s.net.heal();
    await s.clock.advance(100);
    expect([drains, client.conn.bufferedBytes, server.got]).toEqual([1, 0, range(10)]);
  });

  it('disconnectAddress breaks every connection of an address at once, both sides CONNECTION_CLOSED', async () => {
    const s = await sim('sever');
    for (const n of ['a', 'b', 'c']) await s.host(n);
    const [ab, ba] = await s.connect('a', 'b');
    const [cb, bc] = await s.connect('c', 'b');
    const [ca] = await s.connect('c', 'a');
    expect(s.net.disconnectAddress('b')).toBe(2);
    await s.clock.advance(1);
    expect([ab, ba, cb, bc].every((end) => closedWith(end, 'CONNECTION_CLOSED'))).toBe(true);
    expect(ca.conn.status).toBe('open');
  });
});

/** Dials `to` from a fresh transport of `from`, advancing `ms`; the connection (aborted) or the error. */
async function dialOutcome(s: Sim, from: string, to: string, ms: number): Promise<unknown> {
  let outcome: unknown;
  s.net.transport(from).dial(to, { signal: new AbortController().signal }).then((c) => (outcome = c), (e: unknown) => (outcome = e));
  await s.clock.advance(ms);
  const status = (outcome as Connection | undefined)?.status;
  if (status !== undefined) (outcome as Connection).abort();
  return status === undefined ? outcome : { status, remoteAddress: (outcome as Connection).remoteAddress };
}

/** A little run with three nodes, echo, a partition, a clog and closes: its trace, one line per event. */
async function story(seed: string): Promise<string[]> {
  const lines: string[] = [];
  const s = await sim(seed, { defaultLink: { latencyMs: { min: 1, max: 40 } }, onEvent: (e) => lines.push(formatSimNetworkEvent(e)) });
  const nodes = ['a', 'b', 'c'];
  for (const n of nodes) await s.host(n);
  const links = [await s.connect('a', 'b'), await s.connect('b', 'c'), await s.connect('c', 'a')];
  for (const [, server] of links) server.conn.addEventListener('message', (e) => server.conn.send(e.detail));
  for (let round = 0; round < 20; round++) {
    for (const [i, [client]] of links.entries()) client.conn.send(frame(round * 10 + i));
    await s.clock.advance(7);
    if (round === 8) s.net.partition(['a'], ['b', 'c']);
    if (round === 12) s.net.heal();
    if (round === 14) s.net.clog('c', 50);
  }
  await s.clock.advance(1000);
  await Promise.all(links.map(([client]) => client.conn.close()).concat(s.clock.runUntilIdle().then(() => undefined)));
  return lines;
}
