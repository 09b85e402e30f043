// The lifecycle every connection shares, written once for the memory, TCP and WebRTC connections
// (js-libp2p's abstract message stream does the same): "no frame before the dialer listens", and
// a `close` told exactly once, after what came before it. A dialled connection holds its inbound
// events from the start; the first `message` or `close` listener its owner attaches, or the owner's
// own `close()` or `abort()`, lets them through on the next microtask. No guess at how many turns
// a caller needs between `await dial()` and `addEventListener`.
//
// While held, what arrives waits where the transport's own bound applies: a memory peer keeps it
// in its outbox (its send returns false past the high-water mark), TCP leaves it in the socket
// (flow control), WebRTC keeps the chunks of at most one high-water mark in flight.
import { TypedEventTarget, type AnyListener, type ListenerOptions } from '../env/events.js';
import type { CloseDetail, ConnectionEvents } from '../env/transport.js';

/** A connection whose inbound events wait until its owner listens (accepted ones never wait). */
export abstract class AdmittedConnection extends TypedEventTarget<ConnectionEvents> {
  #admitted: boolean;
  #admitting = false;
  #closeDetail: CloseDetail | undefined;
  #closeTold = false;
  readonly #whenClosed: Promise<void>;
  #resolveClosed!: () => void;

  /** `held`: a dialled connection, whose owner has not listened yet. */
  protected constructor(held: boolean) {
    super();
    this.#admitted = !held;
    this.#whenClosed = new Promise((resolve) => (this.#resolveClosed = resolve));
  }

  /** Resolves once `close` has been told. */
  protected get whenClosed(): Promise<void> {
    return this.#whenClosed;
  }

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
