// Both ends of one simulated connection and how it ends: graceful close is a FIN each way behind
// the data, abort is an RST that travels like any packet, and a break (stall, reset, sever) ends
// both sides at once with CONNECTION_CLOSED.
import { copyBytes } from '../../lib/env/bytes.js';
import { ClusterluckError, stacklessError } from '../../lib/env/errors.js';
import { TypedEventTarget } from '../../lib/env/events.js';
import { checkSend, type Address, type CloseDetail, type Connection, type ConnectionEvents, type ConnectionStatus } from '../../lib/env/transport.js';
import { FlushHooks } from '../../lib/transports/flush-hooks.js';
import { Pipe, type PipeContext, type PipeItem, type PipeOwner } from './sim-pipe.js';

/** What a pair needs from its network besides what its pipes need. */
export interface PairContext extends PipeContext {
  readonly frameBytesMax: number;
  readonly highWaterMarkBytes: number;
  /** Called once, when both sides have ended and nothing of the pair is in flight. */
  forget(pair: SimPair): void;
}

/** How a pending dial learns the outcome of its handshake. */
export interface Handshake {
  resolve(conn: SimConnection): void;
  reject(error: Error): void;
}

/** One connection: two sides and the two directions between them. */
export class SimPair implements PipeOwner {
  readonly ctx: PairContext;
  readonly client: SimConnection;
  readonly server: SimConnection;
  /** Client → server. */
  readonly up: Pipe;
  /** Server → client. */
  readonly down: Pipe;
  /** Set by the dialer until the SYN-ACK reaches the client. */
  handshake: Handshake | undefined;
  /** Sides a FIN has reached. */
  readonly #finReached = new Set<SimConnection>();

  constructor(ctx: PairContext, ids: readonly [string, string], clientAddress: Address, serverAddress: Address) {
    this.ctx = ctx;
    this.client = new SimConnection(this, ids[0], clientAddress, serverAddress, true);
    this.server = new SimConnection(this, ids[1], serverAddress, clientAddress, false);
    this.up = new Pipe(ctx, this, clientAddress, serverAddress, ids[0]);
    this.down = new Pipe(ctx, this, serverAddress, clientAddress, ids[0]);
  }

  /** True once both sides have ended. */
  get ended(): boolean {
    return this.client.ended && this.server.ended;
  }

  /** An item reached the far end of `pipe`: deliver, reset, or act on the control packet. */
  arrive(pipe: Pipe, item: PipeItem): void {
    const [sender, receiver] = pipe === this.up ? [this.client, this.server] : [this.server, this.client];
    if (item.kind === 'frame') {
      if (item.fate === 'reset') {
        this.ctx.trace({ kind: 'reset', from: pipe.from, to: pipe.to, connection: pipe.connection, seq: item.seq });
        return this.breakBoth('connection reset: a frame was lost');
      }
      if (item.fate === 'deliver' && !receiver.ended) {
        this.ctx.trace({ kind: 'deliver', from: pipe.from, to: pipe.to, connection: pipe.connection, seq: item.seq, bytes: item.frame.byteLength, sentAtMs: item.sentAt });
        receiver.take(item);
      }
      return sender.checkDrain();
    }
    if (receiver.ended) return;
    // An RST during the handshake fails the dial: the dialer's side is not admitted yet and never will be.
    if (item.kind === 'rst' && this.handshake !== undefined) return this.control(receiver, 'rst');
    if (item.kind === 'syn-ack') {
      const handshake = this.handshake;
      this.handshake = undefined;
      handshake?.resolve(this.client);
    } else {
      receiver.take(item);
    }
  }

  /** A partition held one direction for `stallBreakMs`: the connection breaks. */
  stallBroken(): void {
    this.breakBoth(`no route for ${this.ctx.stallBreakMs} ms`);
  }

  /** Ends every side still open with CONNECTION_CLOSED. */
  breakBoth(reason: string): void {
    if (this.ended) return;
    this.ctx.trace({ kind: 'break', from: this.client.localAddress, to: this.server.localAddress, connection: this.client.id, reason });
    for (const side of [this.client, this.server]) {
      this.end(side, { error: new ClusterluckError('CONNECTION_CLOSED', `connection ${side.id} broke: ${reason}`) });
    }
  }

  /** Ends `side` at once with `error`; the peer learns of it when the RST arrives. */
  abort(side: SimConnection, error: Error): void {
    if (side.ended) return;
    this.ctx.trace({ kind: 'abort', from: side.localAddress, to: side.remoteAddress, connection: this.client.id, reason: error.message });
    this.end(side, { error });
    if (!this.peerOf(side).ended) this.outOf(side).sendControl('rst');
  }

  /** A FIN (or RST) taken by `side` from its inbox. */
  control(side: SimConnection, kind: 'fin' | 'rst'): void {
    if (kind === 'rst') {
      this.end(side, { error: stacklessError('CONNECTION_CLOSED', `connection ${side.id} was reset by the peer`) });
      return;
    }
    this.#finReached.add(side);
    if (side.status === 'open') side.startClosing();
    if (this.#finReached.size === 2) for (const s of [this.client, this.server]) this.end(s, {});
  }

  /** Ends one side: its own unsent frames are dropped. */
  end(side: SimConnection, detail: CloseDetail): void {
    if (side.ended) return;
    side.finish(detail);
    this.outOf(side).clear();
    this.ctx.trace(detail.error === undefined
      ? { kind: 'close', from: side.localAddress, to: side.remoteAddress, connection: this.client.id }
      : { kind: 'close', from: side.localAddress, to: side.remoteAddress, connection: this.client.id, reason: detail.error.message });
    if (side === this.client && this.handshake !== undefined) {
      const handshake = this.handshake;
      this.handshake = undefined;
      handshake.reject(detail.error ?? new ClusterluckError('CONNECTION_CLOSED', `connection ${side.id} closed during its handshake`));
    }
    if (this.ended) {
      this.up.clear();
      this.down.clear();
      this.ctx.forget(this);
    }
  }

  /** The direction `side` sends on. */
  outOf(side: SimConnection): Pipe {
    return side === this.client ? this.up : this.down;
  }

  /** The other side. */
  peerOf(side: SimConnection): SimConnection {
    return side === this.client ? this.server : this.client;
  }
}

/** One side of a {@link SimPair}, as its owner sees it. */
export class SimConnection extends TypedEventTarget<ConnectionEvents> implements Connection {
  readonly id: string;
  readonly localAddress: Address;
  readonly remoteAddress: Address;
  readonly outbound: boolean;
  readonly #pair: SimPair;
  #status: ConnectionStatus = 'open';
  #drainOwed = false;
  /** Handed to its owner (the listener's handlers, or the dialer's `dial`). */
  #exposed = false;
  /** The dialer's side holds what arrives until its owner has had the chance to listen. */
  #admitted: boolean;
  #inbox: PipeItem[] = [];
  #closeDetail: CloseDetail | undefined;
  #closeDispatched = false;
  readonly #closed: Promise<void>;
  #resolveClosed!: () => void;
  /** What runs before this turn's frames are final (see Connection.beforeFlush). */
  readonly #beforeFlush = new FlushHooks();

  constructor(pair: SimPair, id: string, local: Address, remote: Address, outbound: boolean) {
    super();
    this.#pair = pair;
    this.id = id;
    this.localAddress = local;
    this.remoteAddress = remote;
    this.outbound = outbound;
    this.#admitted = !outbound;
    this.#closed = new Promise((resolve) => (this.#resolveClosed = resolve));
  }

  get status(): ConnectionStatus {
    return this.#status;
  }

  get bufferedBytes(): number {
    return this.#pair.outOf(this).bufferedBytes;
  }

  /** True once this side has ended. */
  get ended(): boolean {
    return this.#closeDetail !== undefined;
  }

  send(frame: Uint8Array): boolean {
    const { frameBytesMax, highWaterMarkBytes } = this.#pair.ctx;
    checkSend(this.id, this.#status, frame, frameBytesMax);
    // A copy, as a plain Uint8Array: the caller may reuse its buffer.
    const out = this.#pair.outOf(this);
    out.sendFrame(copyBytes(frame));
    if (out.bufferedBytes < highWaterMarkBytes) return true;
    this.#drainOwed = true;
    return false;
  }

  /**
   * See Connection.beforeFlush. The pipe takes each frame as it is sent, so the flush `fn` runs
   * before is the next microtask, as the memory transport's; the kernel's batches form as over TCP.
   */
  beforeFlush(fn: () => void): void {
    if (this.#status !== 'open') return;
    if (this.#beforeFlush.add(fn)) queueMicrotask(() => this.#runBeforeFlush());
  }

  #runBeforeFlush(): void {
    this.#beforeFlush.run(this.#status === 'open');
  }

  close(): Promise<void> {
    if (this.#status === 'open') this.startClosing();
    return this.#closed;
  }

  abort(error?: Error): void {
    this.#pair.abort(this, error ?? new ClusterluckError('ABORTED', `connection ${this.id} was aborted`));
  }

  /** Internal: no more sends; a FIN follows what is queued. */
  startClosing(): void {
    this.#runBeforeFlush(); // what was packed this turn goes ahead of the FIN
    this.#status = 'closing';
    this.#pair.outOf(this).sendControl('fin');
  }

  /** Internal: the owner has this side now. */
  expose(): void {
    this.#exposed = true;
    this.#dispatchClose();
  }

  /** Internal: lets inbound events through once `turns` microtask turns have passed. */
  async admitAfter(turns: number): Promise<void> {
    for (let i = 0; i < turns; i++) await Promise.resolve();
    this.#admitted = true;
    const inbox = this.#inbox;
    this.#inbox = [];
    for (const item of inbox) if (!this.ended) this.#process(item);
    this.#dispatchClose();
  }

  /** Internal: an item reached this side. */
  take(item: PipeItem): void {
    if (this.#admitted) this.#process(item);
    else this.#inbox.push(item);
  }

  /** Internal: fires `drain` when it is owed and the buffer fell under the high-water mark. */
  checkDrain(): void {
    if (!this.#drainOwed || this.bufferedBytes >= this.#pair.ctx.highWaterMarkBytes) return;
    this.#drainOwed = false;
    if (this.#status === 'open') this.emit('drain');
  }

  /** Internal: ends this side; `detail` is what its `close` event will carry. */
  finish(detail: CloseDetail): void {
    this.#status = 'closed';
    this.#drainOwed = false;
    this.#inbox = [];
    this.#closeDetail = detail;
    this.#dispatchClose();
  }

  #process(item: PipeItem): void {
    if (item.kind === 'frame') this.emit('message', item.frame);
    else if (item.kind !== 'syn-ack') this.#pair.control(this, item.kind);
  }

  #dispatchClose(): void {
    if (this.#closeDetail === undefined || !this.#exposed || !this.#admitted || this.#closeDispatched) return;
    this.#closeDispatched = true;
    const detail = this.#closeDetail;
    queueMicrotask(() => {
      this.emit('close', detail);
      this.#resolveClosed();
    });
  }
}
