// The browser-safe entry (`clusterluck`): everything but TCP, files and the CLI (see
// `clusterluck/node`). Values are listed by name, so what is public is decided here and
// `test/exports.test.ts` shows every change to it; codecs, helpers and the CLI's parser stay
// internal. Types come from every module, as the options and results of the public values use them.

// Starting a member.
export { ClusterNode, ringIdDefault, syncTimeoutMsDefault } from './cluster/cluster-node.js';
export { createBrowserNode } from './presets/browser-node.js';
export { createWebRtcNode, WebRtcClusterNode } from './presets/webrtc-cluster.js';
export { Room, roomAddress } from './cluster/room.js';
export { nodeMetrics, toPrometheus } from './cluster/metrics.js';

// The seed API's servers and tables.
export { DSMServer, acquireLeaseMsDefault, dsmServerNameDefault } from './dsm/dsm-server.js';
export { Lease } from './dsm/lease.js';
export { DistributedLocks, lockSemaphorePrefix } from './dsm/locks.js';
export { GossipRing } from './gossip/gossip-ring.js';
export { detectionBoundMs } from './gossip/failure-detector.js';
export { HashRing } from './core/hash-ring.js';
export { VectorClock } from './core/vector-clock.js';
export { NetKernel } from './kernel/net-kernel.js';
export { GenServer, noReply } from './kernel/gen-server.js';
export { DTable } from './table/dtable.js';
export { MTable } from './table/mtable.js';

// Errors and events.
export { ClusterluckError, ErrorCodes, isClusterluckError, isErrorCode } from './env/errors.js';
export { TypedEventTarget } from './env/events.js';

// The Env's parts: the platform's, and the in-memory ones for tests.
export { systemClock } from './platform/system-clock.js';
export { cryptoRandom } from './platform/crypto-random.js';
export { consoleLogger } from './platform/console-logger.js';
export { idbStorage } from './platform/storage/idb-storage.browser.js';
export { silentLogger } from './env/logger.js';
export { memoryStorage } from './platform/storage/memory-storage.js';
export { MemoryNetwork } from './transports/memory-network.js';
export { MemorySignalHub } from './transports/webrtc/signal-memory.js';
export { webrtcTransport } from './transports/webrtc/transport.js';
export { peerjsSignaller } from './transports/webrtc/signal-peerjs.js';

// Defaults and limits the options refer to.
export {
  autoRemoveAfterMsDefault, dialTimeoutMsDefault, driftMaxDefault, frameBytesMaxDefault,
  gossipIntervalMsDefault, holderLengthMax, leaseMsMax, leaseMsMaxDefault, nodeIdLengthMax, ownershipLeaseMsDefault,
  probeIntervalMsDefault, semaphoreIdLengthMax, semaphoreLimitMax, suspicionMultDefault,
  webrtcAutoRemoveAfterMsDefault,
} from './constants.js';
export { roomCheckMsDefault } from './cluster/room.js';

export type * from './env/index.js';
export type * from './core/index.js';
export type * from './kernel/index.js';
export type * from './gossip/index.js';
export type * from './dsm/index.js';
export type * from './table/index.js';
export type * from './transports/index.js';
export type * from './cluster/index.js';
export type * from './platform/index.js';
export type * from './presets/webrtc-cluster.js';
export type * from './presets/browser-node.js';
