// The Node entry: everything of the browser-safe entry, plus TCP, files and createCluster.
import { ClusterNode, type ClusterNodeOptions } from './cluster/cluster-node.js';
import { parseNodeWord } from './cluster/admin-commands.js';
import { invalidArgument } from './env/errors.js';
import { consoleLogger, type LogFormat, type LogLevel } from './platform/console-logger.js';
import { cryptoRandom } from './platform/crypto-random.js';
import { fsStorage } from './platform/storage/fs-storage.node.js';
import { systemClock } from './platform/system-clock.js';
import { tcpTransport, type TcpTransportOptions } from './transports/tcp.js';
import type { WebRtcImplementation } from './transports/webrtc/transport.js';
import { createWebRtcNode, type WebRtcClusterNode, type WebRtcNodeOptions } from './presets/webrtc-cluster.js';

export * from './index.js';
export { fsStorage } from './platform/storage/fs-storage.node.js';
export { nodeHmac } from './platform/hmac.node.js';
export { tcpTransport, type TcpTransportOptions } from './transports/tcp.js';

/** Options of {@link createCluster}. */
export interface CreateClusterOptions extends Omit<ClusterNodeOptions, 'env' | 'address'> {
  /** Interface to listen on. @default '127.0.0.1' */
  readonly host?: string;
  /** TCP port; 0 picks a free one (see `node.self.address`). @default 0 */
  readonly port?: number;
  /** A member to join through: `host:port`, or `id@host:port`. */
  readonly join?: string;
  /** Directory for the semaphore table; when given, semaphores and leases survive restarts. */
  readonly dataDir?: string;
  /** Log level of the console logger. @default 'info' */
  readonly logLevel?: LogLevel;
  /** Line format of the console logger. @default 'text' */
  readonly logFormat?: LogFormat;
  /** TCP options (TLS, limits). */
  readonly tcp?: TcpTransportOptions;
}

/**
 * Starts a Node cluster member over TCP: kernel, GossipRing and a started DSMServer, persisting
 * to `dataDir` when given, and joins the cluster of `join` when given.
 */
export async function createCluster(options: CreateClusterOptions): Promise<ClusterNode> {
  if (typeof options !== 'object' || options === null) throw invalidArgument('options', options, 'an options object');
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw invalidArgument('port', port, 'an integer from 0 to 65535');
  const storage = options.dataDir === undefined ? undefined : fsStorage(options.dataDir);
  const env = {
    clock: systemClock(), random: cryptoRandom(), transport: tcpTransport(options.tcp),
    logger: consoleLogger(options.id, options.logLevel ?? 'info', options.logFormat ?? 'text'), ...(storage === undefined ? {} : { storage }),
  };
  const dsm = { ...(storage === undefined ? {} : { disk: true, path: options.dataDir }), ...options.dsm };
  // The data directory is closed once the node has stopped: nothing writes to it after stop() resolves.
  const held = [...(options.held ?? []), ...(storage === undefined ? [] : [{ release: () => storage.close() }])];
  const node = new ClusterNode({ ...options, env, address: host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`, dsm, held });
  const join = options.join;
  try {
    return await node.start(join === undefined ? {} : { seed: join.includes('@') ? parseNodeWord(join, 'join') : (n) => n.kernel.connectAddress(join) });
  } catch (err) {
    await node.stop({ leave: false }); // not started: releases what it holds (the data directory)
    throw err;
  }
}

/** Options of {@link createWebRtcCluster}. */
export interface CreateWebRtcClusterOptions extends Omit<WebRtcNodeOptions, 'storage' | 'logger' | 'wrtc'> {
  /** Node has no RTCPeerConnection of its own: pass one, e.g. node-datachannel's polyfill (see the README). */
  readonly wrtc: WebRtcImplementation;
  /** Directory for the semaphore table; when given, semaphores and leases survive restarts. */
  readonly dataDir?: string;
  /** Log level of the console logger. @default 'info' */
  readonly logLevel?: LogLevel;
  /** Line format of the console logger. @default 'text' */
  readonly logFormat?: LogFormat;
}

/**
 * Starts a Node member of a WebRTC cluster (the one browser tabs form with `createBrowserNode`):
 * the same node as {@link createWebRtcNode}, with console logging and file persistence.
 */
export async function createWebRtcCluster(options: CreateWebRtcClusterOptions): Promise<WebRtcClusterNode> {
  if (typeof options !== 'object' || options === null) throw invalidArgument('options', options, 'an options object');
  if (typeof options.wrtc?.RTCPeerConnection !== 'function') throw invalidArgument('wrtc', options.wrtc, 'RTC classes such as node-datachannel/polyfill');
  const storage = options.dataDir === undefined ? undefined : fsStorage(options.dataDir);
  return createWebRtcNode({
    ...options,
    logger: consoleLogger(options.id ?? 'webrtc', options.logLevel ?? 'info', options.logFormat ?? 'text'),
    ...(storage === undefined ? {} : { storage }),
    held: [...(options.held ?? []), ...(storage === undefined ? [] : [{ release: () => storage.close() }])],
    dsm: { ...(options.dataDir === undefined ? {} : { path: options.dataDir }), ...options.dsm },
  });
}
