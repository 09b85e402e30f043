// One TCP connection: u32 big-endian length prefix + frame, reassembled per connection.
import type { Socket } from 'node:net';
import { ClusterluckError, invalidArgument } from '../env/errors.js';
import { TypedEventTarget } from '../env/events.js';
import type { CloseDetail, Connection, ConnectionEvents, ConnectionStatus } from '../env/transport.js';

interface Limits {
  readonly frameBytesMax: number;
  readonly highWaterMarkBytes: number;
  readonly idleTimeoutMs: number;
}

const prefixBytes = 4;

/** A {@link Connection} over one socket. */
export class TcpConnection extends TypedEventTarget<ConnectionEvents> implements Connection {
  readonly id: string;
  readonly localAddress: string;
  readonly remoteAddress: string;
  readonly outbound: boolean;
  readonly #socket: Socket;
  readonly #limits: Limits;
  #status: ConnectionStatus = 'open';
  #outbox: Buffer[] = [];
  #outboxBytes = 0;
  #flushQueued = false;
  #drainOwed = false;
  #inbox: Buffer = Buffer.alloc(0);
  #error: Error | undefined;
  #closed = false;
  readonly #whenClosed: Promise<void>;
  #resolveClosed!: () => void;

  constructor(id: string, socket: Socket, local: string, remote: string, outbound: boolean, limits: Limits) {
    super();
    this.id = id;
    this.#socket = socket;
    this.localAddress = local;
    this.remoteAddress = remote;
    this.outbound = outbound;
    this.#limits = limits;
    this.#whenClosed = new Promise((resolve) => (this.#resolveClosed = resolve));
    socket.on('data', (chunk: Buffer) => this.#receive(chunk));
    socket.on('drain', () => this.#maybeDrain());
    socket.on('error', (err) => {
      this.#error ??= new ClusterluckError('CONNECTION_CLOSED', `connection to ${remote} failed: ${err.message}`, { cause: err });
    });
    socket.on('end', () => {
      if (this.#status === 'open') this.#status = 'closing';
    });
    socket.on('close', () => this.#onClose());
    if (limits.idleTimeoutMs > 0) {
      socket.setTimeout(limits.idleTimeoutMs, () => this.abort(new ClusterluckError('TIMEOUT', `no traffic from ${remote} for ${limits.idleTimeoutMs} ms`)));
    }
  }

  get status(): ConnectionStatus {
    return this.#status;
  }

  get bufferedBytes(): number {
    return this.#outboxBytes + this.#socket.writableLength;
  }

  send(frame: Uint8Array): boolean {
    if (!(frame instanceof Uint8Array)) throw invalidArgument('frame', frame, 'a Uint8Array');
    if (this.#status !== 'open') throw new ClusterluckError('CONNECTION_CLOSED', `connection ${this.id} is ${this.#status}`);
    if (frame.byteLength > this.#limits.frameBytesMax) {
      throw new ClusterluckError('MESSAGE_TOO_LARGE', `frame of ${frame.byteLength} bytes exceeds frameBytesMax ${this.#limits.frameBytesMax}`);
    }
    const buf = Buffer.allocUnsafe(prefixBytes + frame.byteLength);
    buf.writeUInt32BE(frame.byteLength, 0);
    buf.set(frame, prefixBytes);
    this.#outbox.push(buf);
    this.#outboxBytes += buf.byteLength;
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(() => this.#flush());
    }
    if (this.bufferedBytes < this.#limits.highWaterMarkBytes) return true;
    this.#drainOwed = true;
    return false;
  }

  close(): Promise<void> {
    if (this.#status === 'open') {
      this.#status = 'closing';
      this.#flush();
      this.#socket.end();
    }
    return this.#whenClosed;
  }

  abort(error: Error = new ClusterluckError('ABORTED', `connection ${this.id} aborted`)): void {
    if (this.#closed) return;
    this.#error = error;
    this.#status = 'closed';
    this.#outbox = [];
    this.#outboxBytes = 0;
    // A reset, not a FIN: the peer must see an error, not a graceful close.
    this.#socket.resetAndDestroy();
  }

  #flush(): void {
    this.#flushQueued = false;
    if (this.#outbox.length === 0 || this.#socket.destroyed) return;
    const data = this.#outbox.length === 1 ? (this.#outbox[0] as Buffer) : Buffer.concat(this.#outbox, this.#outboxBytes);
    this.#outbox = [];
    this.#outboxBytes = 0;
    // When the socket took it all at once there will be no 'drain' from it: settle ours now.
    if (this.#socket.write(data)) this.#maybeDrain();
  }

  #maybeDrain(): void {
    if (this.#drainOwed && this.bufferedBytes < this.#limits.highWaterMarkBytes && this.#status === 'open') {
      this.#drainOwed = false;
      this.dispatchEvent(new Event('drain'));
    }
  }

  #receive(chunk: Buffer): void {
    let data = this.#inbox.byteLength === 0 ? chunk : Buffer.concat([this.#inbox, chunk]);
    let at = 0;
    while (data.byteLength - at >= prefixBytes) {
      const length = data.readUInt32BE(at);
      if (length > this.#limits.frameBytesMax) {
        return this.abort(new ClusterluckError('MESSAGE_TOO_LARGE', `peer ${this.remoteAddress} announced a frame of ${length} bytes (max ${this.#limits.frameBytesMax})`));
      }
      if (data.byteLength - at - prefixBytes < length) break;
      const frame = new Uint8Array(length);
      frame.set(data.subarray(at + prefixBytes, at + prefixBytes + length));
      at += prefixBytes + length;
      this.emit('message', frame);
      if (this.#closed || this.#status === 'closed') return;
    }
    data = data.subarray(at);
    this.#inbox = data.byteLength === 0 ? Buffer.alloc(0) : Buffer.from(data);
  }

  #onClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#status = 'closed';
    const detail: CloseDetail = this.#error === undefined ? {} : { error: this.#error };
    this.emit('close', detail);
    this.#resolveClosed();
  }
}
