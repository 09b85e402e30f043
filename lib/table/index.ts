export * from './dtable.js';
export * from './memory-storage.js';
export * from './mtable.js';
export { readLog, readSnapshot, writeRecord, writeSnapshot, type LogOp, type Snapshot } from './table-codec.js';
