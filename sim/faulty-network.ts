// A transport wrapper for the simulator and gossip tests: partitions (dials across groups are refused and open
// connections across them are cut) and per-node delivery delay (a slow node), on virtual time.
import type { Clock } from '../lib/env/clock.js';
import { ClusterluckError } from '../lib/env/errors.js';
import { TypedEventTarget } from '../lib/env/events.js';
import type {
  Address, Connection, ConnectionEvents, ConnectionStatus, DialOptions, Listener, ListenerEvents, Transport,
} from '../lib/env/transport.js';

/** Controls every transport it wrapped: who may talk to whom, and how slowly. */
export class FaultyNetwork {
  readonly #clock: Clock;
  readonly #open = new Set<FaultyConnection>();
  readonly #delayMs = new Map<Address, number>();
  #group = new Map<Address, number>();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Wraps the transport of the node at `address`. */
  wrap(address: Address, inner: Transport): Transport {
    return {
      name: `faulty-${inner.name}`,
      frameBytesMax: inner.frameBytesMax,
      listen: async (at) => {
        const listener = await inner.listen(at);
        const outer = new FaultyListener(listener);
        listener.addEventListener('connection', (e) => {
          const conn = e.detail;
          if (!this.allowed(address, conn.remoteAddress)) return conn.abort(refused(conn.remoteAddress, address));
          outer.emit('connection', this.#track(new FaultyConnection(conn, address, this)));
        });
        listener.addEventListener('close', () => outer.emit('close'));
        return outer;
      },
      dial: async (to: Address, options: DialOptions) => {
        if (!this.allowed(address, to)) {
          await Promise.resolve();
          throw refused(address, to);
        }
        return this.#track(new FaultyConnection(await inner.dial(to, options), address, this));
      },
    };
  }

  /** Splits the nodes into groups that cannot reach each other; unlisted nodes reach everyone. */
  partition(groups: readonly (readonly Address[])[]): void {
    this.#group = new Map(groups.flatMap((g, i) => g.map((a) => [a, i] as const)));
    for (const c of [...this.#open]) {
      if (!this.allowed(c.localAddress, c.remoteAddress)) c.abort(new ClusterluckError('CONNECTION_CLOSED', 'partitioned'));
    }
  }

  /** Ends every partition. */
  heal(): void {
    this.#group = new Map();
  }

  /** Delays every frame to or from `address` by `ms` (so a round trip takes 2 × ms). */
  delay(address: Address, ms: number): void {
    this.#delayMs.set(address, ms);
  }

  /** True when `a` and `b` are on the same side of the partition. */
  allowed(a: Address, b: Address): boolean {
    const ga = this.#group.get(a);
    const gb = this.#group.get(b);
    return ga === undefined || gb === undefined || ga === gb;
  }

  /** @internal Delay applying to a frame between these two addresses. */
  delayOf(a: Address, b: Address): number {
    return Math.max(this.#delayMs.get(a) ?? 0, this.#delayMs.get(b) ?? 0);
  }

  /** @internal */
  get clock(): Clock {
    return this.#clock;
  }

  /** @internal */
  forget(c: FaultyConnection): void {
    this.#open.delete(c);
  }

  #track(c: FaultyConnection): FaultyConnection {
    this.#open.add(c);
    return c;
  }
}

function refused(from: Address, to: Address): ClusterluckError {
  return new ClusterluckError('CONNECTION_REFUSED', `partition: ${from} cannot reach ${to}`);
}

/** Passes on the inner listener's connections that the partition allows. */
class FaultyListener extends TypedEventTarget<ListenerEvents> implements Listener {
  readonly #inner: Listener;
  constructor(inner: Listener) {
    super();
    this.#inner = inner;
  }
  get address(): Address { return this.#inner.address; }
  close(): Promise<void> { return this.#inner.close(); }
}

/** A connection whose inbound frames (and close) arrive `delay` ms late, in order. */
class FaultyConnection extends TypedEventTarget<ConnectionEvents> implements Connection {
  readonly #inner: Connection;
  readonly #net: FaultyNetwork;
  readonly localAddress: Address;

  constructor(inner: Connection, local: Address, net: FaultyNetwork) {
    super();
    this.#inner = inner;
    this.#net = net;
    this.localAddress = local;
    const later = (fn: () => void): void => {
      const ms = net.delayOf(local, inner.remoteAddress);
      if (ms > 0) net.clock.setTimer(ms, fn);
      else fn();
    };
    inner.addEventListener('message', (e) => later(() => this.emit('message', e.detail)));
    inner.addEventListener('drain', () => this.emit('drain'));
    inner.addEventListener('close', (e) => later(() => {
      net.forget(this);
      this.emit('close', e.detail);
    }));
  }

  get id(): string { return this.#inner.id; }
  get remoteAddress(): Address { return this.#inner.remoteAddress; }
  get outbound(): boolean { return this.#inner.outbound; }
  get status(): ConnectionStatus { return this.#inner.status; }
  get bufferedBytes(): number { return this.#inner.bufferedBytes; }
  send(frame: Uint8Array): boolean {
    if (!this.#net.allowed(this.localAddress, this.remoteAddress)) return true; // dropped on the floor
    return this.#inner.send(frame);
  }
  close(): Promise<void> { return this.#inner.close(); }
  abort(error?: Error): void { this.#inner.abort(error); }
}
