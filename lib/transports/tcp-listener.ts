// The TCP listener (Node only): accepts connections on one address, within a budget of
// connections that have not proved the cookie yet.
import { createServer as netServer, type Server, type Socket } from 'node:net';
import { createServer as tlsServer } from 'node:tls';
import { assert } from '../env/assert.js';
import { ClusterluckError, invalidArgument, show } from '../env/errors.js';
import { TypedEventTarget } from '../env/events.js';
import type { Address, Connection, Listener, ListenerEvents } from '../env/transport.js';
import { formatAddress, parseHostPort, tune, type Settings } from './tcp-options.js';

/** An accepted connection, with the hook that frees its admission slot. */
export interface Admitted extends Connection {
  /** `fn` runs once, when this connection is authenticated or closes. */
  onceTrusted(fn: () => void): void;
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

/**
 * Listens on `address`; `open` makes each accepted socket a connection. Inbound connections not
 * yet authenticated are admitted within a budget, in all and per remote address.
 */
export function listen(address: Address, s: Settings, open: (socket: Socket) => Admitted): Promise<Listener> {
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
        assert(unauthenticated >= 0, 'a connection leaves the unauthenticated budget once');
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
