import type { Clock } from '../env/clock.js';
import { invalidArgument } from '../env/errors.js';
import type { Storage } from '../env/storage.js';
import { isStorageKey } from './storage-keys.js';

/** Options of a {@link DTable} (Clusterluck's names, with storage and clock injected). */
export interface DTableOptions {
  /** Where the log and the snapshot live. */
  readonly storage: Storage;
  /** Times `autoSave` and `fsyncInterval`. */
  readonly clock: Clock;
  /** Table name: storage keys `<name>.log` and `<name>.snap`. @default 'table' */
  readonly name?: string;
  /** Changes after which a snapshot replaces the log. @default 1000 */
  readonly writeThreshold?: number;
  /** Ms after a change before a snapshot is taken, while running. @default 180000 */
  readonly autoSave?: number;
  /** Ms after an append before the log is synced, while running; 0 syncs each change before it resolves. @default 1000 */
  readonly fsyncInterval?: number;
  /** Gzip snapshots (CompressionStream); either kind loads whatever this says. @default false */
  readonly compress?: boolean;
  /** Told about failures of background snapshots and syncs (also counted in `stats`). @default none */
  readonly onError?: (err: unknown) => void;
  /** Decode every log record written and assert it reads back as the change it encodes (for the simulator and tests). @default false */
  readonly checkCodecs?: boolean;
}

/** What a {@link DTable} did; the counters only grow. */
export interface DTableStats {
  loads: number;
  snapshots: number;
  syncs: number;
  /** Storage appends: each carries every change made while the previous one was in flight. */
  appends: number;
  recordsAppended: number;
  /** Torn or corrupt log records skipped by `load`. */
  corruptRecordsSkipped: number;
  /** Background snapshots and syncs that failed. */
  backgroundErrors: number;
  /** Generation of the current log (see {@link DTable}). */
  generation: number;
}

/** The options of a DTable, checked, with the defaults filled in. */
export interface ResolvedDTableOptions {
  readonly storage: Storage;
  readonly clock: Clock;
  readonly name: string;
  readonly writeThreshold: number;
  readonly autoSave: number;
  readonly fsyncInterval: number;
  readonly compress: boolean;
  readonly onError: ((err: unknown) => void) | undefined;
  readonly checkCodecs: boolean;
}

/** Checks DTable options (INVALID_ARGUMENT naming the field) and fills in the defaults. */
export function resolveDTableOptions(options: DTableOptions): ResolvedDTableOptions {
  if (typeof options !== 'object' || options === null) throw invalidArgument('options', options, 'an options object');
  const { storage, clock } = options;
  if (typeof storage?.append !== 'function') throw invalidArgument('storage', storage, 'a Storage');
  if (typeof clock?.setTimer !== 'function') throw invalidArgument('clock', clock, 'a Clock');
  const name = options.name ?? 'table';
  if (!isStorageKey(`${String(name)}.snap`)) throw invalidArgument('name', name, 'a name of [A-Za-z0-9._-] that makes valid storage keys');
  const o = {
    writeThreshold: options.writeThreshold ?? 1000, autoSave: options.autoSave ?? 180_000,
    fsyncInterval: options.fsyncInterval ?? 1000, compress: options.compress ?? false, checkCodecs: options.checkCodecs ?? false,
  };
  if (!Number.isSafeInteger(o.writeThreshold) || o.writeThreshold < 1) throw invalidArgument('writeThreshold', o.writeThreshold, 'a positive integer');
  if (!(Number.isFinite(o.autoSave) && o.autoSave > 0)) throw invalidArgument('autoSave', o.autoSave, 'a positive number of ms');
  if (!(Number.isFinite(o.fsyncInterval) && o.fsyncInterval >= 0)) throw invalidArgument('fsyncInterval', o.fsyncInterval, 'a number of ms ≥ 0');
  if (typeof o.compress !== 'boolean') throw invalidArgument('compress', o.compress, 'a boolean');
  if (typeof o.checkCodecs !== 'boolean') throw invalidArgument('checkCodecs', o.checkCodecs, 'a boolean');
  if (options.onError !== undefined && typeof options.onError !== 'function') throw invalidArgument('onError', options.onError, 'a function');
  return { storage, clock, name, ...o, onError: options.onError };
}
