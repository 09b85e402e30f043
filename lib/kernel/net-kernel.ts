import { actorNameLengthMax, dialTimeoutMsDefault, frameBytesMaxDefault, nodeIdLengthMax, pendingCallsMaxDefault,
  reconnectDelayMsMax, reconnectDelayMsMin, sendQueueLengthMaxDefault } from '../constants.js';
import type { NodeId } from '../core/node-id.js';
import { parseNodeId } from '../core/node-id.js';
import { assert } from '../env/assert.js';
import { toHex, utf8 } from '../env/bytes.js';
import type { TimerHandle } from '../env/clock.js';
import type { Env } from '../env/env.js';
import { ClusterluckError, invalidArgument, show, toWireError } from '../env/errors.js';
import { TypedEventTarget } from '../env/events.js';
import type { Connection, Listener } from '../env/transport.js';
import { From, type Actor, type CallOptions, type Dest } from './actor.js';
import type { HmacFactory } from '../env/crypto.js';
import { cookieKey, cookieKeyNow, cookieLengthMin } from './cookie-key.js';
import { FrameSigner, nonceBytes } from './frame.js';
import { Link, type DropReason, type LinkHandlers } from './link.js';
import { MessageKind, type Message } from './message.js';
import { CallTable, type Outbound, type PendingCall } from './call-table.js';
import { checkInteger } from '../env/check.js';

/** Options of a {@link NetKernel}. */
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
  /** HMAC-SHA256 implementation; Node's entry passes its native one. @default portableHmac */
  readonly hmac?: HmacFactory;
  /**
   * Decode what is encoded and assert it reads back as written: every frame and message this
   * kernel writes, and (through {@link NetKernel.checkCodecs}) the gossip ring's stored view
   * state. Cheap (no JSON is parsed for frames); meant for the simulator and tests. @default false
   */
  readonly checkCodecs?: boolean;
}

/** Events of a {@link NetKernel}. */
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

/** What the kernel keeps of one link (one record, not a map per field). */
interface LinkRecord {
  /** The node this link was dialled for (its hello must name it), when the kernel dialled it for one. */
  readonly dialFor: string | undefined;
  /** `connectAddress` waiting to learn who answered. */
  identifying: { resolve(node: NodeId): void; reject(error: Error): void } | undefined;
}

interface Peer {
  node: NodeId;
  /** True after `connect()`: keep re-dialling until `disconnect()`. */
  wanted: boolean;
  readonly links: Link[];
  readonly queue: Outbound[];
  congested: boolean;
  failures: number;
  redial: TimerHandle | undefined;
  dialing: AbortController | undefined;
}


/**
 * The network kernel: connections to other nodes through the injected transport, signed
 * frames, and routing of calls, casts and replies to named actors. Calls between actors of the
 * same node never touch the network but still go through the same encoding, asynchronously.
 */
export class NetKernel extends TypedEventTarget<NetKernelEvents> {
  /** This node; `address` is the bound one after `start()`. */
  self: NodeId;
  /** What the kernel did and refused. */
  readonly stats: KernelStats = {
    framesSent: 0, messagesReceived: 0, queueDropped: 0, repliesUnmatched: 0, repliesUndeliverable: 0,
    repliesWithoutTag: 0, castsUnrouted: 0,
    dropped: { tooLarge: 0, malformed: 0, badSignature: 0, outOfOrder: 0, unexpected: 0 },
  };
  readonly env: NetKernelOptions['env'];
  readonly frameBytesMax: number;
  /** Encode-then-decode checks on (see {@link NetKernelOptions.checkCodecs}). */
  readonly checkCodecs: boolean;
  readonly #opts: Required<Omit<NetKernelOptions, 'env' | 'id' | 'address' | 'cookie' | 'frameBytesMax' | 'hmac' | 'checkCodecs'>>;
  /** Made in `start()` from the cookie's derived key. */
  #signer: FrameSigner | undefined;
  readonly #cookie: string;
  readonly #hmac: HmacFactory | undefined;
  /** True when the cookie is shorter than {@link cookieLengthMin} characters (logged once as a warning). */
  readonly shortCookie: boolean;
  readonly #actors = new Map<string, Actor>();
  readonly #peers = new Map<string, Peer>();
  /** Every link, with what the kernel knows of it. */
  readonly #links = new Map<Link, LinkRecord>();
  readonly #calls: CallTable;
  /** Nodes the failure detector holds down (see {@link markDown}). */
  readonly #down = new Set<string>();
  #listener: Listener | undefined;
  #running = false;

  constructor(options: NetKernelOptions) {
    super();
    const o = options as Partial<NetKernelOptions> | undefined;
    if (typeof o !== 'object' || o === null) throw invalidArgument('options', o, 'an options object');
    if (typeof o.env !== 'object' || o.env === null) throw invalidArgument('options.env', o.env, 'an Env');
    this.self = parseNodeId({ id: o.id, address: o.address }, 'options');
    if (typeof o.cookie !== 'string') throw invalidArgument('options.cookie', o.cookie, 'a string');
    this.env = o.env;
    this.#calls = new CallTable(o.env.clock);
    const transportMax = o.env.transport.frameBytesMax;
    this.frameBytesMax = checkInteger('options.frameBytesMax', o.frameBytesMax ?? Math.min(frameBytesMaxDefault, transportMax), 1);
    this.#opts = {
      sendQueueLengthMax: checkInteger('options.sendQueueLengthMax', o.sendQueueLengthMax ?? sendQueueLengthMaxDefault, 1),
      pendingCallsMax: checkInteger('options.pendingCallsMax', o.pendingCallsMax ?? pendingCallsMaxDefault, 1),
      handshakeTimeoutMs: checkInteger('options.handshakeTimeoutMs', o.handshakeTimeoutMs ?? 5000, 1),
      dialTimeoutMs: checkInteger('options.dialTimeoutMs', o.dialTimeoutMs ?? dialTimeoutMsDefault, 1),
    };
    if (o.checkCodecs !== undefined && typeof o.checkCodecs !== 'boolean') throw invalidArgument('options.checkCodecs', o.checkCodecs, 'a boolean');
    this.checkCodecs = o.checkCodecs ?? false;
    this.#cookie = o.cookie;
    this.#hmac = o.hmac;
    this.shortCookie = o.cookie.length < cookieLengthMin;
    if (this.shortCookie) {
      o.env.logger.warn(`the cookie is ${o.cookie.length} characters: use ${cookieLengthMin} or more random ones (a recorded connection lets anyone test guesses offline)`);
    }
  }

  /** True between `start()` and `stop()`. */
  get running(): boolean {
    return this.#running;
  }

  /** Listens on the configured address. */
  async start(): Promise<void> {
    if (this.#running) return;
    // Derived once per cookie per process; a simulator derives first, so this does not wait then.
    this.#signer ??= new FrameSigner(cookieKeyNow(this.#cookie) ?? await cookieKey(this.#cookie), this.#hmac);
    if (this.#running) return;
    const listener = await this.env.transport.listen(this.self.address);
    listener.addEventListener('connection', (e) => this.#adopt(e.detail, undefined));
    this.#listener = listener;
    this.self = Object.freeze({ id: this.self.id, address: listener.address });
    this.#running = true;
    for (const peer of this.#peers.values()) if (peer.wanted) this.#dial(peer);
  }

  /** Closes every connection and the listener; pending calls fail with NOT_RUNNING. */
  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    const closing = [...this.#links.keys()].map((link) => link.conn.close());
    for (const peer of this.#peers.values()) this.#forget(peer, new ClusterluckError('NOT_RUNNING', 'kernel stopped'));
    this.#calls.fail(new ClusterluckError('NOT_RUNNING', 'kernel stopped'));
    await this.#listener?.close();
    this.#listener = undefined;
    await Promise.all(closing);
  }

  /** Registers an actor under `name`; ALREADY_EXISTS when the name is taken. */
  register(name: string, actor: Actor): void {
    checkName('name', name);
    if (this.#actors.has(name)) throw new ClusterluckError('ALREADY_EXISTS', `an actor named ${show(name)} is already registered`);
    this.#actors.set(name, actor);
  }

  /** Removes the actor registered under `name` (only if it is `actor`, when given). */
  unregister(name: string, actor?: Actor): void {
    if (actor === undefined || this.#actors.get(name) === actor) this.#actors.delete(name);
  }

  /** Keeps a connection to `node`, re-dialling with backoff until `disconnect`. Idempotent. */
  connect(node: NodeId): void {
    const target = parseNodeId(node);
    if (target.id === this.self.id) return;
    let peer = this.#peers.get(target.id);
    if (peer === undefined) {
      peer = { node: target, wanted: true, links: [], queue: [], congested: false, failures: 0, redial: undefined, dialing: undefined };
      this.#peers.set(target.id, peer);
    }
    peer.wanted = true;
    peer.node = target;
    if (this.#running && peer.links.length === 0 && peer.dialing === undefined && peer.redial === undefined) this.#dial(peer);
  }

  /**
   * Dials an address whose node id is not known yet, authenticates, and from then on keeps a
   * connection to that node as `connect` would. @returns the node found there.
   */
  async connectAddress(address: string, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<NodeId> {
    if (typeof address !== 'string' || address.length === 0) throw invalidArgument('address', address, 'a transport address');
    if (!this.#running) throw new ClusterluckError('NOT_RUNNING', 'kernel is not started');
    const timeoutMs = options.timeoutMs ?? dialTimeoutMsDefault;
    if (typeof timeoutMs !== 'number' || !(timeoutMs > 0)) throw invalidArgument('options.timeoutMs', timeoutMs, 'a positive number of ms');
    // The dial ends on the caller's signal or after timeoutMs, whichever comes first (a transport
    // that never answers must not hold the caller for ever); the handshake has its own timeout.
    const controller = new AbortController();
    const outer = options.signal;
    const onAbort = (): void => controller.abort(outer?.reason);
    if (outer?.aborted === true) onAbort();
    else outer?.addEventListener('abort', onAbort, { once: true });
    const timer = this.env.clock.setTimer(timeoutMs, () => controller.abort(new ClusterluckError('TIMEOUT', `dialling ${show(address)} took longer than ${timeoutMs} ms`)));
    let conn: Connection;
    try {
      conn = await this.env.transport.dial(address, { signal: controller.signal });
    } finally {
      this.env.clock.cancelTimer(timer);
      outer?.removeEventListener('abort', onAbort);
    }
    const link = this.#adopt(conn, undefined);
    const record = this.#links.get(link);
    assert(record !== undefined, 'an adopted link has its record until it closes, and it cannot close before this turn ends');
    const node = await new Promise<NodeId>((resolve, reject) => void (record.identifying = { resolve, reject }));
    this.connect(node);
    return node;
  }

  /** Closes the connections to a node and stops re-dialling; its queued calls fail. */
  disconnect(node: NodeId | string): void {
    const id = typeof node === 'string' ? node : parseNodeId(node).id;
    const peer = this.#peers.get(id);
    if (peer === undefined) return;
    this.#forget(peer, new ClusterluckError('CONNECTION_CLOSED', `disconnected from ${show(id)}`));
    for (const link of peer.links) void link.conn.close();
    if (peer.links.length === 0) this.#peers.delete(id);
  }

  /** True when an authenticated connection to the node is open. */
  isConnected(id: string): boolean {
    return (this.#peers.get(id)?.links.length ?? 0) > 0;
  }

  /**
   * The failure detector holds `id` down, or it left the view. Its calls awaiting replies fail now
   * with UNREACHABLE, and until {@link markUp} a call to it fails at once with UNREACHABLE unless a
   * connection to it is open or being dialled (then it waits for that dial only), instead of
   * waiting in the re-dial queue behind a backoff of up to 30 s. Re-dialling goes on meanwhile.
   */
  markDown(id: string): void {
    if (id === this.self.id || this.#down.has(id)) return;
    this.#down.add(id);
    const error = unreachable(id, 'the failure detector holds it down');
    this.#calls.fail(error, (p) => p.peerId === id);
  }

  /**
   * A sign of life from `id` (gossip about it, a probe ack): calls to it wait for a connection
   * again, and a re-dial waiting out its backoff happens now, the backoff reset.
   */
  markUp(id: string): void {
    this.#down.delete(id);
    const peer = this.#peers.get(id);
    if (peer === undefined) return;
    peer.failures = 0;
    if (peer.redial === undefined) return;
    this.env.clock.cancelTimer(peer.redial);
    peer.redial = undefined;
    if (this.#running && peer.wanted && peer.links.length === 0 && peer.dialing === undefined) this.#dial(peer);
  }

  /** True while {@link markDown} holds `id` down. */
  isDown(id: string): boolean {
    return this.#down.has(id);
  }

  /** Nodes with an authenticated connection open. */
  connectedNodes(): NodeId[] {
    return [...this.#peers.values()].filter((p) => p.links.length > 0).map((p) => p.node);
  }

  /** Sends `event` with `data` to an actor and resolves with its reply. */
  call(dest: Dest, event: string, data: unknown, options: CallOptions = {}): Promise<unknown> {
    try {
      const { nodeId, name, payload } = this.#prepare(dest, event, data);
      const timeoutMs = options.timeoutMs ?? Infinity;
      if (typeof timeoutMs !== 'number' || !(timeoutMs > 0)) throw invalidArgument('timeoutMs', timeoutMs, 'a positive number of ms');
      const signal = options.signal;
      if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalidArgument('signal', signal, 'an AbortSignal');
      if (signal?.aborted) return Promise.reject(signal.reason as Error);
      if (this.#calls.size >= this.#opts.pendingCallsMax) {
        throw new ClusterluckError('QUEUE_FULL', `${this.#calls.size} calls are already awaiting replies`);
      }
      const peer = nodeId === this.self.id ? undefined : this.#peerFor(dest.node);
      if (peer !== undefined && this.#cannotReach(peer)) return Promise.reject(unreachable(nodeId, 'the failure detector holds it down and no connection is open or being dialled'));
      return new Promise((resolve, reject) => {
        const tag = this.#calls.newTag();
        const item: Outbound = { kind: MessageKind.call, tag, name, payload };
        const pending = this.#calls.open(tag, {
          peerId: nodeId, timeoutMs, signal, unqueue: (peerId, queued) => this.#unqueue(peerId, queued),
          timeoutMessage: () => `call ${show(event)} to ${show(name)} on ${show(nodeId)} got no reply within ${timeoutMs} ms`,
        }, resolve, reject);
        if (peer === undefined) queueMicrotask(() => this.#deliverLocal(item));
        else this.#send(peer, item, pending);
      });
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  /** Sends `event` with `data` to an actor without waiting for anything. */
  cast(dest: Dest, event: string, data: unknown): void {
    const { nodeId, name, payload } = this.#prepare(dest, event, data);
    const item: Outbound = { kind: MessageKind.cast, tag: 0, name, payload };
    if (nodeId === this.self.id) queueMicrotask(() => this.#deliverLocal(item));
    else this.#send(this.#peerFor(dest.node), item, undefined);
  }

  /** Answers a call with `data`. Replying to a cast is counted and ignored, never a crash. */
  reply(from: From, data: unknown): void {
    let payload: Uint8Array;
    try {
      payload = encodeJson(data, 'reply');
    } catch (err) {
      return this.replyError(from, err);
    }
    if (from instanceof From && from.link !== undefined && Link.frameBytes('', payload.byteLength) > this.frameBytesMax) {
      return this.replyError(from, new ClusterluckError('MESSAGE_TOO_LARGE', `reply of ${payload.byteLength} bytes exceeds ${this.frameBytesMax}`));
    }
    this.#answer(from, MessageKind.replyOk, payload);
  }

  /** Answers a call with an error: its code and message cross the wire, never its stack. */
  replyError(from: From, error: unknown): void {
    this.#answer(from, MessageKind.replyError, utf8(JSON.stringify(toWireError(error))));
  }

  #answer(from: From, kind: MessageKind, payload: Uint8Array): void {
    if (!(from instanceof From)) throw invalidArgument('from', from, 'the From of a delivered message');
    const tag = from.tag;
    if (tag === undefined) {
      this.stats.repliesWithoutTag++;
      return;
    }
    const link = from.link;
    if (link === undefined) {
      queueMicrotask(() => this.#settleReply(tag, undefined, kind, payload));
    } else if (link.open) {
      link.send(kind, tag, '', payload);
      this.stats.framesSent++;
    } else {
      this.stats.repliesUndeliverable++;
    }
  }

  #prepare(dest: Dest, event: string, data: unknown): { nodeId: string; name: string; payload: Uint8Array } {
    if (typeof dest !== 'object' || dest === null) throw invalidArgument('dest', dest, 'a { node, name } object');
    const node: unknown = dest.node;
    const nodeId = typeof node === 'string' ? node : parseNodeId(node, 'dest.node').id;
    if (nodeId.length === 0 || nodeId.length > nodeIdLengthMax) throw invalidArgument('dest.node', node, 'a node id or NodeId');
    checkName('dest.name', dest.name);
    checkName('event', event);
    const payload = encodeJson({ event, data }, 'data');
    const bytes = Link.frameBytes(dest.name, payload.byteLength);
    if (bytes > this.frameBytesMax) {
      throw new ClusterluckError('MESSAGE_TOO_LARGE', `message of ${bytes} bytes exceeds frameBytesMax ${this.frameBytesMax}`);
    }
    if (nodeId !== this.self.id && !this.#running) throw new ClusterluckError('NOT_RUNNING', 'kernel is not started');
    return { nodeId, name: dest.name, payload };
  }

  #peerFor(node: NodeId | string): Peer {
    if (typeof node !== 'string') this.connect(node);
    const id = typeof node === 'string' ? node : node.id;
    const peer = this.#peers.get(id);
    if (peer === undefined) throw new ClusterluckError('NOT_CONNECTED', `node ${show(id)} is unknown: connect it first`);
    return peer;
  }

  /** Held down, with no connection open and none being dialled or authenticated: a call would only wait for a re-dial. */
  #cannotReach(peer: Peer): boolean {
    if (!this.#down.has(peer.node.id) || peer.links.length > 0 || peer.dialing !== undefined) return false;
    for (const r of this.#links.values()) if (r.dialFor === peer.node.id) return false;
    return true;
  }

  /** Fails the calls queued for `peer` once nothing but a re-dial could carry them and it is held down. */
  #failQueuedIfDown(peer: Peer): void {
    if (!this.#cannotReach(peer)) return;
    const error = unreachable(peer.node.id, 'the failure detector holds it down and the dial failed');
    for (const item of [...peer.queue]) if (item.kind === MessageKind.call) this.#calls.get(item.tag)?.settle(error);
  }

  #deliverLocal(item: Outbound): void {
    const actor = this.#actors.get(item.name);
    const tag = item.kind === MessageKind.call ? item.tag : undefined;
    if (actor === undefined) {
      if (tag === undefined) this.stats.castsUnrouted++;
      else this.#calls.get(tag)?.settle(noActor(item.name, this.self.id));
      return;
    }
    actor.deliver(tag === undefined ? 'cast' : 'call', new From(this.self, tag, undefined, this.env.clock.now()), item.payload);
  }

  #send(peer: Peer, item: Outbound, pending: PendingCall | undefined): void {
    const link = peer.links[0];
    if (link !== undefined && !peer.congested && peer.queue.length === 0) return this.#transmit(peer, link, item);
    if (pending !== undefined) pending.queued = item;
    peer.queue.push(item);
    if (peer.queue.length > this.#opts.sendQueueLengthMax) {
      const dropped = peer.queue.shift() as Outbound;
      this.stats.queueDropped++;
      if (dropped.kind === MessageKind.call) {
        const p = this.#calls.get(dropped.tag);
        if (p !== undefined) p.queued = undefined;
        p?.settle(new ClusterluckError('QUEUE_FULL', `send queue to ${show(peer.node.id)} is full (${this.#opts.sendQueueLengthMax}); oldest message dropped`));
      }
    }
  }

  #transmit(peer: Peer, link: Link, item: Outbound): void {
    const pending = item.kind === MessageKind.call ? this.#calls.get(item.tag) : undefined;
    if (pending !== undefined) {
      pending.link = link;
      pending.queued = undefined;
    }
    this.stats.framesSent++;
    if (!link.send(item.kind, item.tag, item.name, item.payload)) peer.congested = true;
  }

  #flush(peer: Peer): void {
    let link = peer.links[0];
    while (link !== undefined && !peer.congested && peer.queue.length > 0) {
      this.#transmit(peer, link, peer.queue.shift() as Outbound);
      link = peer.links[0];
    }
  }

  #unqueue(peerId: string, item: Outbound): void {
    const queue = this.#peers.get(peerId)?.queue;
    const at = queue?.indexOf(item) ?? -1;
    if (at >= 0) queue?.splice(at, 1);
  }

  #forget(peer: Peer, reason: Error): void {
    peer.wanted = false;
    if (peer.redial !== undefined) this.env.clock.cancelTimer(peer.redial);
    peer.redial = undefined;
    peer.dialing?.abort(reason);
    for (const item of peer.queue.splice(0)) if (item.kind === MessageKind.call) this.#calls.get(item.tag)?.settle(reason);
  }

  #dial(peer: Peer): void {
    const controller = new AbortController();
    peer.dialing = controller;
    const timer = this.env.clock.setTimer(this.#opts.dialTimeoutMs, () =>
      controller.abort(new ClusterluckError('TIMEOUT', `dial to ${peer.node.address} timed out`)));
    this.env.transport.dial(peer.node.address, { signal: controller.signal }).then(
      (conn) => {
        if (!this.#running || !peer.wanted || controller.signal.aborted) return conn.abort();
        this.#adopt(conn, peer.node.id);
      },
      (err: unknown) => {
        this.env.logger.debug('dial failed', { node: peer.node.id, error: String(err) });
        this.#scheduleRedial(peer);
      },
    ).finally(() => {
      this.env.clock.cancelTimer(timer);
      if (peer.dialing === controller) peer.dialing = undefined;
      this.#failQueuedIfDown(peer);
    });
  }

  #scheduleRedial(peer: Peer): void {
    if (!this.#running || !peer.wanted || peer.redial !== undefined || peer.links.length > 0) return;
    const base = Math.min(reconnectDelayMsMax, reconnectDelayMsMin * 2 ** Math.min(peer.failures, 20));
    peer.failures++;
    const delay = base / 2 + (this.env.random.next() * base) / 2;
    peer.redial = this.env.clock.setTimer(delay, () => {
      peer.redial = undefined;
      if (this.#running && peer.wanted && peer.links.length === 0 && peer.dialing === undefined) this.#dial(peer);
    });
  }

  #adopt(conn: Connection, dialFor: string | undefined): Link {
    const signer = this.#signer;
    assert(signer !== undefined, 'links are made only once the kernel has started');
    const link = new Link(conn, {
      self: this.self, signer, nonce: this.env.random.bytes(nonceBytes), clock: this.env.clock,
      frameBytesMax: this.frameBytesMax, handshakeTimeoutMs: this.#opts.handshakeTimeoutMs, idLengthMax: nodeIdLengthMax,
      checkCodecs: this.checkCodecs,
    }, this.#handlers);
    this.#links.set(link, { dialFor, identifying: undefined });
    return link;
  }

  readonly #handlers: LinkHandlers = {
    ready: (link) => this.#linkReady(link),
    message: (link, message) => this.#receive(link, message),
    closed: (link, error) => this.#linkClosed(link, error),
    drop: (reason) => {
      this.stats.dropped[reason]++;
    },
    drain: (link) => {
      const peer = link.peer === undefined ? undefined : this.#peers.get(link.peer.id);
      if (peer?.links[0] !== link) return;
      peer.congested = false;
      this.#flush(peer);
    },
  };

  #linkReady(link: Link): void {
    const hello = link.peer;
    assert(hello !== undefined, 'a ready link has a peer');
    const record = this.#links.get(link);
    const expected = record?.dialFor;
    if (!this.#running || hello.id === this.self.id || (expected !== undefined && expected !== hello.id)) {
      this.env.logger.warn('refusing connection', { peer: hello.id, expected, address: link.conn.remoteAddress });
      return link.conn.abort(new ClusterluckError('CONNECTION_REFUSED', `expected ${show(expected)}, reached ${show(hello.id)}`));
    }
    let peer = this.#peers.get(hello.id);
    if (peer === undefined) {
      peer = { node: { id: hello.id, address: hello.address }, wanted: false, links: [], queue: [], congested: false, failures: 0, redial: undefined, dialing: undefined };
      this.#peers.set(hello.id, peer);
    }
    if (!link.conn.outbound && peer.node.address !== hello.address) peer.node = Object.freeze({ id: hello.id, address: hello.address });
    peer.links.push(link);
    peer.failures = 0;
    if (peer.links.length === 1) {
      peer.congested = false;
      this.emit('connect', peer.node);
      this.#flush(peer);
    }
    record?.identifying?.resolve(peer.node);
    if (record !== undefined) record.identifying = undefined;
  }

  #receive(link: Link, message: Message): void {
    this.stats.messagesReceived++;
    const peerId = (link.peer as NonNullable<Link['peer']>).id;
    switch (message.kind) {
      case MessageKind.call:
      case MessageKind.cast: {
        const node = this.#peers.get(peerId)?.node ?? { id: peerId, address: link.conn.remoteAddress };
        const tag = message.kind === MessageKind.call ? message.tag : undefined;
        const from = new From(node, tag, link, this.env.clock.now());
        const actor = this.#actors.get(message.name);
        if (actor !== undefined) actor.deliver(tag === undefined ? 'cast' : 'call', from, message.payload);
        else if (tag === undefined) this.stats.castsUnrouted++;
        else this.replyError(from, noActor(message.name, this.self.id));
        return;
      }
      case MessageKind.replyOk:
      case MessageKind.replyError:
        return this.#settleReply(message.tag, link, message.kind, message.payload);
      default:
        this.stats.dropped.unexpected++;
    }
  }

  #settleReply(tag: number, link: Link | undefined, kind: MessageKind, payload: Uint8Array): void {
    if (!this.#calls.settleReply(tag, link, kind, payload)) this.stats.repliesUnmatched++;
  }

  #linkClosed(link: Link, error: Error | undefined): void {
    const record = this.#links.get(link);
    this.#links.delete(link);
    record?.identifying?.reject(new ClusterluckError('CONNECTION_CLOSED',
      `connection to ${link.conn.remoteAddress} closed before it authenticated (is the cookie right?)`, error === undefined ? undefined : { cause: error }));
    const id = record?.dialFor ?? link.peer?.id;
    const peer = id === undefined ? undefined : this.#peers.get(id);
    const closed = new ClusterluckError('CONNECTION_CLOSED', `connection to ${show(id ?? link.conn.remoteAddress)} closed before the reply`, error === undefined ? undefined : { cause: error });
    this.#calls.fail(closed, (p) => p.link === link);
    if (peer === undefined) return;
    const at = peer.links.indexOf(link);
    if (at < 0) {
      this.#scheduleRedial(peer);
      return this.#failQueuedIfDown(peer);
    }
    peer.links.splice(at, 1);
    if (at === 0) peer.congested = false;
    if (peer.links.length > 0) return this.#flush(peer);
    this.emit('disconnect', peer.node);
    if (peer.wanted && this.#running) {
      this.#scheduleRedial(peer);
      return this.#failQueuedIfDown(peer);
    }
    this.#forget(peer, closed);
    this.#peers.delete(peer.node.id);
  }
}

function noActor(name: string, nodeId: string): ClusterluckError {
  return new ClusterluckError('NO_SUCH_ACTOR', `no actor named ${show(name)} on node ${show(nodeId)}`);
}

function unreachable(nodeId: string, why: string): ClusterluckError {
  return new ClusterluckError('UNREACHABLE', `node ${show(nodeId)} is unreachable: ${why}`);
}

function checkName(field: string, value: unknown): void {
  if (typeof value !== 'string' || value.length === 0 || value.length > actorNameLengthMax) {
    throw invalidArgument(field, value, `a non-empty string of at most ${actorNameLengthMax} chars`);
  }
}

/** UTF-8 JSON of a value; INVALID_ARGUMENT naming `field` when it cannot be serialised. */
export function encodeJson(value: unknown, field: string): Uint8Array {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    throw invalidArgument(field, value, `JSON-serialisable (${err instanceof Error ? err.message : 'unknown'})`);
  }
  return text === undefined ? new Uint8Array(0) : utf8(text);
}

/** A random actor name. */
export function randomName(random: NetKernelOptions['env']['random']): string {
  return toHex(random.bytes(8));
}
