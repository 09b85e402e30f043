// The TCP transport (Node only): length-prefixed frames over node:net (or node:tls), one
// reassembly buffer per connection, writes batched per tick, no Nagle delay. Reconnecting is the
// kernel's job (it re-dials with backoff and queues while down), not the transport's.
import { readFileSync } from 'node:fs';
import { connect as netConnect, createServer as netServer, type Server, type Socket } from 'node:net';
import { connect as tlsConnect, createServer as tlsServer } from 'node:tls';
import { frameBytesMaxDefault } from '../constants.js';
import { ClusterluckError, invalidArgument } from '../env/errors.js';
import { TypedEventTarget } from '../env/events.js';
import type { Connection, ListenerEvents, Listener, Transport } from '../env/transport.js';
import { TcpConnection } from './tcp-connection.js';

/** Options of {@link tcpTransport}. */
export interface TcpTransportOptions {
  /** Largest frame sent or accepted; a longer length prefix on receive aborts that connection. @default 1 MiB */
  readonly frameBytesMax?: number;
  /** `send` returns false once this many bytes wait to be written. @default 1 MiB */
  readonly highWaterMarkBytes?: number;
  /** TCP keepalive probe delay, so a dead peer is noticed. @default 10000 */
  readonly keepAliveMs?: number;
  /** Abort a connection with TIMEOUT after this long without traffic; 0 = never. @default 0 */
  readonly idleTimeoutMs?: number;
  /** TLS with certificate and key files (PEM); both sides need it. */
  readonly tls?: { readonly cert: string; readonly key: string; readonly ca?: string; readonly rejectUnauthorized?: boolean };
}

/** Parses `host:port` or `[v6]:port`. */
export function parseHostPort(address: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(address) ?? /^([^:]+):(\d+)$/.exec(address);
  const port = Number(m?.[2]);
  if (m === null || !Number.isInteger(port) || port < 0 || port > 65535) throw invalidArgument('address', address, 'host:port');
  return { host: m[1] as string, port };
}

const formatAddress = (host: string, port: number): string => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);

/** A {@link Transport} over TCP. */
export function tcpTransport(options: TcpTransportOptions = {}): Transport {
  const limits = {
    frameBytesMax: options.frameBytesMax ?? frameBytesMaxDefault,
    highWaterMarkBytes: options.highWaterMarkBytes ?? 1024 * 1024,
    keepAliveMs: options.keepAliveMs ?? 10_000,
    idleTimeoutMs: options.idleTimeoutMs ?? 0,
  };
  const tls = options.tls === undefined ? undefined : {
    cert: readFileSync(options.tls.cert), key: readFileSync(options.tls.key),
    ...(options.tls.ca === undefined ? {} : { ca: readFileSync(options.tls.ca) }),
    rejectUnauthorized: options.tls.rejectUnauthorized ?? true,
  };
  let next = 0;
  const wrap = (socket: Socket, outbound: boolean): TcpConnection => {
    socket.setNoDelay(true);
    socket.setKeepAlive(true, limits.keepAliveMs);
    const local = formatAddress(socket.localAddress ?? '?', socket.localPort ?? 0);
    const remote = formatAddress(socket.remoteAddress ?? '?', socket.remotePort ?? 0);
    return new TcpConnection(`tcp:${local}>${remote}#${++next}`, socket, local, remote, outbound, limits);
  };
  return {
    name: 'tcp',
    frameBytesMax: limits.frameBytesMax,
    listen: (address) => listen(address, tls, (s) => wrap(s, false)),
    dial(address, { signal }) {
      const { host, port } = parseHostPort(address);
      if (signal.aborted) return Promise.reject(signal.reason as Error);
      return new Promise<Connection>((resolve, reject) => {
        const ready = tls === undefined ? 'connect' : 'secureConnect';
        const socket = tls === undefined
          ? netConnect({ host, port })
          : tlsConnect({ host, port, ...tls, servername: host === '127.0.0.1' || host.includes(':') ? 'localhost' : host });
        const onAbort = (): void => {
          socket.destroy();
          reject(signal.reason as Error);
        };
        signal.addEventListener('abort', onAbort, { once: true });
        socket.once('error', (err: NodeJS.ErrnoException) => {
          signal.removeEventListener('abort', onAbort);
          reject(err.code === 'ECONNREFUSED'
            ? new ClusterluckError('CONNECTION_REFUSED', `nobody listens on ${address}`, { cause: err })
            : new ClusterluckError('CONNECTION_CLOSED', `dial ${address} failed: ${err.message}`, { cause: err }));
        });
        socket.once(ready, () => {
          signal.removeEventListener('abort', onAbort);
          socket.removeAllListeners('error');
          resolve(wrap(socket, true));
        });
      });
    },
  };
}

class TcpListener extends TypedEventTarget<ListenerEvents> implements Listener {
  readonly address: string;
  readonly #server: Server;
  constructor(server: Server, address: string) {
    super();
    this.#server = server;
    this.address = address;
  }
  async close(): Promise<void> {
    if (!this.#server.listening) return;
    // server.close() stops accepting at once; its callback waits for every connection, which we keep.
    this.#server.close();
    this.dispatchEvent(new Event('close'));
  }
}

function listen(address: string, tls: object | undefined, wrap: (s: Socket) => TcpConnection): Promise<Listener> {
  const { host, port } = parseHostPort(address);
  return new Promise((resolve, reject) => {
    let listener: TcpListener | undefined;
    const accept = (socket: Socket): void => {
      if (listener === undefined) return void socket.destroy();
      listener.emit('connection', wrap(socket));
    };
    const server = tls === undefined ? netServer(accept) : tlsServer(tls, accept);
    server.once('error', (err: NodeJS.ErrnoException) => reject(err.code === 'EADDRINUSE'
      ? new ClusterluckError('ADDRESS_IN_USE', `${address} is already in use`, { cause: err })
      : new ClusterluckError('CONNECTION_REFUSED', `cannot listen on ${address}: ${err.message}`, { cause: err })));
    server.on('tlsClientError', () => undefined);
    server.listen(port, host, () => {
      const bound = server.address();
      const actual = typeof bound === 'object' && bound !== null ? bound.port : port;
      listener = new TcpListener(server, formatAddress(host, actual));
      server.on('error', () => undefined);
      resolve(listener);
    });
  });
}
