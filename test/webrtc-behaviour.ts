// The WebRTC transport's suites, run in Node and in Chromium: the shared compliance suite, then
// what only WebRTC has (dial timeouts, chunking of large frames, the receive bound, ICE servers).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isClusterluckError } from '../lib/env/errors.js';
import type { CloseDetail, Connection } from '../lib/env/transport.js';
import { systemClock } from '../lib/platform/system-clock.js';
import { webrtcTransport, type WebRtcImplementation, type WebRtcTransport, type WebRtcTransportOptions } from '../lib/transports/webrtc/transport.js';
import { MemorySignalHub } from '../lib/transports/webrtc/signal-memory.js';
import { nextEvent, recordEvents } from './support/events.js';
import { transportCompliance } from './transport-compliance.js';

/**
 * Registers both suites for transports on one MemorySignalHub. `wrtc` is the WebRTC
 * implementation; with `fromGlobal` the transports find it on globalThis, as in a page.
 */
export function webrtcSuites(name: string, addressPrefix: string, wrtc: WebRtcImplementation, fromGlobal = false): void {
  let hub = new MemorySignalHub();
  let made: WebRtcTransport[] = [];
  const make = (options: Partial<WebRtcTransportOptions> = {}): WebRtcTransport => {
    const t = webrtcTransport({ signaller: hub.signaller(), clock: systemClock(), ...(fromGlobal ? {} : { wrtc }), ...options });
    made.push(t);
    return t;
  };
  const fresh = (): void => {
    hub = new MemorySignalHub();
    made = [];
  };
  transportCompliance(name, {
    async setup() {
      fresh();
      return { transports: [make(), make()], addressFor: (t) => `${addressPrefix}-${t}` };
    },
    async teardown() {
      await Promise.all(made.map((t) => t.close()));
      await expect.poll(() => made.map((t) => t.peerCount), { timeout: 2000 }).toEqual(made.map(() => 0));
    },
    eventTimeoutMs: 10_000,
  });
  describe(name, () => {
    webrtcBehaviour(() => {
      fresh();
      return { hub, make, wrtc };
    }, async () => {
      await Promise.all(made.map((t) => t.close()));
    });
  });
}

/** A fresh hub and a maker of transports on it (the maker fills in signaller, clock and RTC classes). */
export interface WebRtcWorld {
  readonly hub: MemorySignalHub;
  readonly wrtc: WebRtcImplementation;
  make(options?: Partial<WebRtcTransportOptions>): WebRtcTransport;
}

/** Registers the WebRTC-specific tests; `setup` runs before each, `teardown` after. */
function webrtcBehaviour(setup: () => WebRtcWorld, teardown: () => Promise<void>): void {
  let world: WebRtcWorld;
  beforeEach(() => {
    world = setup();
  });
  afterEach(teardown);

  const connect = async (dialer: WebRtcTransport, listening: WebRtcTransport, address = 'far'): Promise<[Connection, Connection]> => {
    const listener = await listening.listen(address);
    const accepted = nextEvent<CustomEvent<Connection>>(listener, 'connection', 10_000);
    const conn = await dialer.dial(address, { signal: new AbortController().signal });
    return [conn, (await accepted).detail];
  };

  it('a dial nobody answers fails with TIMEOUT after dialTimeoutMs and leaves no peer connection', async () => {
    const heard: unknown[] = [];
    await world.hub.signaller().claim('silent', (_from, payload) => heard.push(payload));
    const dialer = world.make({ dialTimeoutMs: 300 });
    const started = performance.now();
    const outcome = await dialer.dial('silent', { signal: new AbortController().signal }).catch((err: unknown) => err);
    expect(isClusterluckError(outcome, 'TIMEOUT'), String(outcome)).toBe(true);
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    expect(heard.length).toBeGreaterThan(0);
    expect(heard.at(-1)).toMatchObject({ kind: 'cancel' });
    await expect.poll(() => dialer.peerCount, { timeout: 2000 }).toBe(0);
  });

  it('a 100 KiB frame crosses as 16 KiB chunks and arrives whole, in order with the frames around it', async () => {
    const [conn, accepted] = await connect(world.make(), world.make());
    const rec = recordEvents(accepted, ['message'], 10_000);
    const big = Uint8Array.from({ length: 100 * 1024 }, (_, i) => (i * 31 + (i >> 10)) & 0xff);
    conn.send(Uint8Array.of(1));
    conn.send(big);
    conn.send(Uint8Array.of(2));
    await rec.until(() => rec.events.length === 3, 'three frames');
    const frames = rec.of<CustomEvent<Uint8Array>>('message').map((e) => e.detail);
    expect(frames.map((f) => f.byteLength)).toEqual([1, big.byteLength, 1]);
    expect(frames[1]).toEqual(big);
  });

  it('a received frame over frameBytesMax aborts with BAD_MESSAGE; the sender sees CONNECTION_CLOSED', async () => {
    const [conn, accepted] = await connect(world.make({ frameBytesMax: 64 * 1024 }), world.make({ frameBytesMax: 20 * 1024 }));
    const closes = [nextEvent<CustomEvent<CloseDetail>>(conn, 'close', 10_000), nextEvent<CustomEvent<CloseDetail>>(accepted, 'close', 10_000)];
    const got: number[] = [];
    accepted.addEventListener('message', (e) => got.push(e.detail.byteLength));
    conn.send(new Uint8Array(20 * 1024));
    conn.send(new Uint8Array(20 * 1024 + 1));
    const [dialerClose, listenerClose] = await Promise.all(closes);
    expect(got).toEqual([20 * 1024]);
    expect(isClusterluckError(listenerClose?.detail.error, 'BAD_MESSAGE')).toBe(true);
    expect(isClusterluckError(dialerClose?.detail.error, 'CONNECTION_CLOSED')).toBe(true);
  });

  it('iceServers reach the RTCPeerConnection; with none reachable, host candidates still connect', async () => {
    const Base = world.wrtc.RTCPeerConnection as new (config?: unknown) => object;
    const recording = (configs: unknown[]): WebRtcImplementation => ({
      ...world.wrtc,
      RTCPeerConnection: class extends Base {
        constructor(config?: unknown) {
          configs.push((JSON.parse(JSON.stringify(config)) as { iceServers: unknown }).iceServers);
          super(config);
        }
      },
    });
    const dialerConfigs: unknown[] = [];
    const listenerConfigs: unknown[] = [];
    const iceServers = [{ urls: 'stun:127.0.0.1:9' }];
    const [conn, accepted] = await connect(world.make({ wrtc: recording(dialerConfigs), iceServers }), world.make({ wrtc: recording(listenerConfigs) }));
    // A retried negotiation (see dialAttemptsMax) makes more than one peer connection per side.
    expect(dialerConfigs.length).toBeGreaterThan(0);
    expect([new Set(dialerConfigs.map((c) => JSON.stringify(c))), new Set(listenerConfigs.map((c) => JSON.stringify(c)))])
      .toEqual([new Set([JSON.stringify(iceServers)]), new Set(['[]'])]);
    const echoed = nextEvent<CustomEvent<Uint8Array>>(accepted, 'message', 10_000);
    conn.send(Uint8Array.of(4, 2));
    expect((await echoed).detail).toEqual(Uint8Array.of(4, 2));
  });

  it('a dial survives a WebRTC stack that fails a negotiation, and gives up with CONNECTION_REFUSED after three', async () => {
    let failuresLeft = 1;
    let attempts = 0;
    const Base = world.wrtc.RTCPeerConnection as new (config?: unknown) => { setRemoteDescription(d: unknown): Promise<void> };
    const Flaky = class extends Base {
      override setRemoteDescription(description: unknown): Promise<void> {
        attempts++;
        if (failuresLeft-- > 0) return Promise.reject(new Error('planted failure'));
        return super.setRemoteDescription(description);
      }
    };
    const listening = world.make();
    const [conn] = await connect(world.make({ wrtc: { ...world.wrtc, RTCPeerConnection: Flaky } }), listening);
    // Two at least: the planted failure, then success (a real failure may add one).
    expect(conn.status).toBe('open');
    expect(attempts).toBeGreaterThanOrEqual(2);
    failuresLeft = Infinity;
    attempts = 0;
    const outcome = await world.make({ wrtc: { ...world.wrtc, RTCPeerConnection: Flaky } })
      .dial('far', { signal: new AbortController().signal }).catch((err: unknown) => err);
    expect(isClusterluckError(outcome, 'CONNECTION_REFUSED'), String(outcome)).toBe(true);
    expect(attempts).toBeLessThanOrEqual(3);
    expect(attempts).toBeGreaterThanOrEqual(2);
    await expect.poll(() => listening.peerCount, { timeout: 5000 }).toBe(1);
  });

  it('close() of the transport aborts its connections and releases every signalling claim', async () => {
    const dialer = world.make();
    const [conn, accepted] = await connect(dialer, world.make());
    const remoteClose = nextEvent<CustomEvent<CloseDetail>>(accepted, 'close', 10_000);
    expect(world.hub.claimCount()).toBe(2);
    await dialer.close();
    expect(conn.status).toBe('closed');
    expect(isClusterluckError((await remoteClose).detail.error, 'CONNECTION_CLOSED')).toBe(true);
    expect(world.hub.claimCount()).toBe(1);
    await expect.poll(() => dialer.peerCount, { timeout: 2000 }).toBe(0);
  });
}
