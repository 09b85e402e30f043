// A dial on the simulated network, as TCP does it: a SYN takes the link's latency there, a SYN-ACK
// (or, with nobody listening, an RST) takes it back, so a dial costs one round trip. A SYN that
// meets a partition is lost and sent again after 1, 2, 4, … s until the connect timeout.
import type { TimerHandle } from '../../lib/env/clock.js';
import { ClusterluckError, stacklessError } from '../../lib/env/errors.js';
import type { Address } from '../../lib/env/transport.js';
import type { PairContext, SimConnection, SimPair } from './sim-connection.js';
import { drawLatencyMs } from './sim-link.js';

/** First SYN retransmission delay (Linux's initial RTO); it doubles after each loss. */
export const simSynRetryMsMin = 1000;

/**
 * Microtask turns between `dial` resolving and the dialer's side receiving anything, so that the
 * code awaiting `dial` (even through a few async wrappers) attaches its listeners first.
 */
const dialerAdmitTurns = 16;

/** Where a dial can land. */
export interface DialTarget {
  /** Hands the listener its side of a new connection (fires its `connection` event). */
  accept(conn: SimConnection): void;
}

/** What a dial needs from its network. */
export interface DialContext extends PairContext {
  readonly connectTimeoutMs: number;
  listenerAt(address: Address): DialTarget | undefined;
  newPair(client: Address, server: Address): SimPair;
}

/** Dials `remote` from `local`; rejects CONNECTION_REFUSED, TIMEOUT, or `signal.reason`. */
export function simDial(ctx: DialContext, local: Address, remote: Address, signal: AbortSignal): Promise<SimConnection> {
  return new Promise((resolve, reject) => new Dial(ctx, local, remote, signal, resolve, reject).start());
}

/** One dial in progress: its SYN retransmissions, its deadline and its half-made pair. */
class Dial {
  readonly #ctx: DialContext;
  readonly #local: Address;
  readonly #remote: Address;
  readonly #signal: AbortSignal;
  readonly #resolve: (conn: SimConnection) => void;
  readonly #reject: (error: unknown) => void;
  /** Every timer of this dial, cancelled together when it settles. */
  readonly #timers = new Set<TimerHandle>();
  #retry: TimerHandle | undefined;
  #rtoMs = simSynRetryMsMin;
  /** The pair made when a SYN reached the listener, until the SYN-ACK comes back. */
  #pair: SimPair | undefined;
  #refused = false;
  #done = false;
  readonly #onAbort = (): void => this.#giveUp(this.#signal.reason, 'aborted');

  constructor(ctx: DialContext, local: Address, remote: Address, signal: AbortSignal,
    resolve: (conn: SimConnection) => void, reject: (error: unknown) => void) {
    this.#ctx = ctx;
    this.#local = local;
    this.#remote = remote;
    this.#signal = signal;
    this.#resolve = resolve;
    this.#reject = reject;
  }

  start(): void {
    const ctx = this.#ctx;
    this.#signal.addEventListener('abort', this.#onAbort, { once: true });
    this.#after(ctx.connectTimeoutMs, () => this.#giveUp(stacklessError('TIMEOUT',
      `dial from ${JSON.stringify(this.#local)} to ${JSON.stringify(this.#remote)} got no answer within ${ctx.connectTimeoutMs} ms`),
    'timed out'));
    ctx.trace({ kind: 'dial', from: this.#local, to: this.#remote });
    this.#sendSyn();
  }

  #after(ms: number, fn: () => void): TimerHandle {
    const handle = this.#ctx.clock.setTimer(ms, () => {
      this.#timers.delete(handle);
      fn();
    });
    this.#timers.add(handle);
    return handle;
  }

  /** Ms until a packet sent now from `from` reaches `to`, clogs included. */
  #travelMs(from: Address, to: Address): number {
    const { clock, faults, random } = this.#ctx;
    return faults.clearAt(from, to, clock.now()) - clock.now() + drawLatencyMs(random, faults.link(from, to));
  }

  #sendSyn(): void {
    this.#retry = this.#after(this.#rtoMs, () => this.#sendSyn());
    this.#rtoMs *= 2;
    if (this.#ctx.faults.blocked(this.#local, this.#remote)) return this.#lost();
    this.#after(this.#travelMs(this.#local, this.#remote), () => this.#synArrives());
  }

  #lost(): void {
    this.#ctx.trace({ kind: 'syn-lost', from: this.#local, to: this.#remote });
  }

  #synArrives(): void {
    const ctx = this.#ctx;
    if (this.#done || this.#pair !== undefined || this.#refused) return;
    // The SYN-ACK (or RST) must make it back too: either direction held loses this attempt.
    if (ctx.faults.blocked(this.#local, this.#remote) || ctx.faults.blocked(this.#remote, this.#local)) return this.#lost();
    if (this.#retry !== undefined) {
      ctx.clock.cancelTimer(this.#retry);
      this.#timers.delete(this.#retry);
      this.#retry = undefined;
    }
    const listener = ctx.listenerAt(this.#remote);
    if (listener === undefined) {
      this.#refused = true;
      const error = stacklessError('CONNECTION_REFUSED', `nobody listens on ${JSON.stringify(this.#remote)}`);
      this.#after(this.#travelMs(this.#remote, this.#local), () => this.#settle(undefined, error, 'refused'));
      return;
    }
    const pair = ctx.newPair(this.#local, this.#remote);
    this.#pair = pair;
    pair.handshake = {
      resolve: (conn) => {
        this.#pair = undefined;
        this.#settle(conn);
      },
      reject: (error) => {
        this.#pair = undefined;
        this.#settle(undefined, error, error.message);
      },
    };
    // The SYN-ACK goes first, so whatever the listener sends at once queues behind it.
    pair.down.sendControl('syn-ack');
    ctx.trace({ kind: 'accept', from: this.#local, to: this.#remote, connection: pair.client.id });
    listener.accept(pair.server);
  }

  #giveUp(error: unknown, why: string): void {
    const pair = this.#pair;
    this.#pair = undefined;
    if (pair !== undefined) {
      pair.handshake = undefined;
      pair.abort(pair.client, new ClusterluckError('CONNECTION_CLOSED', `the dialer gave up: ${why}`));
    }
    this.#settle(undefined, error, why);
  }

  #settle(conn: SimConnection | undefined, error?: unknown, why?: string): void {
    if (this.#done) return;
    this.#done = true;
    for (const handle of this.#timers) this.#ctx.clock.cancelTimer(handle);
    this.#timers.clear();
    this.#signal.removeEventListener('abort', this.#onAbort);
    if (conn === undefined) {
      this.#ctx.trace({ kind: why === 'refused' ? 'refuse' : 'dial-fail', from: this.#local, to: this.#remote, reason: why ?? 'failed' });
      this.#reject(error);
      return;
    }
    this.#ctx.trace({ kind: 'connect', from: this.#local, to: this.#remote, connection: conn.id });
    conn.expose();
    this.#resolve(conn);
    void conn.admitAfter(dialerAdmitTurns);
  }
}
