// The part of simple-peer the WebRTC transport uses, typed here. Its prebuilt bundle is imported
// because it runs unchanged in Node and in a Vite page (the CommonJS entry needs `global`,
// `process` and `events` shims there), and @types/simple-peer would drag Node's types into lib/.
import SimplePeerBundle from 'simple-peer/simplepeer.min.js';

/** The RTC classes simple-peer builds on. */
export interface SimplePeerWrtc {
  readonly RTCPeerConnection: unknown;
  readonly RTCSessionDescription: unknown;
  readonly RTCIceCandidate: unknown;
}

/** Options of a simple-peer peer, as far as we set them. */
export interface SimplePeerOptions {
  readonly initiator: boolean;
  readonly trickle: boolean;
  readonly config: { readonly iceServers: readonly unknown[] };
  readonly channelConfig: { readonly ordered: boolean };
  readonly wrtc: SimplePeerWrtc;
}

/** The data channel simple-peer keeps in `_channel` (private, but stable since simple-peer 9.0). */
export interface SimplePeerChannel extends EventTarget {
  readonly bufferedAmount: number;
  bufferedAmountLowThreshold: number;
}

/** A simple-peer peer: one RTCPeerConnection with one data channel. */
export interface SimplePeer {
  readonly destroyed: boolean;
  readonly _channel: SimplePeerChannel | null;
  on(event: 'signal', listener: (data: unknown) => void): this;
  on(event: 'connect' | 'close', listener: () => void): this;
  on(event: 'data', listener: (data: Uint8Array) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  signal(data: unknown): void;
  send(data: Uint8Array): void;
  destroy(err?: Error): void;
}

const SimplePeerClass = SimplePeerBundle as new (options: SimplePeerOptions) => SimplePeer;

/** A new simple-peer peer. */
export function simplePeer(options: SimplePeerOptions): SimplePeer {
  return new SimplePeerClass(options);
}
