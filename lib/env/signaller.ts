// How WebRTC peers find each other before they have a connection: a small, pluggable relay of
// JSON payloads between claimed addresses. The transport needs nothing else from it, so an
// in-memory hub (tests), a PeerJS server or any WebSocket relay can carry the offers.
import type { Address } from './transport.js';

/** Called with each payload sent to a claimed address, and the address that sent it. */
export type SignalReceiver = (from: Address, payload: unknown) => void;

/** A claimed address: what it receives goes to its {@link SignalReceiver} until released. */
export interface SignalClaim {
  /** The claimed address (the one the signaller chose, for an anonymous claim). */
  readonly address: Address;
  /**
   * Relays a JSON-safe `payload` to whoever holds `to`; payloads from one claim to one address
   * arrive in the order sent. Rejects CONNECTION_REFUSED when nobody holds `to`.
   */
  send(to: Address, payload: unknown): Promise<void>;
  /** Gives the address up; payloads sent to it afterwards are refused. */
  release(): Promise<void>;
}

/**
 * Called when payloads this claim sent to `to` could not be delivered after `send` resolved:
 * a relay that queues for absent peers (a PeerJS server) learns it only later.
 */
export type SignalUnreachable = (to: Address) => void;

/**
 * Called once when a claim ends by itself (its server went away or refused it), not by `release`:
 * the claim is dead, and whoever wants the address again claims it again.
 */
export type SignalLost = (error: Error) => void;

/** Relays signalling payloads between addresses; one may be shared by many transports. */
export interface Signaller {
  /**
   * Claims `address`, or a fresh anonymous address when it is undefined (dialers that do not
   * listen still need one to hear answers). Rejects ADDRESS_IN_USE when it is already held.
   */
  claim(address: Address | undefined, receive: SignalReceiver, unreachable?: SignalUnreachable, lost?: SignalLost): Promise<SignalClaim>;
}
