// The WebRTC transport: whole frames over RTC data channels, in browsers and in Node.
// Addresses are node ids claimed on a pluggable Signaller, which carries the offer, answer and
// ICE candidates; once the channel is open the signaller is out of the path. Nothing here knows
// the platform: the RTC classes are injected (`wrtc`), or the browser's are used; time comes from
// the injected Clock.
//
// Signalling payloads are `{ cid, kind, data? }`: `cid` names one negotiation among the dialer's,
// `kind` is `signal` (an offer, answer or candidate in `data`, see peer.ts), `refuse` (not accepting),
// `failed` (the listener's WebRTC stack gave up: the dialer may try again) or `cancel`.
//
// Over 300 lines on purpose: one endpoint's claims, negotiations and peers share its state; the
// peer connection is peer.ts, the data channel connection connection.ts, chunking chunks.ts.
import { dialTimeoutMsDefault, frameBytesMaxDefault, nodeIdLengthMax } from '../../constants.js';
import { checkInteger } from '../../env/check.js';
import type { Clock, TimerHandle } from '../../env/clock.js';
import { ClusterluckError, invalidArgument, isClusterluckError, show } from '../../env/errors.js';
import type { Address, Connection, DialOptions, Listener, Transport } from '../../env/transport.js';
import { WebRtcConnection, type WebRtcConnectionSettings } from './connection.js';
import { WebRtcListener, type AcceptHost } from './listener.js';
import { rtcPeer, type RtcPeer, type RtcChannel, type RtcClasses } from './peer.js';
import { dialAttemptsMax, isRetryable, negotiationFailed, readWire, signalPeer, type PeerHooks, type Session } from './session.js';
import type { SignalClaim, SignalLost, Signaller } from '../../env/signaller.js';

export { chunkBytesMax as webrtcChunkBytesMax } from './chunks.js';

/** The RTC classes of a WebRTC implementation, as `globalThis` has them in a browser. */
export interface WebRtcImplementation {
  readonly RTCPeerConnection: unknown;
  readonly RTCSessionDescription: unknown;
  readonly RTCIceCandidate: unknown;
}

/** An ICE server (STUN or TURN), as in `RTCConfiguration.iceServers`. */
export interface WebRtcIceServer {
  readonly urls: string | readonly string[];
  readonly username?: string;
  readonly credential?: string;
}

/** Options of {@link webrtcTransport}. */
export interface WebRtcTransportOptions {
  /** Carries offers and answers; listen claims the address on it. */
  readonly signaller: Signaller;
  /** Times dials and closes (the platform's real clock, or a test's). */
  readonly clock: Clock;
  /** RTC classes to use, e.g. node-datachannel's polyfill in Node. @default the ones on globalThis */
  readonly wrtc?: WebRtcImplementation;
  /** STUN/TURN servers; none keeps connections to host candidates (loopback, LAN). @default [] */
  readonly iceServers?: readonly WebRtcIceServer[];
  /** A dial whose channel is not open after this long fails with TIMEOUT. @default dialTimeoutMsDefault (10000) */
  readonly dialTimeoutMs?: number;
  /** A graceful `close()` the peer has not completed after this long becomes an abort with TIMEOUT. @default 10000 */
  readonly closeTimeoutMs?: number;
  /** Largest frame `send` accepts; larger received frames abort the connection. @default frameBytesMaxDefault (1 MiB) */
  readonly frameBytesMax?: number;
  /** `send` returns false once this many bytes wait (our queue plus the channel's buffer). @default 1048576 */
  readonly highWaterMarkBytes?: number;
}

/** A WebRTC {@link Transport}, plus what tests and shutdown need. */
export interface WebRtcTransport extends Transport {
  /** Peer connections not yet closed: being made, or carrying a connection. */
  readonly peerCount: number;
  /**
   * Claims `address` on `signaller` for the listener on `local` (listening now or later): dials to
   * `address` are answered there, through this claim. A room's well-known address is held this way
   * by one member at a time. Rejects ADDRESS_IN_USE when `address` is held; `lost` as in
   * {@link Signaller.claim}. The claim is the caller's to release.
   */
  alias(local: Address, address: Address, signaller: Signaller, lost?: SignalLost): Promise<SignalClaim>;
  /** Aborts every connection and half-made dial, closes listeners, releases signalling claims. */
  close(): Promise<void>;
}

interface Settings extends WebRtcConnectionSettings {
  readonly signaller: Signaller;
  readonly wrtc: RtcClasses;
  readonly iceServers: readonly WebRtcIceServer[];
  readonly dialTimeoutMs: number;
}

/** Pause before the second negotiation of a dial, doubled before the third. */
const retryPauseMs = 50;

/** Makes a WebRTC transport. Throws UNSUPPORTED_PLATFORM when there is no RTCPeerConnection to use. */
export function webrtcTransport(options: WebRtcTransportOptions): WebRtcTransport {
  return new WebRtcEndpoint(settings(options));
}

function settings(o: WebRtcTransportOptions): Settings {
  const int = (field: string, value: unknown, min: number, max = 2 ** 31 - 1): number => checkInteger(`options.${field}`, value, min, max);
  if (typeof o !== 'object' || o === null) throw invalidArgument('options', o, 'an object');
  if (typeof o.signaller?.claim !== 'function') throw invalidArgument('options.signaller', o.signaller, 'a Signaller');
  if (typeof o.clock?.setTimer !== 'function') throw invalidArgument('options.clock', o.clock, 'a Clock');
  const g = globalThis as Partial<WebRtcImplementation>;
  const wrtc = o.wrtc ?? { RTCPeerConnection: g.RTCPeerConnection, RTCSessionDescription: g.RTCSessionDescription, RTCIceCandidate: g.RTCIceCandidate };
  if (typeof wrtc.RTCPeerConnection !== 'function' || typeof wrtc.RTCSessionDescription !== 'function'
    || typeof wrtc.RTCIceCandidate !== 'function') {
    throw new ClusterluckError('UNSUPPORTED_PLATFORM', 'no RTCPeerConnection here: pass options.wrtc (e.g. node-datachannel/polyfill)');
  }
  const iceServers = o.iceServers ?? [];
  if (!Array.isArray(iceServers)) throw invalidArgument('options.iceServers', iceServers, 'an array of ICE servers');
  return {
    signaller: o.signaller, clock: o.clock, wrtc, iceServers: iceServers.map((s: WebRtcIceServer) => ({ ...s })),
    dialTimeoutMs: int('dialTimeoutMs', o.dialTimeoutMs ?? dialTimeoutMsDefault, 1),
    closeTimeoutMs: int('closeTimeoutMs', o.closeTimeoutMs ?? 10_000, 1),
    frameBytesMax: int('frameBytesMax', o.frameBytesMax ?? frameBytesMaxDefault, 0, Number.MAX_SAFE_INTEGER),
    highWaterMarkBytes: int('highWaterMarkBytes', o.highWaterMarkBytes ?? 1024 * 1024, 2, Number.MAX_SAFE_INTEGER),
  };
}

function checkAddress(address: unknown): asserts address is Address {
  if (typeof address !== 'string' || address === '' || address.length > nodeIdLengthMax) {
    throw invalidArgument('address', address, `a non-empty string of at most ${nodeIdLengthMax} characters`);
  }
}

class WebRtcEndpoint implements WebRtcTransport {
  readonly name = 'webrtc';
  readonly frameBytesMax: number;
  readonly #s: Settings;
  /** The claim dials answer to, made on the first dial. */
  #dialClaim: Promise<SignalClaim> | undefined;
  /** Outgoing sessions by cid. */
  readonly #dials = new Map<string, Session>();
  readonly #listeners = new Set<WebRtcListener>();
  readonly #peers = new Set<RtcPeer>();
  readonly #connections = new Set<WebRtcConnection>();
  #lastId = 0;

  constructor(s: Settings) {
    this.#s = s;
    this.frameBytesMax = s.frameBytesMax;
  }

  get peerCount(): number {
    return this.#peers.size;
  }

  async listen(address: Address): Promise<Listener> {
    checkAddress(address);
    const host: AcceptHost = {
      clock: this.#s.clock, dialTimeoutMs: this.#s.dialTimeoutMs,
      makePeer: (hooks) => this.#makePeer(false, hooks),
      openAccepted: (peer, channel, local, remote, onEnd) => this.#open(peer, channel, local, remote, false, onEnd),
    };
    const listener: WebRtcListener = new WebRtcListener(address, host, () => this.#listeners.delete(listener));
    await listener.start(this.#s.signaller);
    this.#listeners.add(listener);
    return listener;
  }

  async alias(local: Address, address: Address, signaller: Signaller, lost?: SignalLost): Promise<SignalClaim> {
    checkAddress(local);
    checkAddress(address);
    const listener = (): WebRtcListener | undefined => [...this.#listeners].find((l) => l.address === local);
    let claim: SignalClaim | undefined;
    claim = await signaller.claim(address, (from, payload) => {
      if (claim !== undefined) listener()?.receiveVia(claim, from, payload);
    }, (to) => listener()?.dialerGone(to), lost);
    return claim;
  }

  async dial(address: Address, dialOptions: DialOptions): Promise<Connection> {
    const signal = (dialOptions as Partial<DialOptions> | undefined)?.signal;
    if (!(signal instanceof AbortSignal)) throw invalidArgument('options.signal', signal, 'an AbortSignal');
    signal.throwIfAborted();
    checkAddress(address);
    const claim = await this.#claimForDials();
    signal.throwIfAborted();
    const started = this.#s.clock.now();
    for (let attempt = 1; ; attempt++) {
      const leftMs = Math.max(1, Math.ceil(this.#s.dialTimeoutMs - (this.#s.clock.now() - started)));
      // A negotiation can also stall without an error (libdatachannel under load): each attempt
      // but the last gets its share of the time, then a fresh one takes over.
      const shareMs = attempt >= dialAttemptsMax ? leftMs : Math.min(leftMs, Math.ceil(this.#s.dialTimeoutMs / dialAttemptsMax));
      try {
        // Its inbound events wait until the caller listens (AdmittedConnection).
        return await this.#attempt(claim, address, signal, shareMs, shareMs < leftMs);
      } catch (err) {
        // A WebRTC stack that failed mid-negotiation (libdatachannel under CPU contention does)
        // gets another go with a fresh peer connection; refusals, timeouts and aborts do not.
        if (attempt >= dialAttemptsMax || !isRetryable(err) || signal.aborted) throw err;
        // A short pause: such failures come in bursts while the machine is busy.
        await new Promise<void>((resolve) => this.#s.clock.setTimer(retryPauseMs * attempt, resolve));
        signal.throwIfAborted();
      }
    }
  }

  async close(): Promise<void> {
    for (const conn of [...this.#connections]) conn.abort();
    for (const session of [...this.#dials.values()]) session.fail(new ClusterluckError('CONNECTION_CLOSED', 'the transport closed'));
    await Promise.all([...this.#listeners].map((l) => l.close()));
    const claim = this.#dialClaim;
    this.#dialClaim = undefined;
    await claim?.then((c) => c.release(), () => undefined);
  }

  #claimForDials(): Promise<SignalClaim> {
    this.#dialClaim ??= this.#s.signaller.claim(undefined, (from, payload) => {
      const wire = readWire(payload);
      const session = wire === undefined ? undefined : this.#dials.get(wire.cid);
      if (wire === undefined || session === undefined) return;
      if (wire.kind === 'signal') signalPeer(session, wire.data);
      else if (wire.kind === 'failed') session.fail(negotiationFailed(`${show(from)} could not negotiate the connection`));
      else session.fail(new ClusterluckError('CONNECTION_REFUSED', `${show(from)} refused the connection`));
    }, (to) => {
      // The relay could not deliver to `to` (nobody holds it): every dial there is refused.
      for (const session of [...this.#dials.values()]) {
        if (session.remote === to) session.fail(new ClusterluckError('CONNECTION_REFUSED', `nobody listens on ${show(to)}`));
      }
    });
    const claiming = this.#dialClaim;
    claiming.catch(() => {
      if (this.#dialClaim === claiming) this.#dialClaim = undefined;
    });
    return claiming;
  }

  /** One negotiation: a fresh peer connection and cid, given up after `timeoutMs` (retryably, when `more` time is left). */
  #attempt(claim: SignalClaim, address: Address, signal: AbortSignal, timeoutMs: number, more: boolean): Promise<WebRtcConnection> {
    const cid = String(++this.#lastId);
    return new Promise((resolve, reject) => {
      let timer: TimerHandle | undefined;
      let done = false;
      const settle = (error: unknown, conn?: WebRtcConnection): void => {
        if (done) return;
        done = true;
        if (timer !== undefined) this.#s.clock.cancelTimer(timer);
        signal.removeEventListener('abort', onAbort);
        if (conn !== undefined) return resolve(conn);
        this.#dials.delete(cid);
        peer.destroy();
        reject(error);
      };
      const fail = (error: unknown): void => {
        if (done) return;
        // The listener's half goes too, unless the listener is what refused or failed.
        if (!isClusterluckError(error, 'CONNECTION_REFUSED') || isRetryable(error)) {
          claim.send(address, { cid, kind: 'cancel' }).catch(() => undefined);
        }
        settle(error);
      };
      const onAbort = (): void => fail(signal.reason);
      const peer = this.#makePeer(true, {
        signal: (data) => claim.send(address, { cid, kind: 'signal', data }).catch(fail),
        connected: (channel) => {
          // The session stays: late candidates may still arrive for this cid.
          const conn = this.#open(peer, channel, claim.address, address, true, () => this.#dials.delete(cid));
          settle(undefined, conn);
          return conn;
        },
        failed: (err) => fail(negotiationFailed(`could not connect to ${show(address)}: ${err.message}`, err)),
      });
      this.#dials.set(cid, { peer, remote: address, fail });
      timer = this.#s.clock.setTimer(timeoutMs, () => fail(more
        ? negotiationFailed(`the negotiation with ${show(address)} stalled for ${timeoutMs} ms`)
        : new ClusterluckError('TIMEOUT', `no connection to ${show(address)} within ${this.#s.dialTimeoutMs} ms`)));
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  #makePeer(initiator: boolean, hooks: PeerHooks): RtcPeer {
    // A fresh copy each time: an RTCPeerConnection may rewrite the configuration it is given.
    const iceServers = this.#s.iceServers.map((server) => ({ ...server, urls: typeof server.urls === 'string' ? server.urls : [...server.urls] }));
    const peer = rtcPeer({ initiator, wrtc: this.#s.wrtc, config: { iceServers } });
    this.#peers.add(peer);
    let conn: WebRtcConnection | undefined;
    let early: Uint8Array[] = [];
    let connected = false;
    let error: Error | undefined;
    peer.on('signal', hooks.signal);
    peer.on('data', (chunk) => (conn === undefined ? early.push(chunk) : conn.receive(chunk)));
    peer.on('error', (err) => {
      error ??= err;
      if (!connected) hooks.failed(err);
    });
    peer.on('close', () => {
      this.#peers.delete(peer);
      if (!connected) hooks.failed(error ?? new Error('the peer connection closed before it opened'));
      conn?.peerClosed(error);
    });
    peer.on('connect', () => {
      const channel = peer.channel;
      if (peer.destroyed || channel === null) return;
      connected = true;
      conn = hooks.connected(channel);
      for (const chunk of early) conn.receive(chunk);
      early = [];
    });
    return peer;
  }

  #open(peer: RtcPeer, channel: RtcChannel, local: Address, remote: Address, outbound: boolean, onEnd: () => void): WebRtcConnection {
    const conn: WebRtcConnection = new WebRtcConnection({
      id: `webrtc:${++this.#lastId}:${local}>${remote}`, local, remote, outbound, peer,
      channel, settings: this.#s,
      onEnd: () => {
        this.#connections.delete(conn);
        onEnd();
      },
    });
    this.#connections.add(conn);
    return conn;
  }
}

