import type { Storage } from '../env/storage.js';
import { decodeLog, type TableChange } from './log-codec.js';
import { decodeSnapshot } from './snapshot-codec.js';

/** What a table's storage holds, read back: the snapshot plus the log records it does not hold. */
export interface StoredState {
  readonly entries: Map<string, unknown>;
  /** The highest generation seen, in the snapshot or the log: the next snapshot takes a higher one. */
  readonly generation: number;
  /** Intact records in the log (replayed or not). */
  readonly logRecords: number;
  /** Torn or corrupt stretches of the log, skipped. */
  readonly corrupt: number;
}

/** Applies one change to a map. */
export function applyChange<V>(map: Map<string, V>, change: TableChange): void {
  if (change[0] === 's') map.set(change[1], change[2] as V);
  else if (change[0] === 'd') map.delete(change[1]);
  else map.clear();
}

/**
 * Reads table `name` from `storage` (keys `<name>.snap`, `<name>.log`). Log records older than the
 * snapshot's generation are already in it and are skipped. A corrupt snapshot is STORAGE_CORRUPT;
 * a damaged log record is skipped and counted.
 */
export async function readStoredState(storage: Storage, name: string): Promise<StoredState> {
  const snapBytes = await storage.read(`${name}.snap`);
  const snap = snapBytes === undefined ? undefined : await decodeSnapshot(snapBytes, name);
  const logBytes = await storage.read(`${name}.log`);
  const { records, corrupt } = logBytes === undefined ? { records: [], corrupt: 0 } : decodeLog(logBytes);
  const from = snap?.generation ?? 0;
  const entries = new Map<string, unknown>(snap?.entries ?? []);
  let generation = from;
  for (const r of records) {
    if (r.generation >= from) applyChange(entries, r.change);
    generation = Math.max(generation, r.generation);
  }
  return { entries, generation, logRecords: records.length, corrupt };
}
