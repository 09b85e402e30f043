import type { Clock } from '../env/clock.js';
import type { Logger } from '../env/logger.js';
import type { Storage } from '../env/storage.js';
import { DTable } from '../table/dtable.js';
import { ClusterluckError, show } from '../env/errors.js';
import type { HolderRecord } from '../core/semaphore.js';
import type { JournaledSemaphore, SemaphoreJournal } from './semaphores.js';

/** Table options a DSMServer passes through (Clusterluck's names). */
export interface JournalOptions {
  readonly name?: string;
  readonly writeThreshold?: number;
  readonly autoSave?: number;
  readonly fsyncInterval?: number;
  readonly compress?: boolean;
  /** Decode each record after encoding it and fail on a difference (the kernel's `checkCodecs`; the simulator turns it on). */
  readonly checkCodecs?: boolean;
}

// Keys are JSON arrays, so no id or holder can collide with another: ["s", id] holds
// [n, last fencing token] or, while holders granted before n was lowered hold more, [n, last
// fencing token, cap]; ["l", id, holder] [ms the lease had when granted or renewed, token] or, for
// a lease of several slots, [ms, token, permits]. Tables written before hold ["h", id, holder]
// [wall-clock expiry, token, permits?] instead (and before fencing tokens bare numbers: n; expiry,
// read as token 0): such a lease is held for the longest a lease can be, since its wall-clock
// expiry says nothing once the clock has been stepped.
const semKey = (id: string): string => JSON.stringify(['s', id]);
const leaseKey = (id: string, holder: string): string => JSON.stringify(['l', id, holder]);
const wallLeaseKey = (id: string, holder: string): string => JSON.stringify(['h', id, holder]);

/** Persists a DSMServer's semaphores and leases in a DTable. */
export class DsmJournal implements SemaphoreJournal {
  readonly #table: DTable<number | number[]>;
  readonly #logger: Logger;

  constructor(storage: Storage, clock: Clock, logger: Logger, opts: JournalOptions) {
    this.#logger = logger;
    const table = { storage, clock, name: opts.name ?? 'dsm' };
    this.#table = new DTable<number | number[]>({
      ...table,
      ...(opts.writeThreshold === undefined ? {} : { writeThreshold: opts.writeThreshold }),
      ...(opts.autoSave === undefined ? {} : { autoSave: opts.autoSave }),
      ...(opts.fsyncInterval === undefined ? {} : { fsyncInterval: opts.fsyncInterval }),
      ...(opts.compress === undefined ? {} : { compress: opts.compress }),
      ...(opts.checkCodecs === undefined ? {} : { checkCodecs: opts.checkCodecs }),
    });
  }

  created(id: string, n: number, lastToken: number, cap?: number): void {
    this.#write(this.#table.set(semKey(id), cap === undefined || cap <= n ? [n, lastToken] : [n, lastToken, cap]));
  }

  granted(id: string, holder: string, holdMs: number, token: number, permits: number): void {
    this.#write(this.#table.set(leaseKey(id, holder), permits === 1 ? [holdMs, token] : [holdMs, token, permits]));
  }

  released(id: string, holder: string): void {
    this.#write(this.#table.delete(leaseKey(id, holder)));
  }

  destroyed(id: string, holders: readonly string[]): void {
    for (const holder of holders) this.released(id, holder);
    this.#write(this.#table.delete(semKey(id)));
  }

  /** Resolves once every change so far is on storage. */
  written(): Promise<void> {
    return this.#table.written();
  }

  /** Resolves once every change so far is on storage and synced (group commit). */
  synced(): Promise<void> {
    return this.#table.synced();
  }

  /** True when nothing is being written. */
  idle(): boolean {
    return this.#table.idle();
  }

  /**
   * Reads the table back; leases whose semaphore is gone are dropped from it, and a lease stored
   * with a wall-clock expiry (by an earlier version) is held for `legacyHoldMs`. STORAGE_CORRUPT on
   * a record of the wrong shape.
   */
  async load(legacyHoldMs: number): Promise<JournaledSemaphore[]> {
    this.#table.start();
    await this.#table.load();
    const sems = new Map<string, { id: string; n: number; lastToken: number; cap?: number; leases: HolderRecord[] }>();
    const leases = new Map<string, [string, string, number, number, number]>();
    const legacy: [string, string, number, number][] = [];
    for (const [key, value] of this.#table.entries()) {
      const k = JSON.parse(key) as unknown[];
      const [a, b, c] = record(key, value, 3);
      if (k[0] === 's') sems.set(k[1] as string, { id: k[1] as string, n: a, lastToken: b, ...(c > a ? { cap: c } : {}), leases: [] });
      else if (k[0] === 'l') leases.set(key, [k[1] as string, k[2] as string, a, b, c]);
      else legacy.push([k[1] as string, k[2] as string, b, c]);
    }
    // An earlier version's records are rewritten in today's form.
    for (const [id, holder, token, permits] of legacy) {
      this.#write(this.#table.delete(wallLeaseKey(id, holder)));
      if (leases.has(leaseKey(id, holder))) continue;
      this.granted(id, holder, legacyHoldMs, token, permits);
      leases.set(leaseKey(id, holder), [id, holder, legacyHoldMs, token, permits]);
    }
    for (const [id, holder, holdMs, token, permits] of leases.values()) {
      const s = sems.get(id);
      if (s === undefined) this.#write(this.#table.delete(leaseKey(id, holder)));
      else s.leases.push(permits === 1 ? [holder, holdMs, token] : [holder, holdMs, token, permits]);
    }
    return [...sems.values()];
  }

  /** Syncs and closes the table; its state stays on storage. */
  async stop(): Promise<void> {
    await this.#table.stop();
  }

  #write(done: Promise<unknown>): void {
    done.catch((err: unknown) => this.#logger.error('semaphore table write failed', { error: String(err) }));
  }
}

/**
 * A stored value as three numbers: `[a, b]` or (with `most` 3) `[a, b, c]` with c a positive
 * integer, or a bare number from before tokens (`[a, 0]`); c is 1 when absent.
 */
function record(key: string, value: unknown, most: 2 | 3): [number, number, number] {
  if (typeof value === 'number' && Number.isFinite(value)) return [value, 0, 1];
  if (Array.isArray(value) && value.length >= 2 && value.length <= most && value.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    const c = (value[2] as number | undefined) ?? 1;
    if (Number.isSafeInteger(c) && c >= 1) return [value[0] as number, value[1] as number, c];
  }
  throw new ClusterluckError('STORAGE_CORRUPT', `semaphore table record ${key} holds ${show(value)}`);
}
