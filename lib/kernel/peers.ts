// The kernel's peers: one record per node it talks to, with its authenticated links, its send
// queue (bounded, oldest dropped first), its re-dial backoff, and whether the failure detector
// holds it down. The kernel routes messages; this decides when and on which link they go.
import { reconnectDelayMsMax, reconnectDelayMsMin } from '../constants.js';
import type { NodeId } from '../core/node-id.js';
import type { TimerHandle } from '../env/clock.js';
import type { Env } from '../env/env.js';
import { ClusterluckError, show, stacklessError } from '../env/errors.js';
import type { Connection } from '../env/transport.js';
import type { CallTable, Outbound, PendingCall } from './call-table.js';
import type { Hello } from './frame.js';
import type { Link } from './link.js';
import { MessageKind } from './message.js';

/** One node the kernel talks to. */
export interface Peer {
  node: NodeId;
  /** True after `connect()`: keep re-dialling until `disconnect()`. */
  wanted: boolean;
  /** Its authenticated links; messages go on the first. */
  readonly links: Link[];
  /** Messages waiting for a link, or for the first one to drain. */
  readonly queue: Outbound[];
  /** The first link's transport said "stop" (send returned false) and has not drained yet. */
  congested: boolean;
  /** Failed dials in a row: the re-dial backoff doubles with each. */
  failures: number;
  redial: TimerHandle | undefined;
  dialing: AbortController | undefined;
}

/** What the peers need of their kernel. */
export interface PeersHost {
  readonly env: Pick<Env, 'clock' | 'random' | 'transport' | 'logger'>;
  readonly stats: { framesSent: number; queueDropped: number };
  readonly calls: CallTable;
  readonly sendQueueLengthMax: number;
  readonly dialTimeoutMs: number;
  running(): boolean;
  /** Takes a dialled connection as a link whose hello must name `dialFor`. */
  adopt(conn: Connection, dialFor: string): void;
  /** True while a link dialled for `id` has not closed (it may still be authenticating). */
  hasDialledLink(id: string): boolean;
  emit(type: 'connect' | 'disconnect', node: NodeId): void;
}

/** Every peer of one kernel. */
export class Peers {
  readonly #h: PeersHost;
  readonly #peers = new Map<string, Peer>();
  /** Nodes the failure detector holds down (see NetKernel.markDown). */
  readonly #down = new Set<string>();

  constructor(host: PeersHost) {
    this.#h = host;
  }

  /** The peer of node `id`, if the kernel knows it. */
  get(id: string): Peer | undefined {
    return this.#peers.get(id);
  }

  /** Keeps a connection to `target`, dialling now unless a link, a dial or a re-dial is there. */
  connect(target: NodeId): void {
    let peer = this.#peers.get(target.id);
    if (peer === undefined) {
      peer = newPeer(target, true);
      this.#peers.set(target.id, peer);
    }
    peer.wanted = true;
    peer.node = target;
    if (this.#h.running() && peer.links.length === 0 && peer.dialing === undefined && peer.redial === undefined) this.#dial(peer);
  }

  /** Dials every peer still wanted (the kernel started). */
  dialWanted(): void {
    for (const peer of this.#peers.values()) if (peer.wanted) this.#dial(peer);
  }

  /** Stops re-dialling every peer and fails their queued calls with `reason` (the kernel stopped). */
  forgetAll(reason: Error): void {
    for (const peer of this.#peers.values()) this.#forget(peer, reason);
  }

  /** Closes the links to `id` and stops re-dialling it; its queued calls fail. */
  disconnect(id: string): void {
    const peer = this.#peers.get(id);
    if (peer === undefined) return;
    this.#forget(peer, stacklessError('CONNECTION_CLOSED', `disconnected from ${show(id)}`));
    for (const link of peer.links) void link.conn.close();
    if (peer.links.length === 0) this.#peers.delete(id);
  }

  /** True when an authenticated link to `id` is open. */
  isConnected(id: string): boolean {
    return (this.#peers.get(id)?.links.length ?? 0) > 0;
  }

  /** Holds `id` down; false when it already was. */
  markDown(id: string): boolean {
    if (this.#down.has(id)) return false;
    this.#down.add(id);
    return true;
  }

  /** A sign of life from `id`: no longer held down, and a re-dial waiting out its backoff happens now, the backoff reset. */
  markUp(id: string): void {
    this.#down.delete(id);
    const peer = this.#peers.get(id);
    if (peer === undefined) return;
    peer.failures = 0;
    if (peer.redial === undefined) return;
    this.#h.env.clock.cancelTimer(peer.redial);
    peer.redial = undefined;
    if (this.#h.running() && peer.wanted && peer.links.length === 0 && peer.dialing === undefined) this.#dial(peer);
  }

  /** True while `id` is held down. */
  isDown(id: string): boolean {
    return this.#down.has(id);
  }

  /** Nodes with an authenticated link open. */
  connectedNodes(): NodeId[] {
    return [...this.#peers.values()].filter((p) => p.links.length > 0).map((p) => p.node);
  }

  /** Held down, with no link open and none being dialled or authenticated: a call would only wait for a re-dial. */
  cannotReach(peer: Peer): boolean {
    if (!this.#down.has(peer.node.id) || peer.links.length > 0 || peer.dialing !== undefined) return false;
    return !this.#h.hasDialledLink(peer.node.id);
  }

  /** Sends `item` on the peer's first link, or queues it (behind what waits, or while congested); over the bound the oldest goes. */
  send(peer: Peer, item: Outbound, pending: PendingCall | undefined): void {
    const link = peer.links[0];
    if (link !== undefined && !peer.congested && peer.queue.length === 0) return this.#transmit(peer, link, item);
    // It may wait a while: a payload that is a view on a shared slab (allocBytes) gets bytes of its own.
    const shared = item.payload.byteLength !== item.payload.buffer.byteLength;
    const kept: Outbound = shared ? { ...item, payload: item.payload.slice() } : item;
    if (pending !== undefined) pending.queued = kept;
    peer.queue.push(kept);
    if (peer.queue.length > this.#h.sendQueueLengthMax) {
      const dropped = peer.queue.shift() as Outbound;
      this.#h.stats.queueDropped++;
      if (dropped.kind === MessageKind.call) {
        const p = this.#h.calls.get(dropped.tag);
        if (p !== undefined) p.queued = undefined;
        p?.settle(new ClusterluckError('QUEUE_FULL', `send queue to ${show(peer.node.id)} is full (${this.#h.sendQueueLengthMax}); oldest message dropped`));
      }
    }
  }

  /** Takes `item` out of the send queue of `peerId` (its call ended before it went out). */
  unqueue(peerId: string, item: Outbound): void {
    const queue = this.#peers.get(peerId)?.queue;
    const at = queue?.indexOf(item) ?? -1;
    if (at >= 0) queue?.splice(at, 1);
  }

  /** `link` drained: if it is its peer's first, what waits goes out. */
  drain(link: Link): void {
    const peer = link.peer === undefined ? undefined : this.#peers.get(link.peer.id);
    if (peer?.links[0] !== link) return;
    peer.congested = false;
    this.#flush(peer);
  }

  /** `link` authenticated as `hello`: it joins its peer's links (made if new); the first one opens the peer. @returns the peer's node. */
  linkUp(link: Link, hello: Hello): NodeId {
    let peer = this.#peers.get(hello.id);
    if (peer === undefined) {
      peer = newPeer({ id: hello.id, address: hello.address }, false);
      this.#peers.set(hello.id, peer);
    }
    if (!link.conn.outbound && peer.node.address !== hello.address) peer.node = Object.freeze({ id: hello.id, address: hello.address });
    peer.links.push(link);
    peer.failures = 0;
    if (peer.links.length === 1) {
      peer.congested = false;
      this.#h.emit('connect', peer.node);
      this.#flush(peer);
    }
    return peer.node;
  }

  /** `link`, to or dialled for node `id`, closed with `closed` as its calls' error: re-dial, or forget a peer not wanted. */
  linkDown(link: Link, id: string, closed: Error): void {
    const peer = this.#peers.get(id);
    if (peer === undefined) return;
    const at = peer.links.indexOf(link);
    if (at < 0) {
      this.#scheduleRedial(peer);
      return this.#failQueuedIfDown(peer);
    }
    peer.links.splice(at, 1);
    if (at === 0) peer.congested = false;
    if (peer.links.length > 0) return this.#flush(peer);
    this.#h.emit('disconnect', peer.node);
    if (peer.wanted && this.#h.running()) {
      this.#scheduleRedial(peer);
      return this.#failQueuedIfDown(peer);
    }
    this.#forget(peer, closed);
    this.#peers.delete(peer.node.id);
  }

  /** Fails the calls queued for `peer` once nothing but a re-dial could carry them and it is held down. */
  #failQueuedIfDown(peer: Peer): void {
    if (!this.cannotReach(peer)) return;
    const error = unreachable(peer.node.id, 'the failure detector holds it down and the dial failed');
    for (const item of [...peer.queue]) if (item.kind === MessageKind.call) this.#h.calls.get(item.tag)?.settle(error);
  }

  #transmit(peer: Peer, link: Link, item: Outbound): void {
    const pending = item.kind === MessageKind.call ? this.#h.calls.get(item.tag) : undefined;
    if (pending !== undefined) {
      pending.link = link;
      pending.queued = undefined;
    }
    this.#h.stats.framesSent++;
    if (!link.send(item.kind, item.tag, item.name, item.payload)) peer.congested = true;
  }

  #flush(peer: Peer): void {
    let link = peer.links[0];
    while (link !== undefined && !peer.congested && peer.queue.length > 0) {
      this.#transmit(peer, link, peer.queue.shift() as Outbound);
      link = peer.links[0];
    }
  }

  #forget(peer: Peer, reason: Error): void {
    peer.wanted = false;
    if (peer.redial !== undefined) this.#h.env.clock.cancelTimer(peer.redial);
    peer.redial = undefined;
    peer.dialing?.abort(reason);
    for (const item of peer.queue.splice(0)) if (item.kind === MessageKind.call) this.#h.calls.get(item.tag)?.settle(reason);
  }

  #dial(peer: Peer): void {
    const { clock, transport, logger } = this.#h.env;
    const controller = new AbortController();
    peer.dialing = controller;
    const timer = clock.setTimer(this.#h.dialTimeoutMs, () =>
      controller.abort(new ClusterluckError('TIMEOUT', `dial to ${peer.node.address} timed out`)));
    transport.dial(peer.node.address, { signal: controller.signal }).then(
      (conn) => {
        if (!this.#h.running() || !peer.wanted || controller.signal.aborted) return conn.abort();
        this.#h.adopt(conn, peer.node.id);
      },
      (err: unknown) => {
        logger.debug('dial failed', { node: peer.node.id, error: String(err) });
        this.#scheduleRedial(peer);
      },
    ).finally(() => {
      clock.cancelTimer(timer);
      if (peer.dialing === controller) peer.dialing = undefined;
      this.#failQueuedIfDown(peer);
    });
  }

  #scheduleRedial(peer: Peer): void {
    if (!this.#h.running() || !peer.wanted || peer.redial !== undefined || peer.links.length > 0) return;
    const base = Math.min(reconnectDelayMsMax, reconnectDelayMsMin * 2 ** Math.min(peer.failures, 20));
    peer.failures++;
    const delay = base / 2 + (this.#h.env.random.next() * base) / 2;
    peer.redial = this.#h.env.clock.setTimer(delay, () => {
      peer.redial = undefined;
      if (this.#h.running() && peer.wanted && peer.links.length === 0 && peer.dialing === undefined) this.#dial(peer);
    });
  }
}

function newPeer(node: NodeId, wanted: boolean): Peer {
  return { node, wanted, links: [], queue: [], congested: false, failures: 0, redial: undefined, dialing: undefined };
}

/** A call to `nodeId` that cannot go anywhere now. */
export function unreachable(nodeId: string, why: string): ClusterluckError {
  return stacklessError('UNREACHABLE', `node ${show(nodeId)} is unreachable: ${why}`);
}
