// The kernel's routing: start/stop, actors, connect, call/cast/reply, and the link events that feed
// them. Over 300 lines on purpose: the public surface and the link handlers share the link records
// and are the two halves of one message's path; the parts with a concept of their own are in
// peers.ts (links per node, send queues, re-dials), call-table.ts (calls awaiting replies),
// link.ts (handshake, signed frames), frame.ts and message.ts (codecs), kernel-options.ts.
import { actorNameLengthMax, dialTimeoutMsDefault, nodeIdLengthMax } from '../constants.js';
import type { NodeId } from '../core/node-id.js';
import { parseNodeId } from '../core/node-id.js';
import { assert } from '../env/assert.js';
import { toHex, utf8Transient } from '../env/bytes.js';
import { ClusterluckError, invalidArgument, show, stacklessError, toWireError } from '../env/errors.js';
import { TypedEventTarget } from '../env/events.js';
import type { Connection, Listener } from '../env/transport.js';
import { From, type Actor, type CallOptions, type Dest } from './actor.js';
import type { HmacFactory } from '../env/crypto.js';
import { cookieKey, cookieKeyNow, cookieLengthMin } from './cookie-key.js';
import { FrameSigner, nonceBytes } from './frame.js';
import { Link, type LinkHandlers } from './link.js';
import { MessageKind, type Message } from './message.js';
import { CallTable, type Outbound } from './call-table.js';
import { Peers, unreachable, type Peer } from './peers.js';
import { resolveKernelOptions, type KernelStats, type NetKernelEvents, type NetKernelOptions, type ResolvedKernelOptions } from './kernel-options.js';

export type { KernelStats, NetKernelEvents, NetKernelOptions } from './kernel-options.js';

/** What the kernel keeps of one link (one record, not a map per field). */
interface LinkRecord {
  /** The node this link was dialled for (its hello must name it), when the kernel dialled it for one. */
  readonly dialFor: string | undefined;
  /** `connectAddress` waiting to learn who answered. */
  identifying: { resolve(node: NodeId): void; reject(error: Error): void } | undefined;
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
  readonly #opts: ResolvedKernelOptions;
  /** Made in `start()` from the cookie's derived key. */
  #signer: FrameSigner | undefined;
  readonly #cookie: string;
  readonly #hmac: HmacFactory | undefined;
  /** True when the cookie is shorter than {@link cookieLengthMin} characters (logged once as a warning). */
  readonly shortCookie: boolean;
  readonly #actors = new Map<string, Actor>();
  readonly #peers: Peers;
  /** Every link, with what the kernel knows of it. */
  readonly #links = new Map<Link, LinkRecord>();
  readonly #calls: CallTable;
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
    const calls = (this.#calls = new CallTable(o.env.clock, (peerId, queued) => this.#peers.unqueue(peerId, queued)));
    const r = resolveKernelOptions({ ...o, env: o.env });
    this.frameBytesMax = r.frameBytesMax;
    this.#opts = r;
    this.checkCodecs = r.checkCodecs;
    this.#peers = new Peers({
      env: o.env, stats: this.stats, calls, sendQueueLengthMax: this.#opts.sendQueueLengthMax, dialTimeoutMs: this.#opts.dialTimeoutMs,
      running: () => this.#running,
      adopt: (conn, dialFor) => void this.#adopt(conn, dialFor),
      hasDialledLink: (id) => {
        for (const r of this.#links.values()) if (r.dialFor === id) return true;
        return false;
      },
      emit: (type, node) => this.emit(type, node),
    });
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
    this.#peers.dialWanted();
  }

  /** Closes every connection and the listener; pending calls fail with NOT_RUNNING. */
  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    const closing = [...this.#links.keys()].map((link) => link.conn.close());
    this.#peers.forgetAll(new ClusterluckError('NOT_RUNNING', 'kernel stopped'));
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
    if (target.id !== this.self.id) this.#peers.connect(target);
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
    this.#peers.disconnect(typeof node === 'string' ? node : parseNodeId(node).id);
  }

  /** True when an authenticated connection to the node is open. */
  isConnected(id: string): boolean {
    return this.#peers.isConnected(id);
  }

  /**
   * The failure detector holds `id` down, or it left the view. Its calls awaiting replies fail now
   * with UNREACHABLE, and until {@link markUp} a call to it fails at once with UNREACHABLE unless a
   * connection to it is open or being dialled (then it waits for that dial only), instead of
   * waiting in the re-dial queue behind a backoff of up to 30 s. Re-dialling goes on meanwhile.
   */
  markDown(id: string): void {
    if (id === this.self.id || !this.#peers.markDown(id)) return;
    const error = unreachable(id, 'the failure detector holds it down');
    this.#calls.fail(error, (p) => p.peerId === id);
  }

  /**
   * A sign of life from `id` (gossip about it, a probe ack): calls to it wait for a connection
   * again, and a re-dial waiting out its backoff happens now, the backoff reset.
   */
  markUp(id: string): void {
    this.#peers.markUp(id);
  }

  /** True while {@link markDown} holds `id` down. */
  isDown(id: string): boolean {
    return this.#peers.isDown(id);
  }

  /** Nodes with an authenticated connection open. */
  connectedNodes(): NodeId[] {
    return this.#peers.connectedNodes();
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
      if (peer !== undefined && this.#peers.cannotReach(peer)) return Promise.reject(unreachable(nodeId, 'the failure detector holds it down and no connection is open or being dialled'));
      return new Promise((resolve, reject) => {
        const tag = this.#calls.newTag();
        const item: Outbound = { kind: MessageKind.call, tag, name, payload };
        const pending = this.#calls.open(tag, { peerId: nodeId, timeoutMs, signal, event, name }, resolve, reject);
        if (peer === undefined) queueMicrotask(() => this.#deliverLocal(item));
        else this.#peers.send(peer, item, pending);
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
    else this.#peers.send(this.#peerFor(dest.node), item, undefined);
  }

  /**
   * Answers a call with `data`. Replying to a cast is counted and ignored, never a crash. `now`:
   * the answer leaves at once instead of with the frames sent after it before the flush (see
   * Connection.flushNow), for an answer that ends a wait rather than a request being served.
   */
  reply(from: From, data: unknown, now = false): void {
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
    if (now) from.link?.flushNow();
  }

  /** Answers a call with an error: its code and message cross the wire, never its stack. */
  replyError(from: From, error: unknown): void {
    this.#answer(from, MessageKind.replyError, utf8Transient(JSON.stringify(toWireError(error))));
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
    drain: (link) => this.#peers.drain(link),
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
    const node = this.#peers.linkUp(link, hello);
    record?.identifying?.resolve(node);
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
    const closed = stacklessError('CONNECTION_CLOSED', `connection to ${show(id ?? link.conn.remoteAddress)} closed before the reply`, error === undefined ? undefined : { cause: error });
    this.#calls.fail(closed, (p) => p.link === link);
    if (id !== undefined) this.#peers.linkDown(link, id, closed);
  }
}

function noActor(name: string, nodeId: string): ClusterluckError {
  return new ClusterluckError('NO_SUCH_ACTOR', `no actor named ${show(name)} on node ${show(nodeId)}`);
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
  // Short-lived: the payload is copied into its frame (a send queue keeps a copy of its own, see Peers.send).
  return text === undefined ? new Uint8Array(0) : utf8Transient(text);
}

/** A random actor name. */
export function randomName(random: NetKernelOptions['env']['random']): string {
  return toHex(random.bytes(8));
}
