import { frameBytesMaxDefault, nodeIdLengthMax } from '../constants.js';
import { checkInteger } from '../env/check.js';
import { ClusterluckError, invalidArgument, show } from '../env/errors.js';
import { TypedEventTarget } from '../env/events.js';
import type { Address, DialOptions, Listener, ListenerEvents, Transport } from '../env/transport.js';
import { endPair, MemoryConnection, type Limits, type Pair } from './memory-connection.js';

/** Default `highWaterMarkBytes` of a {@link MemoryNetwork}: 64 KiB per connection and direction. */
export const memoryHighWaterMarkBytesDefault = 64 * 1024;

/** Options of a {@link MemoryNetwork}. */
export interface MemoryNetworkOptions {
  /** Largest frame `send` accepts. @default frameBytesMaxDefault (1 MiB) */
  readonly frameBytesMax?: number;
  /** `send` returns false once this many bytes wait for delivery on one side. @default 65536 */
  readonly highWaterMarkBytes?: number;
  /** Prefix of connection ids, to tell networks apart in logs. @default 'memory' */
  readonly name?: string;
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
      dial: (address, options) => this.#dial(address, options, own),
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

function checkAddress(address: unknown): asserts address is Address {
  if (typeof address !== 'string' || address === '' || address.length > nodeIdLengthMax) {
    throw invalidArgument('address', address, `a non-empty string of at most ${nodeIdLengthMax} characters`);
  }
}

