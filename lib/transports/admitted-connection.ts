// "No frame before the dialer listens", written once for the memory, TCP and WebRTC connections
// (js-libp2p's abstract message stream does the same). A dialled connection holds its inbound
// events from the start; the first `message` or `close` listener its owner attaches, or the owner's
// own `close()` or `abort()`, lets them through on the next microtask. No guess at how many turns
// a caller needs between `await dial()` and `addEventListener`.
//
// While held, what arrives waits where the transport's own bound applies: a memory peer keeps it
// in its outbox (its send returns false past the high-water mark), TCP leaves it in the socket
// (flow control), WebRTC keeps the chunks of at most one high-water mark in flight.
import { TypedEventTarget, type AnyListener, type ListenerOptions } from '../env/events.js';
import type { ConnectionEvents } from '../env/transport.js';

/** A connection whose inbound events wait until its owner listens (accepted ones never wait). */
export abstract class AdmittedConnection extends TypedEventTarget<ConnectionEvents> {
  #admitted: boolean;
  #admitting = false;

  /** `held`: a dialled connection, whose owner has not listened yet. */
  protected constructor(held: boolean) {
    super();
    this.#admitted = !held;
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
    });
  }

  /** Dispatches what waited (frames, then a close). */
  protected abstract onAdmitted(): void;
}
