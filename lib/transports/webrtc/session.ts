// What the WebRTC transport's dialing and listening sides share: the signalling payloads they
// exchange and the bookkeeping of one negotiation.
import { nodeIdLengthMax } from '../../constants.js';
import { ClusterluckError, show } from '../../env/errors.js';
import type { WebRtcConnection } from './connection.js';
import type { RtcPeer, RtcChannel } from './peer.js';

/** A signalling payload, checked: it came from the network. */
export interface Wire {
  readonly cid: string;
  readonly kind: 'signal' | 'refuse' | 'failed' | 'cancel';
  readonly data?: unknown;
}

/** One peer connection being made or in use, found by its dial's cid. */
export interface Session {
  readonly peer: RtcPeer;
  /** The other side's address. */
  readonly remote: string;
  /** Ends the session because the other side refused, cancelled, or gave up. */
  fail(error: ClusterluckError): void;
}

/** The payload, if it is a well-formed {@link Wire}. */
export function readWire(payload: unknown): Wire | undefined {
  if (typeof payload !== 'object' || payload === null) return undefined;
  const p = payload as Record<string, unknown>;
  const { cid, kind } = p;
  if (typeof cid !== 'string' || cid.length > nodeIdLengthMax) return undefined;
  if (kind !== 'signal' && kind !== 'refuse' && kind !== 'failed' && kind !== 'cancel') return undefined;
  return { cid, kind, data: p['data'] };
}

/** What a peer connection reports while it is being made. */
export interface PeerHooks {
  signal(data: unknown): void;
  connected(channel: RtcChannel): WebRtcConnection;
  failed(err: Error): void;
}

/** Hands a signal to a session's peer; a peer that refuses it fails the session. */
export function signalPeer(session: Session, data: unknown): void {
  if (session.peer.destroyed) return;
  try {
    session.peer.signal(data);
  } catch (err) {
    session.fail(negotiationFailed(`bad signal: ${err instanceof Error ? err.message : show(err)}`, err));
  }
}

/** Negotiations a dial makes before it gives up on a WebRTC stack that keeps failing. */
export const dialAttemptsMax = 3;
/** Errors after which a dial may try again with a fresh peer connection. */
const retryable = new WeakSet<object>();

/** True for an error from {@link negotiationFailed}. */
export function isRetryable(err: unknown): boolean {
  return typeof err === 'object' && err !== null && retryable.has(err);
}

/** CONNECTION_REFUSED for a negotiation the WebRTC stack gave up on; another attempt may work. */
export function negotiationFailed(message: string, cause?: unknown): ClusterluckError {
  const error = new ClusterluckError('CONNECTION_REFUSED', message, cause === undefined ? undefined : { cause });
  retryable.add(error);
  return error;
}
