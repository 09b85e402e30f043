// One connection of a MemoryNetwork: its two ends (a Pair) and each end's lifecycle. Frames wait
// in the sender's outbox until delivered, in order, in microtask batches; a graceful close flushes
// both outboxes before either side sees `close`.
import { assert } from '../env/assert.js';
import { copyBytes } from '../env/bytes.js';
import { ClusterluckError } from '../env/errors.js';
import { checkSend, type Address, type CloseDetail, type Connection, type ConnectionStatus } from '../env/transport.js';
import { AdmittedConnection } from './admitted-connection.js';
import { FrameQueue } from './frame-queue.js';

/** A connection's bounds. */
export interface Limits {
  readonly frameBytesMax: number;
  readonly highWaterMarkBytes: number;
}

/** Both ends of one connection and what they share. */
export interface Pair {
  readonly client: MemoryConnection;
  readonly server: MemoryConnection;
  /** A graceful close reached the other side: flush what is left, then end. */
  closing: boolean;
  ended: boolean;
  readonly forget: (pair: Pair) => void;
}

/** One end of a {@link Pair}. Frames wait in the sender's outbox until delivered. */
export class MemoryConnection extends AdmittedConnection implements Connection {
  /** Set once by the network right after construction. */
  pair!: Pair;
  readonly #limits: Limits;
  #status: ConnectionStatus = 'open';
  #bufferedBytes = 0;
  readonly #outbox = new FrameQueue();
  #closeCalled = false;

  constructor(id: string, local: Address, remote: Address, outbound: boolean, limits: Limits) {
    super({ id, localAddress: local, remoteAddress: remote, outbound });
    this.#limits = limits;
  }

  get status(): ConnectionStatus {
    return this.#status;
  }

  get bufferedBytes(): number {
    return this.#bufferedBytes;
  }

  send(frame: Uint8Array): boolean {
    checkSend(this.id, this.#status, frame, this.#limits.frameBytesMax);
    // A copy, as a plain Uint8Array: the caller may reuse its buffer (a Node Buffer's slice would not copy).
    const copy = copyBytes(frame);
    this.#outbox.push(copy);
    this.#bufferedBytes += copy.byteLength;
    this.scheduleFlush();
    return this.sendAnswer(this.#limits.highWaterMarkBytes);
  }

  /** Flushes what is queued, then the close marker reaches the peer. */
  protected override beginClose(): void {
    this.#status = 'closing';
    this.#closeCalled = true;
    this.scheduleFlush();
  }

  abort(error?: Error): void {
    this.admitSoon();
    if (this.pair.ended) return;
    const local = { error: error ?? new ClusterluckError('ABORTED', `connection ${this.id} was aborted`) };
    const remote = { error: new ClusterluckError('CONNECTION_CLOSED', `connection ${this.id} was aborted by the peer`) };
    if (this.outbound) endPair(this.pair, local, remote);
    else endPair(this.pair, remote, local);
  }

  /** Its owner listens: what the peer sent meanwhile, and a close, come through. */
  protected override onAdmitted(): void {
    this.#peer().scheduleFlush();
  }

  /** Internal: ends this side now; `detail` is what its `close` event will carry. */
  end(detail: CloseDetail): void {
    this.#status = 'closed';
    this.#outbox.clear();
    this.#bufferedBytes = 0;
    this.tellClose(detail);
  }

  #peer(): MemoryConnection {
    return this.pair.client === this ? this.pair.server : this.pair.client;
  }

  /** Delivers the frames queued when it starts (later ones go in a later batch), then settles close. */
  protected override flush(): void {
    this.runBeforeFlush();
    const peer = this.#peer();
    if (this.pair.ended || !peer.admitted) return;
    for (let n = this.#outbox.length; n > 0 && !this.pair.ended; n--) {
      const frame = this.#outbox.shift() as Uint8Array;
      this.#bufferedBytes -= frame.byteLength;
      assert(this.#bufferedBytes >= 0, 'a memory connection delivers no more bytes than were sent');
      peer.emit('message', frame);
    }
    if (this.pair.ended) return;
    this.drainIfDue(this.#limits.highWaterMarkBytes);
    if (this.pair.ended) return; // a drain listener may have aborted it
    if (this.#outbox.length > 0) return this.scheduleFlush();
    if (this.#closeCalled && !this.pair.closing) {
      // Our close marker has reached the peer: it may send no more, and flushes what it has.
      this.pair.closing = true;
      if (peer.#status === 'open') {
        peer.runBeforeFlush();
        peer.#status = 'closing';
      }
      peer.scheduleFlush();
    }
    if (this.pair.closing && peer.#outbox.length === 0) endPair(this.pair, {}, {});
  }


}

/** Ends both sides of a pair once; each `close` event is dispatched asynchronously, exactly once. */
export function endPair(pair: Pair, client: CloseDetail, server: CloseDetail): void {
  if (pair.ended) return;
  pair.ended = true;
  pair.forget(pair);
  pair.client.end(client);
  pair.server.end(server);
}
