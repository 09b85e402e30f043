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
  removeEventListener<K extends keyof M & string>(
    type: K,
    listener: ((event: M[K]) => void) | null,
    options?: boolean | Pick<ListenerOptions, 'capture'>,
  ): void;
  removeEventListener(
    type: string,
    listener: AnyListener | null,
    options?: boolean | Pick<ListenerOptions, 'capture'>,
  ): void;
  dispatchEvent(event: Event): boolean;
}

/**
 * The base class for typed event targets. `emit` makes no event for a type nobody ever listened
 * to: building and dispatching a CustomEvent costs microseconds, and an owner emits several per
 * grant that most applications never watch.
 */
export class TypedEventTarget<M extends { [K in keyof M]: Event }> extends EventTarget {
  /** Types that have had a listener (they stay, however listeners leave: a cheap, safe over-estimate). */
  readonly #listened = new Set<string>();

  override addEventListener<K extends keyof M & string>(type: K, listener: ((event: M[K]) => void) | null, options?: boolean | ListenerOptions): void;
  override addEventListener(type: string, listener: AnyListener | null, options?: boolean | ListenerOptions): void;
  // The overloads above are its types.
  override addEventListener(type: string, listener: any, options?: boolean | ListenerOptions): void {
    this.#listened.add(type);
    super.addEventListener(type, listener as EventListenerOrEventListenerObject | null, options);
  }

  /** Dispatches a `CustomEvent` named `type` carrying `detail` (true, as dispatchEvent, when nobody listens). */
  emit<K extends keyof M & string>(type: K, ...detail: M[K] extends CustomEvent<infer D> ? [D] : []): boolean {
    if (!this.#listened.has(type)) return true;
    return this.dispatchEvent(new CustomEvent(type, { detail: detail[0] }));
  }
}
