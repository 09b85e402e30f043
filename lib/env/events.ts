/**
 * An `EventTarget` whose event names and payloads are typed by an event map,
 * as in js-libp2p. Listeners run synchronously in registration order.
 */
export interface TypedEventTarget<M extends { [K in keyof M]: Event }> {
  addEventListener<K extends keyof M & string>(
    type: K,
    listener: ((event: M[K]) => void) | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  removeEventListener<K extends keyof M & string>(
    type: K,
    listener: ((event: M[K]) => void) | null,
    options?: boolean | EventListenerOptions,
  ): void;
  addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void;
  dispatchEvent(event: Event): boolean;
}

/** The base class for typed event targets. */
export class TypedEventTarget<M extends { [K in keyof M]: Event }> extends EventTarget {
  /** Dispatches a `CustomEvent` named `type` carrying `detail`. */
  emit<K extends keyof M & string>(type: K, ...detail: M[K] extends CustomEvent<infer D> ? [D] : []): boolean {
    return this.dispatchEvent(new CustomEvent(type, { detail: detail[0] }));
  }
}
