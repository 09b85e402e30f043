// The kernel's calls awaiting replies: one entry per tag, settled exactly once, by its reply, its
// timeout, its caller's abort, or a failure of the link or peer that carries it.
import { assert } from '../env/assert.js';
import type { Clock, TimerHandle } from '../env/clock.js';
import { ClusterluckError, fromWireError, stacklessError } from '../env/errors.js';
import { parseJson } from './frame.js';
import type { Link } from './link.js';
import { MessageKind } from './message.js';

/** A message waiting in a peer's send queue. */
export interface Outbound {
  readonly kind: typeof MessageKind.call | typeof MessageKind.cast;
  readonly tag: number;
  readonly name: string;
  readonly payload: Uint8Array;
}

/** A call awaiting its reply. */
export interface PendingCall {
  readonly peerId: string;
  /** The link it was sent on; its reply must come back on the same one. */
  link: Link | undefined;
  /** Its message while it waits in the peer's send queue. */
  queued: Outbound | undefined;
  /** Ends the call (the first settle wins; later ones do nothing). */
  settle(error: Error | undefined, value?: unknown): void;
}

/** What opening a call needs besides its destination. */
export interface CallRequest {
  readonly peerId: string;
  readonly timeoutMs: number;
  readonly signal: AbortSignal | undefined;
  /** The TIMEOUT error's message. */
  readonly timeoutMessage: () => string;
  /** Takes the call's message out of its peer's send queue (it ended before it was sent). */
  readonly unqueue: (peerId: string, item: Outbound) => void;
}

/** Calls by tag. Tags run from 1 to 2³²−1 and wrap, skipping tags still in use. */
export class CallTable {
  readonly #clock: Clock;
  readonly #pending = new Map<number, PendingCall>();
  #nextTag = 1;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Calls awaiting replies. */
  get size(): number {
    return this.#pending.size;
  }

  /** The call with `tag`, if it still waits. */
  get(tag: number): PendingCall | undefined {
    return this.#pending.get(tag);
  }

  /** A fresh tag, not in use. */
  newTag(): number {
    do this.#nextTag = this.#nextTag >= 0xffffffff ? 1 : this.#nextTag + 1;
    while (this.#pending.has(this.#nextTag));
    return this.#nextTag;
  }

  /**
   * Files a call under `tag` and arms its timeout and its caller's abort; `resolve` and `reject`
   * are its promise's. @returns the entry, for the sender to note where the call went.
   */
  open(tag: number, req: CallRequest, resolve: (value: unknown) => void, reject: (error: Error) => void): PendingCall {
    assert(!this.#pending.has(tag), 'a call is filed under a tag not in use');
    let timer: TimerHandle | undefined;
    const signal = req.signal;
    const onAbort = (): void => pending.settle(signal?.reason as Error);
    const pending: PendingCall = {
      peerId: req.peerId, link: undefined, queued: undefined,
      settle: (error, value) => {
        if (this.#pending.get(tag) !== pending) return;
        this.#pending.delete(tag);
        if (timer !== undefined) this.#clock.cancelTimer(timer);
        signal?.removeEventListener('abort', onAbort);
        if (pending.queued !== undefined) req.unqueue(pending.peerId, pending.queued);
        if (error === undefined) resolve(value);
        else reject(error);
      },
    };
    this.#pending.set(tag, pending);
    if (Number.isFinite(req.timeoutMs)) {
      timer = this.#clock.setTimer(req.timeoutMs, () => {
        timer = undefined;
        pending.settle(stacklessError('TIMEOUT', req.timeoutMessage()));
      });
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    return pending;
  }

  /** Fails every call `which` picks, in the order they were made. */
  fail(error: Error, which: (p: PendingCall) => boolean = () => true): void {
    for (const p of [...this.#pending.values()]) if (which(p)) p.settle(error);
  }

  /**
   * Settles the call `tag` with a reply that came on `link` (undefined: from this node).
   * @returns false when no call waits for it there (it ended, or it went out on another link).
   */
  settleReply(tag: number, link: Link | undefined, kind: MessageKind, payload: Uint8Array): boolean {
    const pending = this.#pending.get(tag);
    if (pending === undefined || pending.link !== link) return false;
    if (kind === MessageKind.replyError) {
      pending.settle(fromWireError(parseJson(payload)));
      return true;
    }
    const value = payload.byteLength === 0 ? undefined : parseJson(payload);
    if (value === undefined && payload.byteLength > 0) pending.settle(new ClusterluckError('BAD_MESSAGE', 'reply is not JSON'));
    else pending.settle(undefined, value);
    return true;
  }
}
