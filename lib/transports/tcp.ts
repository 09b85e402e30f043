// The TCP transport (Node only): u32 big-endian length-prefixed frames over node:net, optionally
// node:tls. Each connection owns its reassembly state (Clusterluck shared one buffer between
// peers, and partial frames from two peers corrupted each other). Frames sent in one tick leave
// in one write per KiB: one write per frame caps near 200k frames/s on loopback, batched passes 1M/s.
//
// A graceful close sends the length prefix 0xFFFFFFFF ("goodbye") before its FIN; a stream that
// ends without it was aborted or its process died. TCP alone cannot tell: Linux reports a reset
// that follows unread data as a clean end of stream, and a TLS socket cannot be reset at all.
//
// Over 300 lines on purpose: what is left is the factory, the dial and one connection's lifecycle
// (send batching, the goodbye close, its timers), which share its state. The frame decoder is
// length-prefix.ts, the listener and its admission budget tcp-listener.ts, the options tcp-options.ts.
import { isIP, connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, TLSSocket } from 'node:tls';
import { ClusterluckError, invalidArgument, show } from '../env/errors.js';
import { checkSend, type Address, type Connection, type ConnectionStatus, type DialOptions } from '../env/transport.js';
import { AdmittedConnection } from './admitted-connection.js';
import { goodbyeLength, LengthPrefixDecoder, prefixBytes, writeLengthPrefix } from './length-prefix.js';
import { listen } from './tcp-listener.js';
import { formatAddress, parseHostPort, settings, tune, type Settings, type TcpTransport, type TcpTransportOptions } from './tcp-options.js';

export { parseHostPort, preAuthFrameBytesMaxDefault } from './tcp-options.js';
export type { TcpTlsOptions, TcpTransport, TcpTransportOptions, TcpTransportStats } from './tcp-options.js';

const goodbyeBytes = Buffer.alloc(prefixBytes);
writeLengthPrefix(goodbyeBytes, 0, goodbyeLength);
/**
 * Size of the buffers that sends are copied into; a larger frame gets its own. One buffer serves
 * many ticks: each flush writes the part filled since the last one, and the next tick appends
 * after it (bytes handed to the socket are never written again). A fresh 64 KiB per tick made the
 * garbage collector run a full mark-compact every ~25 ms under W1.
 */
const batchBytes = 64 * 1024;
/**
 * Queued bytes at which a send writes at once rather than at the flush. A tick that answers
 * a whole batch of requests (W3's 32 workers) otherwise writes nothing until it has
 * answered the last, and the peer idles meanwhile: the two processes took turns. Writing every
 * KiB lets the peer start on the first requests while the rest are being made (W3 from about
 * 8,400 to 13,000 cycles/s, owner in another process); a smaller batch still leaves in one write.
 */
export const flushAtBytes = 1024;

/**
 * A {@link Transport} over TCP: `host:port` or `[ipv6]:port` addresses; listening on port 0 binds
 * a free port, which `listener.address` reports. A dialled connection's `remoteAddress` is the
 * address as dialled. The transport carries one connection's life: it does not reconnect or queue
 * while a peer is down, because the kernel above (NetKernel) already re-dials with backoff and
 * keeps a bounded queue per destination.
 */
export function tcpTransport(options: TcpTransportOptions = {}): TcpTransport {
  const s = settings(options);
  let lastId = 0;
  const open = (socket: Socket, outbound: boolean, remote: Address): TcpConnection => {
    const local = formatAddress(socket.localAddress, socket.localPort);
    return new TcpConnection(`tcp:${++lastId}:${local}>${remote}`, socket, outbound, local, remote, s);
  };
  return {
    name: 'tcp',
    frameBytesMax: s.frameBytesMax,
    stats: s.stats,
    listen: (address) => listen(address, s, (socket) => open(socket, false, formatAddress(socket.remoteAddress, socket.remotePort))),
    async dial(address: Address, dialOptions: DialOptions): Promise<Connection> {
      const signal = (dialOptions as Partial<DialOptions> | undefined)?.signal;
      if (!(signal instanceof AbortSignal)) throw invalidArgument('options.signal', signal, 'an AbortSignal');
      signal.throwIfAborted();
      const { host, port } = parseHostPort(address);
      if (port === 0) throw invalidArgument('address', address, 'host:port with a port from 1 to 65535');
      // Its inbound events wait until the caller listens (AdmittedConnection).
      return connect(host, port, s, signal, address, (socket) => open(socket, true, address));
    },
  };
}

/** Connects (and with TLS, finishes the handshake), honouring `signal`; `open` runs once it is up. */
function connect(
  host: string, port: number, s: Settings, signal: AbortSignal, address: Address, open: (socket: Socket) => TcpConnection,
): Promise<TcpConnection> {
  return new Promise((resolve, reject) => {
    const raw = netConnect({ host, port, allowHalfOpen: true });
    const tls = s.tls;
    const servername = tls?.servername ?? (isIP(host) === 0 ? host : undefined);
    const socket = tls === undefined ? raw : tlsConnect({
      socket: raw, secureContext: tls.context, rejectUnauthorized: tls.reject, ...(servername === undefined ? {} : { servername }),
    });
    const settle = (error: unknown): void => {
      signal.removeEventListener('abort', onAbort);
      raw.removeListener('error', onError);
      socket.removeListener('error', onError);
      if (error === undefined) return resolve(open(socket));
      socket.destroy();
      raw.destroy();
      reject(error);
    };
    const onAbort = (): void => settle(signal.reason);
    const onError = (err: NodeJS.ErrnoException): void => settle(new ClusterluckError('CONNECTION_REFUSED',
      err.code === 'ECONNREFUSED' ? `nobody listens on ${show(address)}` : `could not connect to ${show(address)}: ${err.message}`,
      { cause: err }));
    signal.addEventListener('abort', onAbort, { once: true });
    raw.once('connect', () => tune(raw, s));
    raw.on('error', onError);
    if (socket !== raw) {
      // Under TLS the TCP socket's errors also reach the TLS socket, which reports them.
      raw.on('error', () => undefined);
      socket.on('error', onError);
    }
    socket.once(tls === undefined ? 'connect' : 'secureConnect', () => settle(undefined));
  });
}

/** One TCP (or TLS) connection carrying length-prefixed frames. */
class TcpConnection extends AdmittedConnection implements Connection {
  readonly #socket: Socket;
  readonly #s: Settings;
  #status: ConnectionStatus = 'open';
  /** Sent bytes not yet handed to the socket: full batches, then the one being filled. */
  #batches: Buffer[] = [];
  #tail: Buffer | undefined;
  /** `#tail` up to here was handed to the socket; from here to `#tailUsed` waits for the flush. */
  #tailSent = 0;
  #tailUsed = 0;
  #queuedBytes = 0;
  /** Reassembly of inbound frames. */
  readonly #decoder = new LengthPrefixDecoder();
  #goodbyeSent = false;
  #goodbyeReceived = false;
  #error: Error | undefined;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  /** Armed while a frame is half received: a peer that stops mid-frame is dropped. */
  #stallTimer: ReturnType<typeof setTimeout> | undefined;
  /** Set once the kernel saw the peer prove the cookie: frames up to frameBytesMax from then on. */
  #trusted = false;
  /** Called once, when the connection is authenticated or closed, whichever comes first (frees its admission slot). */
  #onTrusted: (() => void) | undefined;

  constructor(id: string, socket: Socket, outbound: boolean, local: Address, remote: Address, s: Settings) {
    super({ id, localAddress: local, remoteAddress: remote, outbound });
    this.#socket = socket;
    this.#s = s;
    socket.on('error', (err: Error) => {
      this.#error ??= new ClusterluckError('CONNECTION_CLOSED', `connection ${id} failed: ${err.message}`, { cause: err });
    });
    socket.on('end', () => this.#peerEnded());
    socket.on('close', () => this.#socketClose());
    if (s.idleTimeoutMs > 0) {
      this.#idleTimer = setTimeout(() => this.abort(new ClusterluckError('TIMEOUT',
        `nothing received on connection ${id} for ${s.idleTimeoutMs} ms`)), s.idleTimeoutMs).unref();
    }
    if (!outbound) this.#startReading();
  }

  get status(): ConnectionStatus {
    return this.#status;
  }

  /** The peer proved the cookie: larger frames are accepted from now on. */
  authenticated(): void {
    if (this.#trusted) return;
    this.#trusted = true;
    this.#releaseAdmission();
  }

  /** `fn` runs once, when this connection is authenticated or closes. */
  onceTrusted(fn: () => void): void {
    this.#onTrusted = fn;
  }

  #releaseAdmission(): void {
    const fn = this.#onTrusted;
    this.#onTrusted = undefined;
    fn?.();
  }

  get bufferedBytes(): number {
    return this.#status === 'closed' ? 0 : this.#queuedBytes + this.#socket.writableLength;
  }

  send(frame: Uint8Array): boolean {
    checkSend(this.id, this.#status, frame, this.#s.frameBytesMax);
    const need = prefixBytes + frame.byteLength;
    let tail = this.#tail;
    if (tail === undefined || tail.byteLength - this.#tailUsed < need) {
      this.#seal();
      tail = this.#tail = Buffer.allocUnsafe(Math.max(need, batchBytes));
      this.#tailSent = this.#tailUsed = 0;
    }
    writeLengthPrefix(tail, this.#tailUsed, frame.byteLength);
    tail.set(frame, this.#tailUsed + prefixBytes);
    this.#tailUsed += need;
    this.#queuedBytes += need;
    if (this.#queuedBytes >= flushAtBytes) this.flush();
    else this.scheduleFlush();
    return this.sendAnswer(this.#s.highWaterMarkBytes);
  }

  flushNow(): void {
    this.flush();
  }

  /** Flushes, then says goodbye. */
  protected override beginClose(): void {
    this.#status = 'closing';
    this.#sayGoodbye();
  }

  abort(error?: Error): void {
    this.admitSoon();
    if (this.#status === 'closed') return;
    this.#status = 'closed';
    this.#error = error ?? new ClusterluckError('ABORTED', `connection ${this.id} was aborted`);
    this.#batches = [];
    this.#tail = undefined;
    this.#queuedBytes = 0;
    // A plain TCP socket is reset, dropping what the kernel still buffers; TLS cannot be.
    if (this.#socket instanceof TLSSocket) this.#socket.destroy();
    else this.#socket.resetAndDestroy();
  }

  /** Its owner listens: read the socket (what came meanwhile waited there), and tell a close. */
  protected override onAdmitted(): void {
    this.#startReading();
  }

  #startReading(): void {
    this.#socket.on('data', (chunk: Buffer) => this.#receive(chunk));
  }

  /** Flushes, then sends goodbye and our FIN; bounds how long the peer may take to do the same. */
  #sayGoodbye(): void {
    if (this.#goodbyeSent) return;
    this.#goodbyeSent = true;
    this.flush();
    this.#socket.end(goodbyeBytes);
    this.#closeTimer = setTimeout(() => this.abort(new ClusterluckError('TIMEOUT',
      `connection ${this.id} did not finish closing within ${this.#s.closeTimeoutMs} ms`)), this.#s.closeTimeoutMs).unref();
  }

  #goodbyeFromPeer(): void {
    // The peer will send no more: what we queued still goes out, then our goodbye.
    this.#goodbyeReceived = true;
    if (this.#status === 'open') {
      this.runBeforeFlush();
      this.#status = 'closing';
    }
    this.#sayGoodbye();
  }

  #peerEnded(): void {
    if (this.#goodbyeReceived || this.#status === 'closed') return;
    this.#error ??= new ClusterluckError('CONNECTION_CLOSED', `connection ${this.id} ended without a goodbye: the peer aborted or died`);
    this.#status = 'closed';
    this.#socket.destroy();
  }

  /** Moves what the tail holds since the last flush into the batches; the tail's free rest stays for the next ones. */
  #seal(): void {
    if (this.#tail !== undefined && this.#tailUsed > this.#tailSent) this.#batches.push(this.#tail.subarray(this.#tailSent, this.#tailUsed));
    this.#tailSent = this.#tailUsed;
  }

  protected override flush(): void {
    this.runBeforeFlush();
    if (this.#queuedBytes === 0 || this.#status === 'closed') return;
    this.#seal();
    const batches = this.#batches;
    this.#batches = [];
    this.#queuedBytes = 0;
    const last = batches.length - 1;
    if (last > 0) this.#socket.cork();
    // Our high-water mark may be under the socket's, which then never says 'drain': its write callback does.
    batches.forEach((batch, i) => this.#socket.write(batch, i === last ? this.#afterWrite : undefined));
    if (last > 0) this.#socket.uncork();
  }

  readonly #afterWrite = (): void => this.drainIfDue(this.#s.highWaterMarkBytes);

  /**
   * A flush waits until the callback that sent (a read, a timer) has returned (`process.nextTick`),
   * not for the end of the event loop's turn (`setImmediate`, as before): a release sent from a
   * timer then waited for the poll phase after it, and for every read that phase ran first. A send
   * made in a promise's reaction (a caller's next request, after the answer to its last) queues
   * the tick from a microtask, so it runs once the microtask queue is empty: what the promises a
   * chunk's answers settled send leaves in one write. W1 rose; see the README.
   */
  protected override later(fn: () => void): void {
    process.nextTick(fn);
  }

  /** Cuts `chunk` into frames; the state between chunks is this connection's alone. */
  #receive(chunk: Buffer): void {
    this.#idleTimer?.refresh();
    const end = chunk.byteLength;
    let at = 0;
    while (at < end && this.#status !== 'closed') {
      if (this.#goodbyeReceived) return this.abort(new ClusterluckError('BAD_MESSAGE', `peer of ${this.id} sent bytes after its goodbye`));
      const { frameBytesMax, preAuthFrameBytesMax } = this.#s;
      const step = this.#decoder.next(chunk, at, this.#trusted ? frameBytesMax : Math.min(frameBytesMax, preAuthFrameBytesMax));
      at = step.at;
      switch (step.type) {
        case 'goodbye':
          this.#goodbyeFromPeer();
          continue;
        case 'tooLarge':
          if (step.length > frameBytesMax) {
            return this.abort(new ClusterluckError('BAD_MESSAGE',
              `peer of ${this.id} announced a frame of ${step.length} bytes, over frameBytesMax ${frameBytesMax}`));
          }
          this.#s.stats.tooLargeBeforeAuth++;
          return this.abort(new ClusterluckError('BAD_MESSAGE',
            `peer of ${this.id} announced a frame of ${step.length} bytes before authenticating, over preAuthFrameBytesMax ${preAuthFrameBytesMax}`));
        case 'more':
          if (this.#decoder.partial() !== undefined) this.#armStall();
          return;
        case 'frame':
          clearTimeout(this.#stallTimer);
          this.#stallTimer = undefined;
          this.emit('message', step.frame);
      }
    }
  }

  /** (Re)starts the half-frame timer: more of the frame must come within halfFrameTimeoutMs. */
  #armStall(): void {
    const ms = this.#s.halfFrameTimeoutMs;
    if (ms === 0) return;
    if (this.#stallTimer !== undefined) {
      this.#stallTimer.refresh();
      return;
    }
    this.#stallTimer = setTimeout(() => {
      this.#stallTimer = undefined;
      const partial = this.#decoder.partial();
      if (partial === undefined) return;
      this.#s.stats.stalledMidFrame++;
      this.abort(new ClusterluckError('TIMEOUT', `peer of ${this.id} sent ${partial.received} of a ${partial.length}-byte frame and then nothing for ${ms} ms`));
    }, ms).unref();
  }

  #socketClose(): void {
    this.#status = 'closed';
    this.#batches = [];
    this.#tail = undefined;
    this.#queuedBytes = 0;
    this.#decoder.reset();
    clearTimeout(this.#idleTimer);
    clearTimeout(this.#closeTimer);
    clearTimeout(this.#stallTimer);
    this.#releaseAdmission();
    this.tellClose(this.#error === undefined ? {} : { error: this.#error });
  }
}
