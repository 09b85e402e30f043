/** Listener options as both the DOM and Node declare them (named here so Node-only consumers need no DOM types). */
export interface ListenerOptions {
  readonly capture?: boolean;
  readonly once?: boolean;
  readonly passive?: boolean;
  readonly signal?: AbortSignal;
}

/** A listener function or object, as both the DOM and Node declare it. */
export type AnyListener = ((event: Event) => void) | { handleEvent(event: Event): void };

/**
 * An `EventTarget` whose event names and payloads are typed by an event map,
 * as in js-libp2p. Listeners run synchronously in registration order.
 */
export interface TypedEventTarget<M extends { [K in keyof M]: Event }> {
  addEventListener<K extends keyof M & string>(
    type: K,
    listener: ((event: M[K]) => void) | null,
    options?: boolean | ListenerOptions,
  ): void;
  removeEventListener<K extends keyof M & string>(
    type: K,
    listener: ((event: M[K]) => void) | null,
    options?: boolean | Pick<ListenerOptions, 'capture'>,
  ): void;
  addEventListener(
    type: string,
    listener: AnyListener | null,
    options?: boolean | ListenerOptions,
  ): void;
  removeEventListener(
    type: string,
    listener: AnyListener | null,
    options?: boolean | Pick<ListenerOptions, 'capture'>,
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
