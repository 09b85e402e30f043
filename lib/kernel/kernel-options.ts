// The kernel's options (checked, with their defaults), its events and its counters.
import { dialTimeoutMsDefault, frameBytesMaxDefault, pendingCallsMaxDefault, sendQueueLengthMaxDefault } from '../constants.js';
import type { NodeId } from '../core/node-id.js';
import { checkInteger } from '../env/check.js';
import type { HmacFactory } from '../env/crypto.js';
import type { Env } from '../env/env.js';
import { invalidArgument } from '../env/errors.js';
import type { DropReason } from './link.js';

/** Options of a NetKernel. */
export interface NetKernelOptions {
  /** Clock, randomness, transport and logger. */
  readonly env: Pick<Env, 'clock' | 'random' | 'transport' | 'logger'>;
  /** This node's cluster-unique id. */
  readonly id: string;
  /** The address to listen on (`127.0.0.1:0` for TCP picks a port; `self.address` tells which). */
  readonly address: string;
  /** The shared secret every frame is signed with (HMAC-SHA256). */
  readonly cookie: string;
  /** Largest frame sent or accepted. @default min(1 MiB, the transport's own bound) */
  readonly frameBytesMax?: number;
  /** Messages kept per destination while its connection is down or congested. @default 1024 */
  readonly sendQueueLengthMax?: number;
  /** Calls awaiting replies at once. @default 65536 */
  readonly pendingCallsMax?: number;
  /** How long a new connection may take to authenticate. @default 5000 */
  readonly handshakeTimeoutMs?: number;
  /** How long one dial may take. @default 10000 */
  readonly dialTimeoutMs?: number;
  /** HMAC-SHA256 implementation (Node's native one is `nodeHmac`, slower here: see its comment). @default portableHmac */
  readonly hmac?: HmacFactory;
  /**
   * Decode what is encoded and assert it reads back as written: every frame and message this
   * kernel writes, and (through `NetKernel.checkCodecs`) the gossip ring's stored view
   * state. Cheap (no JSON is parsed for frames); meant for the simulator and tests. @default false
   */
  readonly checkCodecs?: boolean;
}

/** Events of a NetKernel. */
export interface NetKernelEvents {
  /** The first authenticated connection to a node opened. */
  connect: CustomEvent<NodeId>;
  /** The last connection to a node closed. */
  disconnect: CustomEvent<NodeId>;
}

/** Counters for what the kernel did and refused; all only grow. */
export interface KernelStats {
  framesSent: number;
  messagesReceived: number;
  dropped: Record<DropReason, number>;
  /** Queued messages dropped (oldest first) because a destination's queue was full. */
  queueDropped: number;
  /** Replies for calls that had already ended (timeout, abort) or came on another link. */
  repliesUnmatched: number;
  /** Replies that could not be sent because the request's connection had closed. */
  repliesUndeliverable: number;
  /** `reply` calls for a cast, which has no one to answer. */
  repliesWithoutTag: number;
  /** Casts to an actor that is not registered. */
  castsUnrouted: number;
}

/** A kernel's options, checked, with the defaults filled in. */
export interface ResolvedKernelOptions {
  readonly frameBytesMax: number;
  readonly sendQueueLengthMax: number;
  readonly pendingCallsMax: number;
  readonly handshakeTimeoutMs: number;
  readonly dialTimeoutMs: number;
  readonly checkCodecs: boolean;
}

/** Checks the numeric and flag options (INVALID_ARGUMENT naming the field) and fills in the defaults. */
export function resolveKernelOptions(o: Partial<NetKernelOptions> & Pick<NetKernelOptions, 'env'>): ResolvedKernelOptions {
  const transportMax = o.env.transport.frameBytesMax;
  const frameBytesMax = checkInteger('options.frameBytesMax', o.frameBytesMax ?? Math.min(frameBytesMaxDefault, transportMax), 1);
  const resolved = {
    frameBytesMax,
    sendQueueLengthMax: checkInteger('options.sendQueueLengthMax', o.sendQueueLengthMax ?? sendQueueLengthMaxDefault, 1),
    pendingCallsMax: checkInteger('options.pendingCallsMax', o.pendingCallsMax ?? pendingCallsMaxDefault, 1),
    handshakeTimeoutMs: checkInteger('options.handshakeTimeoutMs', o.handshakeTimeoutMs ?? 5000, 1),
    dialTimeoutMs: checkInteger('options.dialTimeoutMs', o.dialTimeoutMs ?? dialTimeoutMsDefault, 1),
    checkCodecs: o.checkCodecs ?? false,
  };
  if (typeof resolved.checkCodecs !== 'boolean') throw invalidArgument('options.checkCodecs', o.checkCodecs, 'a boolean');
  return resolved;
}
