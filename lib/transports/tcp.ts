// The TCP transport (Node only): u32 big-endian length-prefixed frames over node:net, optionally
// node:tls. Each connection owns its reassembly state (Clusterluck shared one buffer between
// peers, and partial frames from two peers corrupted each other). Frames sent in one tick leave
// in one write: one write per frame caps near 200k frames/s on loopback, batched passes 1M/s.
//
// A graceful close sends the length prefix 0xFFFFFFFF ("goodbye") before its FIN; a stream that
// ends without it was aborted or its process died. TCP alone cannot tell: Linux reports a reset
// that follows unread data as a clean end of stream, and a TLS socket cannot be reset at all.
import { readFileSync } from 'node:fs';
import { isIP, connect as netConnect, createServer as netServer, type Server, type Socket } from 'node:net';
import { connect as tlsConnect, createServer as tlsServer, createSecureContext, TLSSocket, type SecureContext } from 'node:tls';
import { frameBytesMaxDefault, nodeIdLengthMax } from '../constants.js';
import { checkInteger } from '../env/check.js';
import { ClusterluckError, invalidArgument, show } from '../env/errors.js';
import { TypedEventTarget } from '../env/events.js';
import {
  checkSend, type Address, type Connection, type ConnectionEvents, type ConnectionStatus, type DialOptions, type Listener, type ListenerEvents, type Transport,
} from '../env/transport.js';

/** TLS settings of {@link tcpTransport}. Files are PEM, read once when the transport is made. */
export interface TcpTlsOptions {
  /** Path of this node's certificate, presented to every peer. */
  readonly cert: string;
  /** Path of the certificate's private key. */
  readonly key: string;
  /**
   * Path of the CA certificate(s) peers must chain to. When given, listeners also demand a
   * certificate from every dialler (mutual TLS). @default Node's root CAs; no client certificates
   */
  readonly ca?: string;
  /** Refuse peers whose certificate does not verify. @default true */
  readonly rejectUnauthorized?: boolean;
  /**
   * Name a dialled listener's certificate must be issued to (and SNI). Dialling an IP address
   * without it needs that IP in the certificate's subjectAltName. @default the dialled host
   */
  readonly servername?: string;
  /** An inbound handshake that takes longer is dropped before it becomes a connection. @default 10000 */
  readonly handshakeTimeoutMs?: number;
}

/** Options of {@link tcpTransport}. */
export interface TcpTransportOptions {
  /** Largest frame `send` accepts; a longer length prefix received aborts that connection. @default frameBytesMaxDefault (1 MiB) */
  readonly frameBytesMax?: number;
  /** `send` returns false once this many bytes wait to be written (queue + socket buffer). @default 1048576 */
  readonly highWaterMarkBytes?: number;
  /** Idle time before TCP keepalive probes start, so a dead peer is noticed (10 probes 1 s apart follow). @default 10000 */
  readonly keepAliveMs?: number;
  /** Abort a connection with TIMEOUT when nothing was received for this long; 0 turns it off. @default 0 */
  readonly idleTimeoutMs?: number;
  /** A graceful `close()` the peer has not completed after this long becomes an abort with TIMEOUT. @default 10000 */
  readonly closeTimeoutMs?: number;
  /** TLS on every dial and listen of this transport; both ends need it. @default undefined (plain TCP) */
  readonly tls?: TcpTlsOptions;
  /**
   * Largest frame accepted from a peer that has not proved the cookie yet (the kernel's hello and
   * auth frames are at most about 2.1 kB by the id and address length limits); a longer length prefix aborts the connection before any of it
   * is allocated. @default preAuthFrameBytesMaxDefault (4096)
   */
  readonly preAuthFrameBytesMax?: number;
  /** Inbound connections not yet authenticated a listener keeps at once; more are closed at accept. @default 128 */
  readonly unauthenticatedMax?: number;
  /** The same, per remote IP address. @default 16 */
  readonly unauthenticatedPerAddressMax?: number;
  /** Abort a connection whose peer sent part of a frame and then nothing for this long (a stalled half-frame); 0 turns it off. @default 30000 */
  readonly halfFrameTimeoutMs?: number;
}

/** Default of {@link TcpTransportOptions.preAuthFrameBytesMax}. */
export const preAuthFrameBytesMaxDefault = 4096;

/** What a TCP transport refused; counters only grow. */
export interface TcpTransportStats {
  /** Inbound connections closed at accept: too many not yet authenticated (in all, or from one address). */
  refusedUnauthenticated: number;
  /** Connections aborted because a peer not yet authenticated announced a frame over `preAuthFrameBytesMax`. */
  tooLargeBeforeAuth: number;
  /** Connections aborted because a half-received frame stalled for `halfFrameTimeoutMs`. */
  stalledMidFrame: number;
}

/** A TCP transport, with what it refused. */
export interface TcpTransport extends Transport {
  readonly stats: TcpTransportStats;
}

interface TlsSettings {
  readonly files: { readonly cert: Buffer; readonly key: Buffer; readonly ca?: Buffer };
  readonly context: SecureContext;
  readonly reject: boolean;
  readonly servername: string | undefined;
  readonly handshakeMs: number;
}

interface Settings {
  readonly frameBytesMax: number;
  readonly preAuthFrameBytesMax: number;
  readonly unauthenticatedMax: number;
  readonly unauthenticatedPerAddressMax: number;
  readonly halfFrameTimeoutMs: number;
  readonly stats: TcpTransportStats;
  readonly highWaterMarkBytes: number;
  readonly keepAliveMs: number;
  readonly idleTimeoutMs: number;
  readonly closeTimeoutMs: number;
  readonly tls: TlsSettings | undefined;
}

const prefixBytes = 4;
/** The length prefix that ends a stream gracefully; never a frame length. */
const goodbye = 0xffff_ffff;
const goodbyeBytes = Buffer.from([0xff, 0xff, 0xff, 0xff]);
/** Size of the buffers that sends in one tick are copied into; a larger frame gets its own. */
const batchBytes = 64 * 1024;

/** Parses `host:port` or `[ipv6]:port`; INVALID_ARGUMENT otherwise. */
export function parseHostPort(address: string): { host: string; port: number } {
  const m = typeof address === 'string' && address.length <= nodeIdLengthMax
    ? /^\[([0-9a-fA-F:.]+)\]:(\d{1,5})$/.exec(address) ?? /^([^\s:[\]]+):(\d{1,5})$/.exec(address) : null;
  const port = Number(m?.[2]);
  if (m === null || port > 65535) throw invalidArgument('address', address, 'host:port or [ipv6]:port');
  return { host: m[1] as string, port };
}

const formatAddress = (host: string | undefined, port: number | undefined): Address =>
  `${host?.includes(':') === true ? `[${host}]` : host ?? '?'}:${port ?? 0}`;

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
      const conn = await connect(host, port, s, signal, address, (socket) => open(socket, true, address));
      // Hold inbound events until whatever awaits `dial` (and its own awaits) has run.
      setImmediate(() => conn.admit());
      return conn;
    },
  };
}

function settings(o: TcpTransportOptions): Settings {
  const int = (field: string, value: unknown, min: number, max = 2 ** 31 - 1): number => checkInteger(`options.${field}`, value, min, max);
  const t = o.tls;
  if (t !== undefined && (typeof t !== 'object' || t === null)) throw invalidArgument('options.tls', t, 'TLS options');
  const read = (field: string, path: unknown): Buffer => {
    if (typeof path !== 'string' || path === '') throw invalidArgument(`options.tls.${field}`, path, 'a file path');
    return readFileSync(path);
  };
  const files = t === undefined ? undefined
    : { cert: read('cert', t.cert), key: read('key', t.key), ...(t.ca === undefined ? {} : { ca: read('ca', t.ca) }) };
  return {
    frameBytesMax: int('frameBytesMax', o.frameBytesMax ?? frameBytesMaxDefault, 1, goodbye - 1),
    preAuthFrameBytesMax: int('preAuthFrameBytesMax', o.preAuthFrameBytesMax ?? preAuthFrameBytesMaxDefault, 1, goodbye - 1),
    unauthenticatedMax: int('unauthenticatedMax', o.unauthenticatedMax ?? 128, 1),
    unauthenticatedPerAddressMax: int('unauthenticatedPerAddressMax', o.unauthenticatedPerAddressMax ?? 16, 1),
    halfFrameTimeoutMs: int('halfFrameTimeoutMs', o.halfFrameTimeoutMs ?? 30_000, 0),
    stats: { refusedUnauthenticated: 0, tooLargeBeforeAuth: 0, stalledMidFrame: 0 },
    highWaterMarkBytes: int('highWaterMarkBytes', o.highWaterMarkBytes ?? 1024 * 1024, 1, Number.MAX_SAFE_INTEGER),
    keepAliveMs: int('keepAliveMs', o.keepAliveMs ?? 10_000, 1000),
    idleTimeoutMs: int('idleTimeoutMs', o.idleTimeoutMs ?? 0, 0),
    closeTimeoutMs: int('closeTimeoutMs', o.closeTimeoutMs ?? 10_000, 1),
    tls: t === undefined || files === undefined ? undefined : {
      files, context: createSecureContext(files), reject: t.rejectUnauthorized ?? true, servername: t.servername,
      handshakeMs: int('tls.handshakeTimeoutMs', t.handshakeTimeoutMs ?? 10_000, 1),
    },
  };
}

/** No Nagle delay (frames are batched per tick instead), and keepalive probes for dead peers. */
function tune(socket: Socket, s: Settings): void {
  socket.setNoDelay(true);
  socket.setKeepAlive(true, s.keepAliveMs);
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

/** Accepts connections on one TCP address. */
class TcpListener extends TypedEventTarget<ListenerEvents> implements Listener {
  readonly address: Address;
  readonly #server: Server;
  #closed = false;

  constructor(server: Server, address: Address) {
    super();
    this.#server = server;
    this.address = address;
  }

  get closed(): boolean {
    return this.#closed;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Stops accepting at once; its callback would wait for the connections we keep, so not awaited.
    this.#server.close();
    this.emit('close');
  }
}

function listen(address: Address, s: Settings, open: (socket: Socket) => TcpConnection): Promise<Listener> {
  const { host, port } = parseHostPort(address);
  return new Promise((resolve, reject) => {
    let listener: TcpListener | undefined;
    // Connections that have not proved the cookie yet, in all and per remote address: a budget, so
    // whoever can open sockets cannot make the node hold more than a few kilobytes for each.
    let unauthenticated = 0;
    const byAddress = new Map<string, number>();
    const accept = (socket: Socket): void => {
      if (listener === undefined || listener.closed) return void socket.destroy();
      const from = socket.remoteAddress ?? '?';
      const fromThere = byAddress.get(from) ?? 0;
      if (unauthenticated >= s.unauthenticatedMax || fromThere >= s.unauthenticatedPerAddressMax) {
        s.stats.refusedUnauthenticated++;
        return void socket.destroy();
      }
      unauthenticated++;
      byAddress.set(from, fromThere + 1);
      const conn = open(socket);
      conn.onceTrusted(() => {
        unauthenticated--;
        const left = (byAddress.get(from) ?? 1) - 1;
        if (left === 0) byAddress.delete(from);
        else byAddress.set(from, left);
      });
      listener.emit('connection', conn);
    };
    const tls = s.tls;
    const server = tls === undefined ? netServer({ allowHalfOpen: true }, accept) : tlsServer({
      ...tls.files, allowHalfOpen: true, requestCert: tls.files.ca !== undefined, rejectUnauthorized: tls.reject,
      handshakeTimeout: tls.handshakeMs,
    }, accept);
    server.on('connection', (raw: Socket) => {
      tune(raw, s);
      if (tls !== undefined) raw.on('error', () => undefined);
    });
    // A failed or timed-out handshake (plain bytes, silence, an untrusted certificate) is dropped.
    server.on('tlsClientError', (_err: Error, socket: Socket) => socket.destroy());
    server.once('error', (err: NodeJS.ErrnoException) => reject(err.code === 'EADDRINUSE'
      ? new ClusterluckError('ADDRESS_IN_USE', `address ${show(address)} is already in use`, { cause: err })
      : invalidArgument('address', address, `an address this host can listen on (${err.code ?? err.message})`)));
    server.listen({ host, port }, () => {
      const bound = server.address();
      listener = new TcpListener(server, formatAddress(host, typeof bound === 'object' && bound !== null ? bound.port : port));
      // Accept errors (EMFILE, ...) must not crash the node; the listener keeps going.
      server.on('error', () => undefined);
      resolve(listener);
    });
  });
}

/** One TCP (or TLS) connection carrying length-prefixed frames. */
class TcpConnection extends TypedEventTarget<ConnectionEvents> implements Connection {
  readonly id: string;
  readonly localAddress: Address;
  readonly remoteAddress: Address;
  readonly outbound: boolean;
  readonly #socket: Socket;
  readonly #s: Settings;
  #status: ConnectionStatus = 'open';
  /** Sent bytes not yet handed to the socket: full batches, then the one being filled. */
  #batches: Buffer[] = [];
  #tail: Buffer | undefined;
  #tailUsed = 0;
  #queuedBytes = 0;
  #flushQueued = false;
  #drainOwed = false;
  /** Reassembly: the length prefix read so far, then the frame being filled. */
  readonly #prefix = new Uint8Array(prefixBytes);
  #prefixUsed = 0;
  #frame: Uint8Array | undefined;
  #frameUsed = 0;
  #goodbyeSent = false;
  #goodbyeReceived = false;
  #error: Error | undefined;
  #admitted = false;
  #socketClosed = false;
  #closeDispatched = false;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  /** Armed while a frame is half received: a peer that stops mid-frame is dropped. */
  #stallTimer: ReturnType<typeof setTimeout> | undefined;
  /** Set once the kernel saw the peer prove the cookie: frames up to frameBytesMax from then on. */
  #trusted = false;
  /** Called once, when the connection is authenticated or closed, whichever comes first (frees its admission slot). */
  #onTrusted: (() => void) | undefined;
  readonly #whenClosed: Promise<void>;
  #resolveClosed!: () => void;

  constructor(id: string, socket: Socket, outbound: boolean, local: Address, remote: Address, s: Settings) {
    super();
    this.id = id;
    this.outbound = outbound;
    this.localAddress = local;
    this.remoteAddress = remote;
    this.#socket = socket;
    this.#s = s;
    this.#whenClosed = new Promise((resolve) => (this.#resolveClosed = resolve));
    socket.on('error', (err: Error) => {
      this.#error ??= new ClusterluckError('CONNECTION_CLOSED', `connection ${id} failed: ${err.message}`, { cause: err });
    });
    socket.on('end', () => this.#peerEnded());
    socket.on('close', () => this.#socketClose());
    if (s.idleTimeoutMs > 0) {
      this.#idleTimer = setTimeout(() => this.abort(new ClusterluckError('TIMEOUT',
        `nothing received on connection ${id} for ${s.idleTimeoutMs} ms`)), s.idleTimeoutMs).unref();
    }
    if (!outbound) this.admit();
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
    }
    tail.writeUInt32BE(frame.byteLength, this.#tailUsed);
    tail.set(frame, this.#tailUsed + prefixBytes);
    this.#tailUsed += need;
    this.#queuedBytes += need;
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(() => this.#flush());
    }
    if (this.bufferedBytes < this.#s.highWaterMarkBytes) return true;
    this.#drainOwed = true;
    return false;
  }

  close(): Promise<void> {
    if (this.#status === 'open') {
      this.#status = 'closing';
      this.#sayGoodbye();
    }
    return this.#whenClosed;
  }

  abort(error?: Error): void {
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

  /** Internal: starts delivering inbound events (at once for accepted connections). */
  admit(): void {
    if (this.#admitted) return;
    this.#admitted = true;
    this.#socket.on('data', (chunk: Buffer) => this.#receive(chunk));
    if (this.#socketClosed) this.#dispatchClose();
  }

  /** Flushes, then sends goodbye and our FIN; bounds how long the peer may take to do the same. */
  #sayGoodbye(): void {
    if (this.#goodbyeSent) return;
    this.#goodbyeSent = true;
    this.#flush();
    this.#socket.end(goodbyeBytes);
    this.#closeTimer = setTimeout(() => this.abort(new ClusterluckError('TIMEOUT',
      `connection ${this.id} did not finish closing within ${this.#s.closeTimeoutMs} ms`)), this.#s.closeTimeoutMs).unref();
  }

  #goodbyeFromPeer(): void {
    // The peer will send no more: what we queued still goes out, then our goodbye.
    this.#goodbyeReceived = true;
    if (this.#status === 'open') this.#status = 'closing';
    this.#sayGoodbye();
  }

  #peerEnded(): void {
    if (this.#goodbyeReceived || this.#status === 'closed') return;
    this.#error ??= new ClusterluckError('CONNECTION_CLOSED', `connection ${this.id} ended without a goodbye: the peer aborted or died`);
    this.#status = 'closed';
    this.#socket.destroy();
  }

  #seal(): void {
    if (this.#tail !== undefined && this.#tailUsed > 0) this.#batches.push(this.#tail.subarray(0, this.#tailUsed));
    this.#tail = undefined;
    this.#tailUsed = 0;
  }

  #flush(): void {
    this.#flushQueued = false;
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

  readonly #afterWrite = (): void => this.#maybeDrain();

  #maybeDrain(): void {
    if (this.#drainOwed && this.#status === 'open' && this.bufferedBytes < this.#s.highWaterMarkBytes) {
      this.#drainOwed = false;
      this.emit('drain');
    }
  }

  /** Cuts `chunk` into frames; the state between chunks is this connection's alone. */
  #receive(chunk: Buffer): void {
    this.#idleTimer?.refresh();
    const end = chunk.byteLength;
    let at = 0;
    while (at < end && this.#status !== 'closed') {
      if (this.#goodbyeReceived) return this.abort(new ClusterluckError('BAD_MESSAGE', `peer of ${this.id} sent bytes after its goodbye`));
      let frame = this.#frame;
      if (frame === undefined) {
        let length: number;
        if (this.#prefixUsed === 0 && end - at >= prefixBytes) {
          length = chunk.readUInt32BE(at);
          at += prefixBytes;
        } else {
          while (this.#prefixUsed < prefixBytes && at < end) this.#prefix[this.#prefixUsed++] = chunk[at++] as number;
          if (this.#prefixUsed < prefixBytes) return;
          this.#prefixUsed = 0;
          length = new DataView(this.#prefix.buffer).getUint32(0);
        }
        if (length === goodbye) {
          this.#goodbyeFromPeer();
          continue;
        }
        if (length > this.#s.frameBytesMax) {
          return this.abort(new ClusterluckError('BAD_MESSAGE',
            `peer of ${this.id} announced a frame of ${length} bytes, over frameBytesMax ${this.#s.frameBytesMax}`));
        }
        if (!this.#trusted && length > this.#s.preAuthFrameBytesMax) {
          this.#s.stats.tooLargeBeforeAuth++;
          return this.abort(new ClusterluckError('BAD_MESSAGE',
            `peer of ${this.id} announced a frame of ${length} bytes before authenticating, over preAuthFrameBytesMax ${this.#s.preAuthFrameBytesMax}`));
        }
        frame = new Uint8Array(length);
        if (end - at >= length) {
          frame.set(chunk.subarray(at, at + length));
          at += length;
          this.emit('message', frame);
          continue;
        }
        this.#frame = frame;
        this.#frameUsed = 0;
      }
      const take = Math.min(frame.byteLength - this.#frameUsed, end - at);
      frame.set(chunk.subarray(at, at + take), this.#frameUsed);
      this.#frameUsed += take;
      at += take;
      if (this.#frameUsed < frame.byteLength) return this.#armStall();
      this.#frame = undefined;
      clearTimeout(this.#stallTimer);
      this.#stallTimer = undefined;
      this.emit('message', frame);
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
      if (this.#frame === undefined) return;
      this.#s.stats.stalledMidFrame++;
      this.abort(new ClusterluckError('TIMEOUT', `peer of ${this.id} sent ${this.#frameUsed} of a ${this.#frame.byteLength}-byte frame and then nothing for ${ms} ms`));
    }, ms).unref();
  }

  #socketClose(): void {
    this.#socketClosed = true;
    this.#status = 'closed';
    this.#batches = [];
    this.#tail = undefined;
    this.#queuedBytes = 0;
    this.#frame = undefined;
    clearTimeout(this.#idleTimer);
    clearTimeout(this.#closeTimer);
    clearTimeout(this.#stallTimer);
    this.#releaseAdmission();
    if (this.#admitted) this.#dispatchClose();
  }

  #dispatchClose(): void {
    if (this.#closeDispatched) return;
    this.#closeDispatched = true;
    this.emit('close', this.#error === undefined ? {} : { error: this.#error });
    this.#resolveClosed();
  }
}
