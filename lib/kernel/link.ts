import type { Clock, TimerHandle } from '../env/clock.js';
import { ClusterluckError } from '../env/errors.js';
import { utf8 } from '../env/bytes.js';
import type { Connection } from '../env/transport.js';
import type { NodeId } from '../core/node-id.js';
import {
  batchEntryBytes,
  checkFrame,
  checkHello,
  FrameSigner,
  FrameType,
  frameHeaderBytes,
  nonceBinding,
  parseJson,
  readBatch,
  readFrame,
  readHello,
  verifyFrame,
  writeBatch,
  writeFrame,
  writeHello,
  type Hello,
} from './frame.js';
import { checkMessage, MessageKind, readMessage, writeMessage, type Message } from './message.js';

/** A batch this large is sent at once instead of at the flush. */
const batchBytesEager = 1024;

/** Why the kernel dropped an inbound frame; each is counted in the kernel's stats. */
export type DropReason = 'tooLarge' | 'malformed' | 'badSignature' | 'outOfOrder' | 'unexpected';

/** What a {@link Link} tells its kernel. */
export interface LinkHandlers {
  ready(link: Link): void;
  message(link: Link, message: Message): void;
  closed(link: Link, error: Error | undefined): void;
  drop(reason: DropReason): void;
  drain(link: Link): void;
}

/** Per-link settings. */
export interface LinkOptions {
  readonly self: NodeId;
  readonly signer: FrameSigner;
  readonly nonce: Uint8Array;
  readonly clock: Clock;
  readonly frameBytesMax: number;
  readonly handshakeTimeoutMs: number;
  readonly idLengthMax: number;
  /** Assert that every frame written reads back as written. */
  readonly checkCodecs: boolean;
}

/**
 * One transport connection as the kernel sees it: the hello/auth handshake, then signed,
 * strictly sequenced frames. A link is ready once the peer proved, with a frame MACed over our
 * fresh nonce, that it holds the cookie; nothing reaches an actor before that.
 */
export class Link {
  readonly conn: Connection;
  /** The peer's hello, once received. */
  peer: Hello | undefined;
  /** True once the peer authenticated. */
  ready = false;
  readonly #opts: LinkOptions;
  readonly #handlers: LinkHandlers;
  #sendSeq = 0;
  #recvSeq = 0;
  /** What our data frames' MACs bind (the peer's nonce, then ours) and what theirs do (ours, then theirs); set by the peer's hello. */
  #sendBinding: Uint8Array | undefined;
  #recvBinding: Uint8Array | undefined;
  #handshakeTimer: TimerHandle | undefined;
  /** Messages sent since the last flush, waiting for the connection's flush to leave as one frame (see {@link send}). */
  #batch: Uint8Array[] = [];
  /** Their bytes in a batch body. */
  #batchBytes = 0;
  /** The connection's answer to our last frame: false until it drains (see {@link send}). */
  #sendAnswer = true;

  constructor(conn: Connection, opts: LinkOptions, handlers: LinkHandlers) {
    this.conn = conn;
    this.#opts = opts;
    this.#handlers = handlers;
    conn.addEventListener('message', (e) => this.#receive(e.detail));
    conn.addEventListener('drain', () => {
      this.#sendAnswer = true;
      handlers.drain(this);
    });
    conn.addEventListener('close', (e) => {
      this.#clearHandshakeTimer();
      handlers.closed(this, e.detail.error);
    });
    if (conn.status === 'closing') return; // its close event is still to come
    if (conn.status === 'closed') {
      // Closed before we saw it (accepted by a process that was stalled, or reset at once): its
      // close event is gone, so report the close once the caller has filed this link.
      void Promise.resolve().then(() => handlers.closed(this, new ClusterluckError('CONNECTION_CLOSED', `connection ${conn.id} closed before its handshake`)));
      return;
    }
    this.#handshakeTimer = opts.clock.setTimer(opts.handshakeTimeoutMs, () => {
      this.#handshakeTimer = undefined;
      if (!this.ready) this.conn.abort(new ClusterluckError('TIMEOUT', `handshake with ${conn.remoteAddress} timed out`));
    });
    // Unsigned: nothing derived from the cookie goes out before both nonces are known.
    const who: Hello = { id: opts.self.id, address: opts.self.address, nonce: opts.nonce };
    const hello = writeHello(who);
    const frame = writeFrame(undefined, FrameType.hello, 0, undefined, hello);
    if (opts.checkCodecs) {
      checkFrame(frame, FrameType.hello, 0, hello);
      checkHello(hello, who, opts.idLengthMax);
    }
    this.#sendRaw(frame);
  }

  /** True while frames may be sent. */
  get open(): boolean {
    return this.conn.status === 'open';
  }

  /**
   * Sends one message; returns the transport's backpressure answer. Once the link is ready, on a
   * connection that offers `beforeFlush`, messages wait for the connection's flush (TCP: once the
   * callback that sent has returned; memory and WebRTC: the next microtask) and leave as one
   * frame: one MAC and one sequence number for all of them (a batch; alone, a message leaves as a
   * data frame as before). They would leave in one write either way: this saves the MAC and
   * framing per message (the Performance issue's shared frames). The answer is then the
   * connection's to the last frame sent, false until it drains.
   */
  send(kind: MessageKind, tag: number, name: string, payload: Uint8Array): boolean {
    if (this.#sendBinding === undefined) throw new ClusterluckError('NOT_CONNECTED', 'link has no peer yet');
    // Closing or closed (its close event is on its way): nothing more leaves, and the sender hears so.
    if (!this.open) return false;
    const body = writeMessage(kind, tag, name, payload);
    if (this.#opts.checkCodecs) checkMessage(body, kind, tag, name, payload);
    const conn = this.conn;
    if (!this.ready || conn.beforeFlush === undefined) return this.#sendFrame(FrameType.data, body);
    if (frameHeaderBytes + this.#batchBytes + batchEntryBytes(body.byteLength) > this.#opts.frameBytesMax) this.#sendBatch();
    if (this.#batch.length === 0) conn.beforeFlush(this.#sendBatch);
    this.#batch.push(body);
    this.#batchBytes += batchEntryBytes(body.byteLength);
    // Many messages start out before the flush, as frames did (a transport writes once it holds a KiB).
    if (this.#batchBytes >= batchBytesEager) this.#sendBatch();
    return this.#sendAnswer;
  }

  /** Sends the messages waiting for the flush: one as a data frame, more as a batch. */
  readonly #sendBatch = (): void => {
    const batch = this.#batch;
    if (batch.length === 0) return;
    const bytes = this.#batchBytes;
    this.#batch = [];
    this.#batchBytes = 0;
    this.#sendAnswer = batch.length === 1 ? this.#sendFrame(FrameType.data, batch[0] as Uint8Array) : this.#sendFrame(FrameType.batch, writeBatch(batch, bytes));
  };

  /** Signs and sends one data or batch frame. */
  #sendFrame(type: FrameType, body: Uint8Array): boolean {
    this.#sendSeq = (this.#sendSeq + 1) >>> 0;
    const frame = writeFrame(this.#opts.signer, type, this.#sendSeq, this.#sendBinding, body);
    if (this.#opts.checkCodecs) checkFrame(frame, type, this.#sendSeq, body);
    return this.#sendRaw(frame);
  }

  /** Hands what this link queued to the network now (see Connection.flushNow): its batch too. */
  flushNow(): void {
    this.conn.flushNow?.();
  }

  /** Bytes a message of this size takes on the wire. */
  static frameBytes(name: string, payloadBytes: number): number {
    return frameHeaderBytes + 7 + utf8(name).byteLength + payloadBytes;
  }

  /** Sends unless the connection already closed under us (its close event is on its way); false then. */
  #sendRaw(frame: Uint8Array): boolean {
    return this.conn.status === 'open' && this.conn.send(frame);
  }

  #receive(bytes: Uint8Array): void {
    if (bytes.byteLength > this.#opts.frameBytesMax) return this.#handlers.drop('tooLarge');
    const frame = readFrame(bytes);
    if (frame === undefined) return this.#handlers.drop('malformed');
    if (frame.type === FrameType.hello) return this.#receiveHello(frame);
    if (this.peer === undefined) return this.#handlers.drop('unexpected');
    if (frame.seq !== ((this.#recvSeq + 1) >>> 0)) return this.#handlers.drop('outOfOrder');
    if (!verifyFrame(this.#opts.signer, frame, this.#recvBinding)) return this.#handlers.drop('badSignature');
    this.#recvSeq = frame.seq;
    if (frame.type === FrameType.batch) return this.#receiveBatch(frame.body);
    const message = readMessage(frame.body);
    if (message === undefined) return this.#handlers.drop('malformed');
    if (message.kind === MessageKind.auth) return this.#receiveAuth(message);
    if (!this.ready) return this.#handlers.drop('unexpected');
    this.#handlers.message(this, message);
  }

  /** Delivers a batch's messages in order, as if each had come in a frame of its own; stops if the connection closes. */
  #receiveBatch(body: Uint8Array): void {
    const bodies = readBatch(body);
    if (bodies === undefined) return this.#handlers.drop('malformed');
    // Only a ready link's sender packs messages (the auth never is one of them).
    if (!this.ready) return this.#handlers.drop('unexpected');
    for (const b of bodies) {
      if (this.conn.status === 'closed') return;
      const message = readMessage(b);
      if (message === undefined || message.kind === MessageKind.auth) return this.#handlers.drop(message === undefined ? 'malformed' : 'unexpected');
      this.#handlers.message(this, message);
    }
  }

  #receiveHello(frame: NonNullable<ReturnType<typeof readFrame>>): void {
    if (this.peer !== undefined) return this.#handlers.drop('unexpected');
    const hello = readHello(frame.body, this.#opts.idLengthMax);
    if (hello === undefined) return this.#handlers.drop('malformed');
    this.peer = hello;
    this.#sendBinding = nonceBinding(hello.nonce, this.#opts.nonce);
    this.#recvBinding = nonceBinding(this.#opts.nonce, hello.nonce);
    this.send(MessageKind.auth, 0, '', utf8(JSON.stringify(this.#opts.self.id)));
  }

  #receiveAuth(message: Message): void {
    if (this.ready || parseJson(message.payload) !== this.peer?.id) return this.#handlers.drop('unexpected');
    this.ready = true;
    this.#clearHandshakeTimer();
    this.conn.authenticated?.();
    this.#handlers.ready(this);
  }

  #clearHandshakeTimer(): void {
    if (this.#handshakeTimer !== undefined) this.#opts.clock.cancelTimer(this.#handshakeTimer);
    this.#handshakeTimer = undefined;
  }
}
