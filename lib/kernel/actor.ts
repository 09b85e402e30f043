import type { NodeId } from '../core/node-id.js';
import type { Link } from './link.js';

/** Where a call or cast goes: an actor `name` on a node (its id, or its NodeId to connect on demand). */
export interface Dest {
  readonly node: NodeId | string;
  readonly name: string;
}

/** Options of {@link NetKernel.call}. */
export interface CallOptions {
  /** Give up with TIMEOUT after this long. @default Infinity (as Clusterluck) */
  readonly timeoutMs?: number;
  /** Give up with `signal.reason` when aborted. */
  readonly signal?: AbortSignal;
}

/** Whether a delivery expects a reply. */
export type DeliveryKind = 'call' | 'cast';

/**
 * The sender of a delivered message: pass it to `reply`. A reply goes back on the connection
 * the request came in on (Clusterluck replied on its own outbound link, so a request could take
 * effect while its reply was lost).
 */
export class From {
  /** The sending node. */
  readonly node: NodeId;
  /** The call's tag; undefined for a cast (which cannot be replied to). */
  readonly tag: number | undefined;
  /** @internal The inbound link, or undefined for a call from this node. */
  readonly link: Link | undefined;
  /** When this node read the message, on its monotonic clock (how long it waited here since is `now - receivedAt`, stalls aside). */
  readonly receivedAt: number;

  constructor(node: NodeId, tag: number | undefined, link: Link | undefined, receivedAt: number) {
    this.node = node;
    this.tag = tag;
    this.link = link;
    this.receivedAt = receivedAt;
  }
}

/** Something registered on a kernel under a name: it receives encoded jobs. */
export interface Actor {
  /** Called asynchronously for each message addressed to the actor; must not throw. */
  deliver(kind: DeliveryKind, from: From, payload: Uint8Array): void;
}
