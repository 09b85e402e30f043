export * from './dsm-server.js';
export { parseJob, dsmCommands, type DsmCommand, type DsmJobs } from './job.js';
export type { SemaphoreInfo } from './semaphores.js';
export { Lease } from './lease.js';
export type { HolderState, SemaphoreState, WaiterState } from './query.js';
export { DistributedLocks, lockSemaphorePrefix } from './locks.js';
export type { DistributedLock, DistributedLockInfo, DistributedLockMode, DistributedLockOptions, DistributedLockSnapshot } from './locks.js';
