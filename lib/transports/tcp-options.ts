// The TCP transport's options (checked once, TLS files read once), its counters, addresses, and how
// every socket is set up. Node only.
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { createSecureContext, type SecureContext } from 'node:tls';
import { frameBytesMaxDefault, nodeIdLengthMax } from '../constants.js';
import { checkInteger } from '../env/check.js';
import { invalidArgument } from '../env/errors.js';
import type { Address, Transport } from '../env/transport.js';
import { goodbyeLength } from './length-prefix.js';

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

/** TLS settings, checked, with the files read. */
export interface TlsSettings {
  readonly files: { readonly cert: Buffer; readonly key: Buffer; readonly ca?: Buffer };
  readonly context: SecureContext;
  readonly reject: boolean;
  readonly servername: string | undefined;
  readonly handshakeMs: number;
}

/** A TCP transport's options, checked, with the defaults filled in, and its counters. */
export interface Settings {
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

/** Parses `host:port` or `[ipv6]:port`; INVALID_ARGUMENT otherwise. */
export function parseHostPort(address: string): { host: string; port: number } {
  const m = typeof address === 'string' && address.length <= nodeIdLengthMax
    ? /^\[([0-9a-fA-F:.]+)\]:(\d{1,5})$/.exec(address) ?? /^([^\s:[\]]+):(\d{1,5})$/.exec(address) : null;
  const port = Number(m?.[2]);
  if (m === null || port > 65535) throw invalidArgument('address', address, 'host:port or [ipv6]:port');
  return { host: m[1] as string, port };
}

/** `host:port`, with an IPv6 host in brackets. */
export const formatAddress = (host: string | undefined, port: number | undefined): Address =>
  `${host?.includes(':') === true ? `[${host}]` : host ?? '?'}:${port ?? 0}`;

/** Checks the options (INVALID_ARGUMENT naming the field), reads the TLS files, fills in the defaults. */
export function settings(o: TcpTransportOptions): Settings {
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
    frameBytesMax: int('frameBytesMax', o.frameBytesMax ?? frameBytesMaxDefault, 1, goodbyeLength - 1),
    preAuthFrameBytesMax: int('preAuthFrameBytesMax', o.preAuthFrameBytesMax ?? preAuthFrameBytesMaxDefault, 1, goodbyeLength - 1),
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
export function tune(socket: Socket, s: Settings): void {
  socket.setNoDelay(true);
  socket.setKeepAlive(true, s.keepAliveMs);
}
