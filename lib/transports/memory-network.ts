import { frameBytesMaxDefault, nodeIdLengthMax } from '../constants.js';
import { checkInteger } from '../env/check.js';
import { ClusterluckError, invalidArgument, show } from '../env/errors.js';
import { TypedEventTarget } from '../env/events.js';
import {
  checkSend, type Address, type CloseDetail, type Connection, type ConnectionEvents, type ConnectionStatus, type DialOptions, type Listener,
  type ListenerEvents, type Transport,
} from '../env/transport.js';

/** Default `highWaterMarkBytes` of a {@link MemoryNetwork}: 64 KiB per connection and direction. */
export const memoryHighWaterMarkBytesDefault = 64 * 1024;

/**
 * Microtask turns between `dial` resolving and the dialer's side receiving anything, so that the
 * code awaiting `dial` (even through a few async wrappers) attaches its listeners first.
 */
const dialerAdmitTurns = 16;

/** Options of a {@link MemoryNetwork}. */
export interface MemoryNetworkOptions {
  /** Largest frame `send` accepts. @default frameBytesMaxDefault (1 MiB) */
  readonly frameBytesMax?: number;
  /** `send` returns false once this many bytes wait for delivery on one side. @default 65536 */
  readonly highWaterMarkBytes?: number;
  /** Prefix of connection ids, to tell networks apart in logs. @default 'memory' */
  readonly name?: string;
}

interface Limits {
  readonly frameBytesMax: number;
  readonly highWaterMarkBytes: number;
}

/** Both ends of one connection and what they share. */
interface Pair {
  readonly client: MemoryConnection;
  readonly server: MemoryConnection;
  /** A graceful close reached the other side: flush what is left, then end. */
  closing: boolean;
  ended: boolean;
  readonly forget: (pair: Pair) => void;
}

/**
 * An in-process network: every {@link Transport} made by one network reaches the listeners of the
 * same network and no other. Delivery is asynchronous (microtasks), ordered and lossless.
 */
export class MemoryNetwork {
  /** The largest frame `send` accepts on this network. */
  readonly frameBytesMax: number;
  /** Bytes one side may buffer before `send` returns false. */
  readonly highWaterMarkBytes: number;
  readonly #name: string;
  readonly #listeners = new Map<Address, MemoryListener>();
  readonly #pairs = new Set<Pair>();
  #lastId = 0;

  constructor(options: MemoryNetworkOptions = {}) {
    this.frameBytesMax = checkInteger('options.frameBytesMax', options.frameBytesMax ?? frameBytesMaxDefault, 1);
    this.highWaterMarkBytes = checkInteger('options.highWaterMarkBytes', options.highWaterMarkBytes ?? memoryHighWaterMarkBytesDefault, 1);
    const name = options.name ?? 'memory';
    if (typeof name !== 'string' || name === '') throw invalidArgument('options.name', name, 'a non-empty string');
    this.#name = name;
  }

  /** A new endpoint (one per node) on this network. */
  transport(): Transport {
    const own: MemoryListener[] = [];
    return {
      name: 'memory',
      frameBytesMax: this.frameBytesMax,
      listen: async (address) => this.#listen(address, own),
      dial: (address, options) => {
        const dialing = this.#dial(address, options, own);
        dialing.then((conn) => conn.admitAfter(dialerAdmitTurns), () => undefined);
        return dialing;
      },
    };
  }

  /** Connections (counted once per pair of ends) not yet closed. */
  connectionCount(): number {
    return this.#pairs.size;
  }

  /** Severs every connection to or from `address`: both ends see `close` with CONNECTION_CLOSED. */
  disconnectAddress(address: Address): number {
    let count = 0;
    for (const pair of [...this.#pairs]) {
      if (pair.client.localAddress !== address && pair.client.remoteAddress !== address) continue;
      const severed = (): ClusterluckError =>
        new ClusterluckError('CONNECTION_CLOSED', `connection severed: network disconnected ${show(address)}`);
      endPair(pair, { error: severed() }, { error: severed() });
      count++;
    }
    return count;
  }

  #listen(address: Address, own: MemoryListener[]): Listener {
    checkAddress(address);
    if (this.#listeners.has(address)) {
      throw new ClusterluckError('ADDRESS_IN_USE', `address ${show(address)} is already listened on`);
    }
    const listener = new MemoryListener(address, () => {
      if (this.#listeners.get(address) === listener) this.#listeners.delete(address);
      own.splice(own.indexOf(listener), 1);
    });
    this.#listeners.set(address, listener);
    own.push(listener);
    return listener;
  }

  async #dial(address: Address, options: DialOptions, own: readonly MemoryListener[]): Promise<MemoryConnection> {
    const signal = (options as Partial<DialOptions> | undefined)?.signal;
    if (!(signal instanceof AbortSignal)) throw invalidArgument('options.signal', signal, 'an AbortSignal');
    signal.throwIfAborted();
    checkAddress(address);
    // Never connect synchronously: the caller may still abort after `dial` returned.
    await Promise.resolve();
    signal.throwIfAborted();
    const listener = this.#listeners.get(address);
    if (listener === undefined) throw new ClusterluckError('CONNECTION_REFUSED', `nobody listens on ${show(address)}`);
    const local = own[0]?.address ?? `~${this.#lastId + 1}`;
    const pair = this.#connect(local, address);
    listener.emit('connection', pair.server);
    if (signal.aborted) {
      endPair(pair, {}, { error: new ClusterluckError('CONNECTION_CLOSED', 'the dialer gave up') });
      throw signal.reason;
    }
    return pair.client;
  }

  #connect(local: Address, remote: Address): Pair {
    const limits: Limits = { frameBytesMax: this.frameBytesMax, highWaterMarkBytes: this.highWaterMarkBytes };
    const client = new MemoryConnection(`${this.#name}:${++this.#lastId}`, local, remote, true, limits);
    const server = new MemoryConnection(`${this.#name}:${++this.#lastId}`, remote, local, false, limits);
    const pair: Pair = { client, server, closing: false, ended: false, forget: (p) => this.#pairs.delete(p) };
    client.pair = pair;
    server.pair = pair;
    this.#pairs.add(pair);
    return pair;
  }
}

/** Accepts connections on one address of a {@link MemoryNetwork}. */
class MemoryListener extends TypedEventTarget<ListenerEvents> implements Listener {
  readonly address: Address;
  readonly #onClose: () => void;
  #closed = false;

  constructor(address: Address, onClose: () => void) {
    super();
    this.address = address;
    this.#onClose = onClose;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#onClose();
    this.emit('close');
  }
}

/** One end of a {@link Pair}. Frames wait in the sender's outbox until delivered. */
class MemoryConnection extends TypedEventTarget<ConnectionEvents> implements Connection {
  readonly id: string;
  readonly localAddress: Address;
  readonly remoteAddress: Address;
  readonly outbound: boolean;
  /** Set once by the network right after construction. */
  pair!: Pair;
  readonly #limits: Limits;
  #status: ConnectionStatus = 'open';
  #bufferedBytes = 0;
  #outbox: Uint8Array[] = [];
  #outboxHead = 0;
  #flushQueued = false;
  #drainOwed = false;
  /** The dialer's end holds inbound events until its owner has had the chance to listen. */
  #admitted: boolean;
  #closeCalled = false;
  #closeDetail: CloseDetail | undefined;
  #closeDispatched = false;
  readonly #closed: Promise<void>;
  #resolveClosed!: () => void;

  constructor(id: string, local: Address, remote: Address, outbound: boolean, limits: Limits) {
    super();
    this.id = id;
    this.localAddress = local;
    this.remoteAddress = remote;
    this.outbound = outbound;
    this.#limits = limits;
    this.#admitted = !outbound;
    this.#closed = new Promise((resolve) => (this.#resolveClosed = resolve));
  }

  get status(): ConnectionStatus {
    return this.#status;
  }

  get bufferedBytes(): number {
    return this.#bufferedBytes;
  }

  send(frame: Uint8Array): boolean {
    checkSend(this.id, this.#status, frame, this.#limits.frameBytesMax);
    // A copy, as a plain Uint8Array: the caller may reuse its buffer (a Node Buffer's slice would not copy).
    const copy = new Uint8Array(frame);
    this.#outbox.push(copy);
    this.#bufferedBytes += copy.byteLength;
    this.#scheduleFlush();
    if (this.#bufferedBytes < this.#limits.highWaterMarkBytes) return true;
    this.#drainOwed = true;
    return false;
  }

  close(): Promise<void> {
    if (this.#status === 'open') {
      this.#status = 'closing';
      this.#closeCalled = true;
      this.#scheduleFlush();
    }
    return this.#closed;
  }

  abort(error?: Error): void {
    if (this.pair.ended) return;
    const local = { error: error ?? new ClusterluckError('ABORTED', `connection ${this.id} was aborted`) };
    const remote = { error: new ClusterluckError('CONNECTION_CLOSED', `connection ${this.id} was aborted by the peer`) };
    if (this.outbound) endPair(this.pair, local, remote);
    else endPair(this.pair, remote, local);
  }

  /** Internal: lets inbound events through once `turns` microtask turns have passed. */
  async admitAfter(turns: number): Promise<void> {
    for (let i = 0; i < turns; i++) await Promise.resolve();
    this.#admitted = true;
    this.#peer().#scheduleFlush();
    this.#dispatchClose();
  }

  /** Internal: ends this side now; `detail` is what its `close` event will carry. */
  end(detail: CloseDetail): void {
    this.#status = 'closed';
    this.#outbox = [];
    this.#outboxHead = 0;
    this.#bufferedBytes = 0;
    this.#drainOwed = false;
    this.#closeDetail = detail;
    this.#dispatchClose();
  }

  #peer(): MemoryConnection {
    return this.pair.client === this ? this.pair.server : this.pair.client;
  }

  #scheduleFlush(): void {
    if (this.#flushQueued) return;
    this.#flushQueued = true;
    queueMicrotask(() => {
      this.#flushQueued = false;
      this.#flush();
    });
  }

  /** Delivers the frames queued when it starts (later ones go in a later batch), then settles close. */
  #flush(): void {
    const peer = this.#peer();
    if (this.pair.ended || !peer.#admitted) return;
    const end = this.#outbox.length;
    while (this.#outboxHead < end && !this.pair.ended) {
      const frame = this.#outbox[this.#outboxHead] as Uint8Array;
      this.#outbox[this.#outboxHead++] = empty;
      this.#bufferedBytes -= frame.byteLength;
      peer.emit('message', frame);
    }
    if (this.pair.ended) return;
    this.#compact();
    if (this.#drainOwed && this.#bufferedBytes < this.#limits.highWaterMarkBytes) {
      this.#drainOwed = false;
      if (this.#status === 'open') this.emit('drain');
      if (this.pair.ended) return;
    }
    if (this.#outboxHead < this.#outbox.length) return this.#scheduleFlush();
    if (this.#closeCalled && !this.pair.closing) {
      // Our close marker has reached the peer: it may send no more, and flushes what it has.
      this.pair.closing = true;
      if (peer.#status === 'open') peer.#status = 'closing';
      peer.#scheduleFlush();
    }
    if (this.pair.closing && peer.#outboxHead === peer.#outbox.length) endPair(this.pair, {}, {});
  }

  #compact(): void {
    if (this.#outboxHead === this.#outbox.length) {
      this.#outbox = [];
      this.#outboxHead = 0;
    } else if (this.#outboxHead > 1024 && this.#outboxHead * 2 > this.#outbox.length) {
      this.#outbox = this.#outbox.slice(this.#outboxHead);
      this.#outboxHead = 0;
    }
  }

  #dispatchClose(): void {
    if (this.#closeDetail === undefined || !this.#admitted || this.#closeDispatched) return;
    this.#closeDispatched = true;
    const detail = this.#closeDetail;
    queueMicrotask(() => {
      this.emit('close', detail);
      this.#resolveClosed();
    });
  }
}

const empty = new Uint8Array(0);

/** Ends both sides of a pair once; each `close` event is dispatched asynchronously, exactly once. */
function endPair(pair: Pair, client: CloseDetail, server: CloseDetail): void {
  if (pair.ended) return;
  pair.ended = true;
  pair.forget(pair);
  pair.client.end(client);
  pair.server.end(server);
}

function checkAddress(address: unknown): asserts address is Address {
  if (typeof address !== 'string' || address === '' || address.length > nodeIdLengthMax) {
    throw invalidArgument('address', address, `a non-empty string of at most ${nodeIdLengthMax} characters`);
  }
}

