import { mailboxLengthMaxDefault } from '../constants.js';
import { fromUtf8 } from '../env/bytes.js';
import { ClusterluckError, show } from '../env/errors.js';
import { TypedEventTarget } from '../env/events.js';
import type { CallOptions, Actor, DeliveryKind, Dest } from './actor.js';
import { From } from './actor.js';
import { randomName, type NetKernel } from './net-kernel.js';

/** A decoded message: the event name and its data. */
export interface Job {
  readonly event: string;
  readonly data: unknown;
}

/** Handles one event; its return value (or resolved value) is the reply, a throw the error reply. */
export type Handler = (data: unknown, from: From) => unknown;

/** Return this from a handler that will answer later with `reply(from, ...)` itself. */
export const noReply: unique symbol = Symbol('noReply');

/** Options of a {@link GenServer}. */
export interface GenServerOptions {
  /** Messages kept while paused; a call beyond it is answered QUEUE_FULL. @default 4096 */
  readonly mailboxLengthMax?: number;
}

/**
 * Lifecycle events of a {@link GenServer}. They live on `lifecycle`, apart from message events,
 * so a remote event named `stop` or `error` is just another message (Clusterluck shared one
 * EventEmitter, and a remote `pause` detached the server).
 */
export interface GenServerEvents {
  start: CustomEvent<string>;
  stop: CustomEvent<string>;
  pause: Event;
  resume: Event;
  idle: Event;
}

interface Delivery {
  readonly kind: DeliveryKind;
  readonly from: From;
  readonly payload: Uint8Array;
}

/**
 * A named actor on a {@link NetKernel} with handlers by event name (Clusterluck's GenServer).
 * Every message passes `decodeJob` → `decodeSingleton` before any handler runs; a subclass
 * overrides `decodeSingleton` to validate, and an invalid message gets an error reply.
 */
export class GenServer implements Actor {
  readonly kernel: NetKernel;
  /** Lifecycle events, apart from message events. */
  readonly lifecycle = new TypedEventTarget<GenServerEvents>();
  readonly #handlers = new Map<string, Handler>();
  readonly #mailbox: Delivery[] = [];
  readonly #mailboxLengthMax: number;
  #name: string | undefined;
  #paused = false;
  #stopping = false;
  #inFlight = 0;
  /** Calls answered later by `reply`/`replyError`, with their event (for {@link answered}). */
  readonly #deferred = new Map<From, string>();
  /**
   * Calls answered by `reply`/`replyError` before their handler's promise resolved to `noReply`
   * (their answer came from another message's handler in between), with the error they got.
   */
  readonly #answeredEarly = new WeakMap<From, { error: unknown }>();
  /** Calls answered, by `event` and then by code ('OK' or the error's code); they only grow. */
  readonly answered = new Map<string, Map<string, number>>();
  #idleWaiters: (() => void)[] = [];

  constructor(kernel: NetKernel, options: GenServerOptions = {}) {
    this.kernel = kernel;
    this.#mailboxLengthMax = options.mailboxLengthMax ?? mailboxLengthMaxDefault;
  }

  /** The registered name, or undefined when not started. */
  get name(): string | undefined {
    return this.#name;
  }

  /** Registers on the kernel under `name` (a random one by default); ALREADY_EXISTS when taken. */
  start(name?: string): this {
    if (this.#name !== undefined) throw new ClusterluckError('ALREADY_EXISTS', `already started as ${show(this.#name)}`);
    const chosen = name ?? randomName(this.kernel.env.random);
    this.kernel.register(chosen, this);
    this.#name = chosen;
    this.#stopping = false;
    this.lifecycle.emit('start', chosen);
    return this;
  }

  /** Stops taking new messages (they get NOT_RUNNING), waits until idle, then unregisters. */
  async stop(): Promise<void> {
    const name = this.#name;
    if (name === undefined || this.#stopping) return;
    this.#stopping = true;
    this.resume();
    await this.whenIdle();
    this.kernel.unregister(name, this);
    this.#name = undefined;
    this.lifecycle.emit('stop', name);
  }

  /** Holds incoming messages in the mailbox until `resume()`. */
  pause(): void {
    if (this.#paused) return;
    this.#paused = true;
    this.lifecycle.emit('pause');
  }

  /** Handles the held messages, then new ones as they come. */
  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.lifecycle.emit('resume');
    for (const d of this.#mailbox.splice(0)) this.#dispatch(d);
    this.#checkIdle();
  }

  /** True when no message is being handled or waiting in the mailbox. */
  idle(): boolean {
    return this.#inFlight === 0 && this.#mailbox.length === 0;
  }

  /** Resolves once `idle()` is true. */
  whenIdle(): Promise<void> {
    if (this.idle()) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Calls an actor through the kernel. */
  call(dest: Dest, event: string, data: unknown, options?: CallOptions): Promise<unknown> {
    return this.kernel.call(dest, event, data, options);
  }

  /** Casts to an actor through the kernel. */
  cast(dest: Dest, event: string, data: unknown): void {
    this.kernel.cast(dest, event, data);
  }

  /** Answers a call whose handler returned {@link noReply}; `now` as in {@link NetKernel.reply}. */
  reply(from: From, data: unknown, now = false): void {
    this.kernel.reply(from, data, now);
    this.#answeredLater(from, undefined);
  }

  /** Answers a call whose handler returned {@link noReply} with an error. */
  replyError(from: From, error: unknown): void {
    this.kernel.replyError(from, error);
    this.#answeredLater(from, error);
  }

  #answeredLater(from: From, error: unknown): void {
    const event = this.#deferred.get(from);
    if (event === undefined) return void this.#answeredEarly.set(from, { error });
    this.#deferred.delete(from);
    this.#count(event, error);
    this.#done();
  }

  #count(event: string, error: unknown): void {
    const code = error === undefined ? 'OK' : typeof (error as { code?: unknown }).code === 'string' ? (error as { code: string }).code : 'INTERNAL';
    const byCode = this.answered.get(event) ?? this.answered.set(event, new Map()).get(event) as Map<string, number>;
    byCode.set(code, (byCode.get(code) ?? 0) + 1);
  }

  /** Decodes a raw job (UTF-8 JSON `{event, data}`), then validates it with `decodeSingleton`. */
  decodeJob(buf: Uint8Array): Job | Error {
    let value: unknown;
    try {
      value = JSON.parse(fromUtf8(buf));
    } catch {
      return new ClusterluckError('BAD_MESSAGE', 'message is not UTF-8 JSON');
    }
    if (typeof value !== 'object' || value === null || typeof (value as Record<string, unknown>)['event'] !== 'string') {
      return new ClusterluckError('BAD_MESSAGE', 'message is not an { event, data } object');
    }
    const v = value as Record<string, unknown>;
    return this.decodeSingleton({ event: v['event'] as string, data: v['data'] });
  }

  /** Validates a decoded job; override to check each event's data. @returns the job or an Error. */
  decodeSingleton(job: Job): Job | Error {
    return job;
  }

  /** Registers the handler of one event (replacing any earlier one). */
  protected handle(event: string, handler: Handler): void {
    this.#handlers.set(event, handler);
  }

  /** @internal Called by the kernel, asynchronously, for each message to this actor. */
  deliver(kind: DeliveryKind, from: From, payload: Uint8Array): void {
    const delivery = { kind, from, payload };
    if (this.#stopping) return this.#refuse(delivery, new ClusterluckError('NOT_RUNNING', `${show(this.#name)} is stopping`));
    if (!this.#paused) return this.#dispatch(delivery);
    if (this.#mailbox.length >= this.#mailboxLengthMax) {
      return this.#refuse(delivery, new ClusterluckError('QUEUE_FULL', `mailbox of ${show(this.#name)} is full (${this.#mailboxLengthMax})`));
    }
    this.#mailbox.push(delivery);
  }

  #refuse(d: Delivery, error: Error, event = '(undecoded)'): void {
    if (d.kind !== 'call') return;
    this.kernel.replyError(d.from, error);
    this.#count(event, error);
  }

  #dispatch(d: Delivery): void {
    const job = this.#decode(d.payload);
    if (job instanceof Error) return this.#refuse(d, job);
    const handler = this.#handlers.get(job.event);
    if (handler === undefined) {
      return this.#refuse(d, new ClusterluckError('BAD_MESSAGE', `${show(this.#name)} has no handler for event ${show(job.event)}`), '(unknown)');
    }
    this.#inFlight++;
    let result: unknown;
    try {
      result = handler.call(this, job.data, d.from);
    } catch (err) {
      return this.#finish(d, job.event, err, undefined);
    }
    if (result === noReply) return this.#defer(d, job.event);
    if (result instanceof Promise) {
      result.then(
        (value: unknown) => (value === noReply ? this.#defer(d, job.event) : this.#finish(d, job.event, undefined, value)),
        (err: unknown) => this.#finish(d, job.event, err ?? new Error('rejected'), undefined),
      );
      return;
    }
    this.#finish(d, job.event, undefined, result);
  }

  #defer(d: Delivery, event: string): void {
    // A cast has no one to answer: it is done when its handler is; so is a call already answered.
    const early = this.#answeredEarly.get(d.from);
    if (d.kind === 'call' && early === undefined) return void this.#deferred.set(d.from, event);
    this.#answeredEarly.delete(d.from);
    if (early !== undefined) this.#count(event, early.error);
    this.#done();
  }

  #decode(payload: Uint8Array): Job | Error {
    try {
      return this.decodeJob(payload);
    } catch (err) {
      return err instanceof Error ? err : new ClusterluckError('BAD_MESSAGE', 'undecodable message');
    }
  }

  #finish(d: Delivery, event: string, error: unknown, value: unknown): void {
    if (d.kind === 'call') {
      if (error !== undefined) this.kernel.replyError(d.from, error);
      else this.kernel.reply(d.from, value);
      this.#count(event, error);
    } else if (error !== undefined) {
      this.kernel.env.logger.warn('cast handler failed', { actor: this.#name, error: String(error) });
    }
    this.#done();
  }

  #done(): void {
    // Every dispatch is finished once (its reply, its deferral's answer, or its cast's end).
    if (this.#inFlight <= 0) throw new ClusterluckError('INTERNAL', `${show(this.#name)} finished a message it had not started`);
    this.#inFlight--;
    this.#checkIdle();
  }

  #checkIdle(): void {
    if (!this.idle()) return;
    this.lifecycle.emit('idle');
    for (const resolve of this.#idleWaiters.splice(0)) resolve();
  }

  /**
   * Looks at `idle()` again. GenServer does so when a request finishes; a subclass whose `idle()`
   * also waits for something else (a table's writes) calls this when that may have settled.
   */
  protected recheckIdle(): void {
    if (this.#idleWaiters.length > 0) this.#checkIdle();
  }
}
