// The kernel's calls awaiting replies: one entry per tag, settled exactly once, by its reply, its
// timeout, its caller's abort, or a failure of the link or peer that carries it.
import { assert } from '../env/assert.js';
import type { Clock, TimerHandle } from '../env/clock.js';
import { ClusterluckError, fromWireError, show, stacklessError } from '../env/errors.js';
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
  /** The event and actor it calls, for the TIMEOUT error's message. */
  readonly event: string;
  readonly name: string;
}

/** Takes a call's message out of its peer's send queue (it ended before it was sent). */
export type Unqueue = (peerId: string, item: Outbound) => void;

/**
 * One call in the table. A class, not closures made per call: its abort listener is the object
 * itself (`handleEvent`), so opening a call makes one closure (its timer's). It made five: three
 * here, and the unqueue and message closures the kernel passed in.
 */
class Call implements PendingCall {
  link: Link | undefined = undefined;
  queued: Outbound | undefined = undefined;
  timer: TimerHandle | undefined = undefined;

  constructor(
    readonly peerId: string,
    readonly tag: number,
    readonly signal: AbortSignal | undefined,
    readonly table: Map<number, PendingCall>,
    readonly clock: Clock,
    readonly unqueue: Unqueue,
    readonly resolve: (value: unknown) => void,
    readonly reject: (error: Error) => void,
  ) {}

  settle(error: Error | undefined, value?: unknown): void {
    if (this.table.get(this.tag) !== this) return;
    this.table.delete(this.tag);
    if (this.timer !== undefined) this.clock.cancelTimer(this.timer);
    this.signal?.removeEventListener('abort', this);
    if (this.queued !== undefined) this.unqueue(this.peerId, this.queued);
    if (error === undefined) this.resolve(value);
    else this.reject(error);
  }

  /** The caller's signal aborted. */
  handleEvent(): void {
    this.settle(this.signal?.reason as Error);
  }
}

/** Calls by tag. Tags run from 1 to 2³²−1 and wrap, skipping tags still in use. */
export class CallTable {
  readonly #clock: Clock;
  readonly #unqueue: Unqueue;
  readonly #pending = new Map<number, PendingCall>();
  #nextTag = 1;

  constructor(clock: Clock, unqueue: Unqueue) {
    this.#clock = clock;
    this.#unqueue = unqueue;
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
    const call = new Call(req.peerId, tag, req.signal, this.#pending, this.#clock, this.#unqueue, resolve, reject);
    this.#pending.set(tag, call);
    if (Number.isFinite(req.timeoutMs)) {
      call.timer = this.#clock.setTimer(req.timeoutMs, () => {
        call.timer = undefined;
        call.settle(stacklessError('TIMEOUT', `call ${show(req.event)} to ${show(req.name)} on ${show(req.peerId)} got no reply within ${req.timeoutMs} ms`));
      });
    }
    req.signal?.addEventListener('abort', call, { once: true });
    return call;
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
