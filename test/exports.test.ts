// Each package entry's runtime exports, by name: adding or removing one is a decision this test
// makes visible (update the list in the same commit). Types are not listed: they erase.
import { describe, expect, it } from 'vitest';

const browserEntry = [
  'ClusterNode', 'ClusterluckError', 'DSMServer', 'DTable', 'DistributedLocks', 'ErrorCodes', 'GenServer', 'GossipRing', 'HashRing', 'Lease',
  'MTable', 'MemoryNetwork', 'MemorySignalHub', 'NetKernel', 'Room', 'TypedEventTarget', 'VectorClock', 'WebRtcClusterNode',
  'acquireLeaseMsDefault', 'autoRemoveAfterMsDefault', 'consoleLogger', 'createBrowserNode', 'createWebRtcNode', 'cryptoRandom', 'detectionBoundMs',
  'dialTimeoutMsDefault', 'driftMaxDefault', 'dsmServerNameDefault', 'frameBytesMaxDefault', 'gossipIntervalMsDefault',
  'holderLengthMax', 'idbStorage', 'isClusterluckError', 'isErrorCode', 'leaseMsMax', 'leaseMsMaxDefault', 'lockSemaphorePrefix', 'memoryStorage',
  'noReply', 'nodeIdLengthMax', 'nodeMetrics', 'ownershipLeaseMsDefault', 'peerjsSignaller', 'probeIntervalMsDefault',
  'ringIdDefault', 'roomAddress', 'roomCheckMsDefault', 'semaphoreIdLengthMax', 'semaphoreLimitMax', 'silentLogger',
  'suspicionMultDefault', 'syncTimeoutMsDefault', 'systemClock', 'toPrometheus', 'webrtcAutoRemoveAfterMsDefault',
  'webrtcTransport',
];

describe('package entries', () => {
  it('clusterluck exports exactly the chosen names', async () => {
    expect(Object.keys(await import('../lib/index.js')).sort()).toEqual(browserEntry);
  });

  it('clusterluck/node adds TCP, files and the Node presets to them', async () => {
    expect(Object.keys(await import('../lib/node.js')).sort())
      .toEqual([...browserEntry, 'createCluster', 'createWebRtcCluster', 'fsStorage', 'nodeHmac', 'tcpTransport'].sort());
  });

  it('clusterluck/sim exports the simulator, its World, fault schedules, events and checkers', async () => {
    expect(Object.keys(await import('../sim/index.js')).sort()).toEqual([
      'BeliefLog', 'FifoChecker', 'LiveSafety', 'OwnershipSampler', 'SimHost', 'SimProcess', 'ViewLog', 'VirtualClock', 'World',
      'checkFencing', 'checkSafety', 'faultKinds', 'formatInjection', 'formatSimEvent', 'injectedFaultsMax', 'isFaultStory', 'parseInjection',
      'presets', 'scenarios', 'seededRandom', 'semaphoreOf', 'simCookie', 'simNetworkEventKinds', 'simulate', 'violationClasses', 'violationKeys',
    ]);
  });

  it('clusterluck/node-datachannel exports the RTC classes only', async () => {
    expect(Object.keys(await import('../lib/node-datachannel.js')).sort()).toEqual(['nodeDatachannelWrtc']);
  });
});
