// The lifecycle every connection shares, written once for the memory, TCP and WebRTC connections
// (js-libp2p's abstract message stream does the same): "no frame before the dialer listens", a
// `close` told exactly once, after what came before it, sends flushed together on a later
// microtask, and the `drain` owed once `send` said false. Each transport supplies only its I/O. A dialled connection holds its inbound
// events from the start; the first `message` or `close` listener its owner attaches, or the owner's
// own `close()` or `abort()`, lets them through on the next microtask. No guess at how many turns
// a caller needs between `await dial()` and `addEventListener`.
//
// While held, what arrives waits where the transport's own bound applies: a memory peer keeps it
// in its outbox (its send returns false past the high-water mark), TCP leaves it in the socket
// (flow control), WebRTC keeps the chunks of at most one high-water mark in flight.
import { TypedEventTarget, type AnyListener, type ListenerOptions } from '../env/events.js';
import type { Address, CloseDetail, ConnectionEvents, ConnectionStatus } from '../env/transport.js';
import { FlushHooks } from './flush-hooks.js';

/** A connection whose inbound events wait until its owner listens (accepted ones never wait). */
export abstract class AdmittedConnection extends TypedEventTarget<ConnectionEvents> {
  readonly id: string;
  readonly localAddress: Address;
  readonly remoteAddress: Address;
  /** True for the dialler's end: its inbound events wait until its owner listens. */
  readonly outbound: boolean;
  #admitted: boolean;
  #admitting = false;
  #flushQueued = false;
  /** What runs before the next flush (see Connection.beforeFlush). */
  readonly #beforeFlush = new FlushHooks();
  #drainOwed = false;
  #closeDetail: CloseDetail | undefined;
  #closeTold = false;
  readonly #whenClosed: Promise<void>;
  #resolveClosed!: () => void;

  /** A connection's identity; an `outbound` one (dialled) holds its inbound events until its owner listens. */
  protected constructor(init: { readonly id: string; readonly localAddress: Address; readonly remoteAddress: Address; readonly outbound: boolean }) {
    super();
    this.id = init.id;
    this.localAddress = init.localAddress;
    this.remoteAddress = init.remoteAddress;
    this.outbound = init.outbound;
    this.#admitted = !init.outbound;
    this.#whenClosed = new Promise((resolve) => (this.#resolveClosed = resolve));
  }

  /** The connection's status (see Connection). */
  abstract get status(): ConnectionStatus;

  /** Bytes sent and not yet handed on (see Connection). */
  abstract get bufferedBytes(): number;

  /** Hands what `send` queued to the transport (its I/O). */
  protected abstract flush(): void;

  /** See Connection.beforeFlush. */
  beforeFlush(fn: () => void): void {
    if (this.status !== 'open') return;
    this.#beforeFlush.add(fn);
    this.scheduleFlush();
  }

  /**
   * Runs (once each) what asked to run before this flush, while the connection is open (after that
   * nothing more may be sent, and it is dropped). A transport's {@link flush} calls it first, and so
   * does every graceful end before the status leaves `open`.
   */
  protected runBeforeFlush(): void {
    this.#beforeFlush.run(this.status === 'open');
  }

  /** Runs {@link flush} once {@link later}, however many sends ask before it runs. */
  protected scheduleFlush(): void {
    if (this.#flushQueued) return;
    this.#flushQueued = true;
    this.later(() => {
      // What runs before the flush may send: while the flag is still up, those sends schedule no second flush.
      this.runBeforeFlush();
      this.#flushQueued = false;
      this.flush();
    });
  }

  /** When a scheduled flush runs: on a later microtask, unless the transport knows a better moment. */
  protected later(fn: () => void): void {
    queueMicrotask(fn);
  }

  /** What `send` answers: true under the high-water mark; false past it, and a `drain` is then owed. */
  protected sendAnswer(highWaterMarkBytes: number): boolean {
    if (this.bufferedBytes < highWaterMarkBytes) return true;
    this.#drainOwed = true;
    return false;
  }

  /** Emits the `drain` owed once the buffer is back under the mark, while the connection is open. */
  protected drainIfDue(highWaterMarkBytes: number): void {
    if (!this.#drainOwed || this.status !== 'open' || this.bufferedBytes >= highWaterMarkBytes) return;
    this.#drainOwed = false;
    this.emit('drain');
  }

  /** Closes gracefully (see Connection): what was sent still arrives; resolves once `close` was told. */
  close(): Promise<void> {
    this.admitSoon();
    if (this.status === 'open') {
      this.runBeforeFlush(); // what was packed this turn is sent, so it arrives before the close
      this.beginClose();
    }
    return this.#whenClosed;
  }

  /** Starts this transport's graceful close of an open connection (its status becomes `closing`). */
  protected abstract beginClose(): void;

  /** The connection ended with `detail`: tells `close` once, on a later microtask, once admitted (the first detail wins). */
  protected tellClose(detail: CloseDetail): void {
    this.#closeDetail ??= detail;
    this.#dispatchClose();
  }

  /** True once inbound events may be dispatched. */
  protected get admitted(): boolean {
    return this.#admitted;
  }

  /** Lets inbound events through once the owner listens for messages or for the close. */
  override addEventListener(type: string, listener: AnyListener | null, options?: boolean | ListenerOptions): void {
    super.addEventListener(type, listener, options);
    if (type === 'message' || type === 'close') this.admitSoon();
  }

  /** The owner acted on the connection (a listener, a close, an abort): admit on the next microtask. */
  protected admitSoon(): void {
    if (this.#admitted || this.#admitting) return;
    this.#admitting = true;
    queueMicrotask(() => {
      this.#admitted = true;
      this.onAdmitted();
      this.#dispatchClose();
    });
  }

  /** Dispatches what waited (frames); a close that waited follows. */
  protected abstract onAdmitted(): void;

  #dispatchClose(): void {
    const detail = this.#closeDetail;
    if (detail === undefined || !this.#admitted || this.#closeTold) return;
    this.#closeTold = true;
    queueMicrotask(() => {
      this.emit('close', detail);
      this.#resolveClosed();
    });
  }
}
