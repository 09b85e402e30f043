// One RTCPeerConnection carrying one ordered data channel, negotiated with trickle ICE: the dialer
// (initiator) makes the channel and the offer, the listener answers, and both send each ICE
// candidate as it is found. It does what the transport used simple-peer for, on the standard
// RTC classes only (the browser's, or node-datachannel's polyfill in Node), so no Buffer, stream
// or event-emitter shims reach the page. Signals are simple-peer's shapes: `{ type: 'offer' |
// 'answer', sdp }` and `{ type: 'candidate', candidate: { candidate, sdpMLineIndex, sdpMid } }`.

/** The RTC classes of a WebRTC implementation, as `globalThis` has them in a browser. */
export interface RtcClasses {
  readonly RTCPeerConnection: unknown;
  readonly RTCSessionDescription: unknown;
  readonly RTCIceCandidate: unknown;
}

/** Options of {@link rtcPeer}. */
export interface RtcPeerOptions {
  /** The dialer: it makes the data channel and the offer. */
  readonly initiator: boolean;
  readonly config: { readonly iceServers: readonly unknown[] };
  readonly wrtc: RtcClasses;
}

/** The open data channel, as the connection uses it (buffer level and `bufferedamountlow`). */
export interface RtcChannel extends EventTarget {
  readonly bufferedAmount: number;
  bufferedAmountLowThreshold: number;
}

/** A peer connection being made, then carrying one data channel. */
export interface RtcPeer {
  readonly destroyed: boolean;
  /** The data channel, once there is one. */
  readonly channel: RtcChannel | null;
  on(event: 'signal', listener: (data: unknown) => void): this;
  on(event: 'connect' | 'close', listener: () => void): this;
  on(event: 'data', listener: (data: Uint8Array) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  /** A signal from the other side; throws on one that is not a signal. */
  signal(data: unknown): void;
  send(data: Uint8Array): void;
  /** Closes channel and connection; then `error` (with `err`) and `close` fire, once. */
  destroy(err?: Error): void;
}

/** The parts of RTCPeerConnection and RTCDataChannel used here (the DOM lib is not in scope). */
interface Description { readonly type: string; readonly sdp: string }
interface Candidate { readonly candidate: string; readonly sdpMLineIndex: number | null; readonly sdpMid: string | null }
interface DataChannel extends RtcChannel {
  binaryType: string;
  readonly readyState: string;
  send(data: Uint8Array): void;
  close(): void;
}
interface PeerConnection {
  readonly remoteDescription: Description | null;
  readonly iceConnectionState: string;
  onicecandidate: ((e: { candidate: Candidate | null }) => void) | null;
  ondatachannel: ((e: { channel: DataChannel }) => void) | null;
  oniceconnectionstatechange: (() => void) | null;
  createDataChannel(label: string, init: { ordered: boolean }): DataChannel;
  createOffer(): Promise<Description>;
  createAnswer(): Promise<Description>;
  setLocalDescription(d: Description): Promise<void>;
  setRemoteDescription(d: Description): Promise<void>;
  addIceCandidate(c: Candidate): Promise<void>;
  getStats?(): Promise<unknown>;
  close(): void;
}

/** A new peer; the initiator's offer comes out as a `signal` shortly. */
export function rtcPeer(options: RtcPeerOptions): RtcPeer {
  return new Peer(options);
}

type Listeners = { [K in 'signal' | 'connect' | 'close' | 'data' | 'error']: ((arg?: never) => void)[] };

class Peer implements RtcPeer {
  destroyed = false;
  channel: DataChannel | null = null;
  readonly #listeners: Listeners = { signal: [], connect: [], close: [], data: [], error: [] };
  readonly #pc: PeerConnection | undefined;
  /** Candidates that came before the remote description. */
  #pending: Candidate[] = [];
  #destroying = false;
  #ready = false;

  constructor(options: RtcPeerOptions) {
    try {
      const Pc = options.wrtc.RTCPeerConnection as new (config: unknown) => PeerConnection;
      this.#pc = new Pc({ iceServers: options.config.iceServers });
    } catch (err) {
      this.destroy(withCode(err, 'ERR_PC_CONSTRUCTOR'));
      return;
    }
    const pc = this.#pc;
    pc.onicecandidate = ({ candidate }) => {
      if (candidate === null || this.#destroying) return;
      this.#emit('signal', { type: 'candidate', candidate: { candidate: candidate.candidate, sdpMLineIndex: candidate.sdpMLineIndex, sdpMid: candidate.sdpMid } });
    };
    pc.oniceconnectionstatechange = () => {
      const state = pc.iceConnectionState;
      if (state === 'failed') this.destroy(withCode(new Error('ICE connection failed'), 'ERR_ICE_CONNECTION_FAILURE'));
      // Our own close clears this handler first, so 'closed' here is the remote's close (node-datachannel
      // reads the state when asked, so a late event of any kind may read it): the same end as the
      // channel's close, no failure. Whether it was graceful, the connection's goodbyes say.
      else if (state === 'closed') this.destroy();
      else if (state === 'connected' || state === 'completed') this.#maybeReady();
    };
    if (options.initiator) {
      this.#adopt(pc.createDataChannel('clusterluck', { ordered: true }));
      // After the caller has attached its listeners, as simple-peer does.
      queueMicrotask(() => void this.#describe(() => pc.createOffer(), 'ERR_CREATE_OFFER'));
    } else {
      pc.ondatachannel = ({ channel }) => this.#adopt(channel);
    }
  }

  on(event: keyof Listeners, listener: (arg: never) => void): this {
    this.#listeners[event].push(listener as (arg?: never) => void);
    return this;
  }

  signal(data: unknown): void {
    if (this.#destroying) return;
    const pc = this.#pc as PeerConnection;
    const d = (typeof data === 'object' && data !== null ? data : {}) as { type?: unknown; sdp?: unknown; candidate?: unknown };
    if (d.type === 'candidate' && typeof d.candidate === 'object' && d.candidate !== null) {
      const candidate = d.candidate as Candidate;
      if (pc.remoteDescription === null) this.#pending.push(candidate);
      else this.#addCandidate(candidate);
      return;
    }
    if ((d.type === 'offer' || d.type === 'answer') && typeof d.sdp === 'string') {
      const description = { type: d.type, sdp: d.sdp };
      pc.setRemoteDescription(description).then(() => {
        if (this.#destroying) return;
        for (const candidate of this.#pending) this.#addCandidate(candidate);
        this.#pending = [];
        if (description.type === 'offer') void this.#describe(() => pc.createAnswer(), 'ERR_CREATE_ANSWER');
      }, (err: unknown) => this.destroy(withCode(err, 'ERR_SET_REMOTE_DESCRIPTION')));
      return;
    }
    throw withCode(new Error('not an offer, answer or candidate'), 'ERR_SIGNALING');
  }

  send(data: Uint8Array): void {
    if (this.destroyed || this.#destroying) return;
    (this.channel as DataChannel).send(data);
  }

  destroy(err?: Error): void {
    if (this.#destroying) return;
    this.#destroying = true;
    // Events already on their way (a last message, the close) are let through first.
    queueMicrotask(() => {
      this.destroyed = true;
      const channel = this.channel;
      if (channel !== null) {
        try {
          channel.close();
        } catch {
          // already closed
        }
      }
      const pc = this.#pc;
      if (pc !== undefined) {
        pc.onicecandidate = null;
        pc.ondatachannel = null;
        pc.oniceconnectionstatechange = null;
        try {
          pc.close();
        } catch {
          // already closed
        }
      }
      if (err !== undefined) this.#emit('error', err);
      this.#emit('close');
    });
  }

  /** Makes and sends our description (the offer or the answer). */
  async #describe(make: () => Promise<Description>, code: string): Promise<void> {
    const pc = this.#pc as PeerConnection;
    try {
      const description = await make();
      if (this.#destroying) return;
      await pc.setLocalDescription(description);
      if (this.#destroying) return;
      this.#emit('signal', { type: description.type, sdp: description.sdp });
    } catch (err) {
      this.destroy(withCode(err, code));
    }
  }

  #addCandidate(candidate: Candidate): void {
    // A candidate this stack cannot use (e.g. an mDNS one) is skipped; the others may connect.
    (this.#pc as PeerConnection).addIceCandidate(candidate).catch(() => undefined);
  }

  #adopt(channel: DataChannel): void {
    if (this.#destroying) return;
    this.channel = channel;
    channel.binaryType = 'arraybuffer';
    channel.addEventListener('open', () => this.#maybeReady());
    // An announced channel may be open already when it is handed over.
    if (channel.readyState === 'open') queueMicrotask(() => this.#maybeReady());
    channel.addEventListener('message', (e) => {
      const data = (e as unknown as { data: unknown }).data;
      if (this.destroyed) return; // until the microtask of destroy(), as the comment there says
      if (data instanceof ArrayBuffer) this.#emit('data', new Uint8Array(data));
      else if (ArrayBuffer.isView(data)) this.#emit('data', new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    });
    channel.addEventListener('close', () => this.destroy());
    channel.addEventListener('error', (e) => {
      const error = (e as unknown as { error?: unknown }).error;
      this.destroy(withCode(error instanceof Error ? error : new Error('data channel error'), 'ERR_DATA_CHANNEL'));
    });
  }

  /** `connect` once the channel is open and ICE has connected (as simple-peer waited for both). */
  #maybeReady(): void {
    const pc = this.#pc;
    const ice = pc?.iceConnectionState;
    if (this.#ready || this.#destroying || this.channel?.readyState !== 'open' || (ice !== 'connected' && ice !== 'completed')) return;
    this.#ready = true;
    // As simple-peer did: after a getStats round trip through the WebRTC threads. Without it, an
    // answerer in Chromium that sent at once sometimes never saw its bufferedAmount fall.
    const stats = (pc as PeerConnection).getStats?.();
    void Promise.resolve(stats).catch(() => undefined).then(() => {
      if (!this.#destroying) this.#emit('connect');
    });
  }

  #emit(event: keyof Listeners, arg?: unknown): void {
    for (const listener of this.#listeners[event]) (listener as (a: unknown) => void)(arg);
  }
}

/** `err` (or an Error saying it) with simple-peer's error `code`. */
function withCode(err: unknown, code: string): Error {
  const error = err instanceof Error ? err : new Error(String(err));
  try {
    Object.assign(error, { code });
  } catch {
    // a frozen error keeps its own code
  }
  return error;
}
