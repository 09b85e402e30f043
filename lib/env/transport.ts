import { ClusterluckError, invalidArgument } from './errors.js';
import type { TypedEventTarget } from './events.js';

/** A transport address: `host:port` for TCP, a network-local name for memory, a peer id for WebRTC. */
export type Address = string;

/** Why a connection ended: `error` is absent for a graceful close by either side. */
export interface CloseDetail {
  readonly error?: Error;
}

/** Events of a {@link Connection}. */
export interface ConnectionEvents {
  /** One whole frame, exactly as the peer passed it to `send`. */
  message: CustomEvent<Uint8Array>;
  /** The send buffer fell back under the high-water mark after `send` returned false. */
  drain: Event;
  /** The connection is closed; fired exactly once on each side. */
  close: CustomEvent<CloseDetail>;
}

/** Lifecycle of a {@link Connection}. */
export type ConnectionStatus = 'open' | 'closing' | 'closed';

/**
 * What every `Connection.send` checks first: a Uint8Array (INVALID_ARGUMENT), an open connection
 * (CONNECTION_CLOSED), at most `frameBytesMax` bytes (MESSAGE_TOO_LARGE).
 */
export function checkSend(id: string, status: ConnectionStatus, frame: unknown, frameBytesMax: number): asserts frame is Uint8Array {
  if (!(frame instanceof Uint8Array)) throw invalidArgument('frame', frame, 'a Uint8Array');
  if (status !== 'open') throw new ClusterluckError('CONNECTION_CLOSED', `connection ${id} is ${status}`);
  if (frame.byteLength > frameBytesMax) {
    throw new ClusterluckError('MESSAGE_TOO_LARGE', `frame of ${frame.byteLength} bytes exceeds frameBytesMax ${frameBytesMax}`);
  }
}

/**
 * A bidirectional, ordered, reliable stream of whole frames between two endpoints.
 *
 * Contract (checked by the transport compliance suite in `test/`):
 * - frames arrive whole, in the order sent, each as one `message` event, never synchronously
 *   inside `send`; none is dispatched before the dialer's `await dial()` has resumed and the
 *   listener's `connection` handlers have run, so frames a side sends at once are never lost;
 * - `send` returns false once `bufferedBytes` reaches the transport's high-water mark; `drain`
 *   follows when it falls below; a frame larger than `frameBytesMax` throws MESSAGE_TOO_LARGE;
 *   `send` on a connection that is not open throws CONNECTION_CLOSED;
 * - `close()` is graceful: frames already sent are delivered, then both sides see `close`
 *   without error; `abort(err)` is immediate: buffered frames are dropped, the local side
 *   sees `close` with `err`, the remote side with a CONNECTION_CLOSED error; `status` changes at
 *   once, the `close` event fires asynchronously; a pending `close()` promise resolves.
 */
export interface Connection extends TypedEventTarget<ConnectionEvents> {
  /** Unique among the connections of one transport (or network): for logs. */
  readonly id: string;
  readonly localAddress: Address;
  readonly remoteAddress: Address;
  /** True for the side that dialled. */
  readonly outbound: boolean;
  readonly status: ConnectionStatus;
  /** Bytes accepted by `send` and not yet handed to the network. */
  readonly bufferedBytes: number;
  /** Queues one frame; returns false when the caller should wait for `drain`. */
  send(frame: Uint8Array): boolean;
  /**
   * Hands every queued frame to the network now, not at the transport's own flush (TCP's comes once
   * the callback that sent has returned): for a frame someone is waiting on that was sent outside
   * their request (a grant pushed to a waiter). Optional: a transport whose sends already leave
   * at once has nothing to do.
   */
  flushNow?(): void;
  /**
   * Runs `fn` once, just before this connection next hands its queued frames to the network (at
   * the transport's own flush, at `flushNow`, or as a graceful `close` begins), and makes sure
   * that flush happens. `fn` may `send`: those frames leave in that flush. For a sender that packs
   * what was sent before the flush into one frame (the kernel's batches). Dropped once the
   * connection is no longer open (an abort).
   * Optional: without it every message is a frame of its own.
   */
  beforeFlush?(fn: () => void): void;
  /** Graceful close; resolves once the connection is closed. */
  close(): Promise<void>;
  /** Immediate close; `error` defaults to an ABORTED error. */
  abort(error?: Error): void;
  /**
   * Told by the kernel once the peer proved the cookie. A transport that keeps a tighter budget
   * for unauthenticated peers (frame size, admission; TCP does) lifts it here. Optional.
   */
  authenticated?(): void;
}

/** Events of a {@link Listener}. */
export interface ListenerEvents {
  /** A peer dialled in. */
  connection: CustomEvent<Connection>;
  /** The listener stopped accepting. */
  close: Event;
}

/** Accepts inbound connections on one address. */
export interface Listener extends TypedEventTarget<ListenerEvents> {
  /** The address peers dial; for TCP with port 0 the port actually bound. */
  readonly address: Address;
  /** Stops accepting; connections already made stay open. */
  close(): Promise<void>;
}

/** Options for {@link Transport.dial}. */
export interface DialOptions {
  /** Required, as in js-libp2p: every dial can be given up. */
  readonly signal: AbortSignal;
}

/**
 * Makes and accepts {@link Connection}s. `dial` rejects with CONNECTION_REFUSED when nobody
 * listens, and with `signal.reason` when aborted; `listen` rejects with ADDRESS_IN_USE.
 */
export interface Transport {
  /** A short name for logs: `memory`, `tcp`, `webrtc`, `sim`. */
  readonly name: string;
  /** The largest frame `send` accepts. */
  readonly frameBytesMax: number;
  listen(address: Address): Promise<Listener>;
  dial(address: Address, options: DialOptions): Promise<Connection>;
}
