// `clusterluck/sim`: the deterministic simulator, for running the shipped code (and your own
// clients and invariants) on a virtual clock, a simulated network and simulated disks. Names
// are listed on purpose; test/exports.test.ts fails when the list changes.

export {
  simulate, scenarios,
  type SimulationOptions, type SimulationSummary, type ScenarioName,
  type Invariant, type InvariantContext, type UserWorkload, type WorkloadContext,
} from './world/simulation.js';
export { World, SimHost, SimProcess, presets, simCookie, type WorldOptions, type Preset } from './world/world.js';
export { faultKinds, violationKeys, type FaultKind, type FaultRecord, type MsRange, type ScheduledFault } from './world/faults.js';
export { formatInjection, parseInjection, injectedFaultsMax } from './world/inject-text.js';
export { seededRandom, type SeededRandom } from './world/seeded-random.js';
export {
  formatSimEvent, isFaultStory, semaphoreOf,
  type SimEvent, type SimEventListener, type RunEvent, type ClientKind, type ProcessEvent, type OperatorEvent, type ViewEvent, type MemberEvent,
  type GrantEvent, type RenewEvent, type ReleaseEvent, type RefuseEvent, type ChurnEvent, type OwnerEvent, type FaultEvent,
  type NetEvent, type ViolationEvent,
} from './world/sim-event.js';
export { simNetworkEventKinds, type SimNetworkEvent, type SimNetworkEventKind } from './network/sim-net-event.js';
export { checkSafety, checkFencing, violationClasses, type Belief, type Violation, type ViolationClass } from './checkers/checker.js';
export { BeliefLog, LiveSafety } from './checkers/belief-log.js';
export { FifoChecker } from './checkers/fifo-checker.js';
export { ViewLog, OwnershipSampler, type OwnerProbe } from './checkers/view-checker.js';
export { VirtualClock } from './clock/virtual-clock.js';
