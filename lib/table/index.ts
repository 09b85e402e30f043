// Tables (MTable in memory, DTable on a Storage) and the storage helpers backends share.
export { DTable, type DTableOptions, type DTableStats } from './dtable.js';
export { decodeLog, type LogRead, type LogRecord, type TableChange } from './log-codec.js';
export { MTable } from './mtable.js';
export { decodeSnapshot, type Snapshot } from './snapshot-codec.js';
export { checkStorageKey, isStorageKey } from './storage-keys.js';
export { readStoredState, type StoredState } from './stored-state.js';
export { MapTable, type Table } from './table.js';
