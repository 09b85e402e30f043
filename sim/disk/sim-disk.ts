// A simulated disk (FoundationDB style): writes and appends are visible at once but durable only
// after sync(key); crash() destroys everything unsynced and, optionally, tears the last unsynced
// append in half. Reads and syncs take a seeded time (0 to `latencyMaxMs`) on the process's clock,
// so what a node does while its disk is busy shows. Deterministic: any randomness comes from the
// injected Random.
import { ClusterluckError } from '../../lib/env/errors.js';
import type { Clock } from '../../lib/env/clock.js';
import type { Random } from '../../lib/env/random.js';
import type { Storage } from '../../lib/env/storage.js';
import { checkStorageKey, storageClosed } from '../../lib/table/storage-keys.js';

/** Options of a {@link SimDisk}. */
export interface SimDiskOptions {
  /** Decides torn appends on crash. */
  readonly random: Random;
  /** Chance that a crash keeps a random prefix of the last unsynced append of a key. @default 0 */
  readonly tornWriteProbability?: number;
  /** Most time a read or a sync takes, ms (each draws from [0, this) with `latencyRandom`). @default 0 */
  readonly latencyMaxMs?: number;
  /** Draws the latencies (its own stream, so torn writes draw the same with or without latency). */
  readonly latencyRandom?: Random;
}

/** One node's disk: survives crashes of the node (not its unsynced data). */
export class SimDisk {
  /** What sync made durable. */
  readonly #durable = new Map<string, Uint8Array>();
  /** What the running process sees (durable plus unsynced). */
  readonly #visible = new Map<string, Uint8Array>();
  /** For each key with unsynced appends: the visible length before the last one. */
  readonly #lastAppendAt = new Map<string, number>();
  /** For each appended key: the buffer its visible bytes start, with room to grow after them. */
  readonly #room = new Map<string, Uint8Array>();
  readonly #opts: SimDiskOptions;
  #generation = 0;
  /** Counters. */
  readonly stats = { crashes: 0, tornWrites: 0, bytesLost: 0 };

  constructor(options: SimDiskOptions) {
    this.#opts = options;
  }

  /** A Storage view for the process running now, its reads and syncs timed on `clock`; a crash closes it. */
  storage(clock?: Clock): Storage {
    const generation = this.#generation;
    const maxMs = this.#opts.latencyMaxMs ?? 0;
    const latencyRandom = this.#opts.latencyRandom;
    const busy = clock === undefined || maxMs <= 0 || latencyRandom === undefined ? async (): Promise<void> => undefined
      : (): Promise<void> => new Promise((resolve) => clock.setTimer(latencyRandom.next() * maxMs, resolve));
    let closed = false;
    const live = (): void => {
      if (generation !== this.#generation) throw new ClusterluckError('NOT_RUNNING', 'the process that opened this storage crashed');
      if (closed) throw storageClosed();
    };
    const open = (key: unknown): void => {
      checkStorageKey(key);
      live();
    };
    return {
      read: async (key) => {
        open(key);
        await busy();
        live();
        return this.#visible.get(key)?.slice();
      },
      write: async (key, bytes) => {
        open(key);
        this.#visible.set(key, bytes.slice());
        this.#lastAppendAt.delete(key);
      },
      append: async (key, bytes) => {
        open(key);
        const old = this.#visible.get(key) ?? new Uint8Array(0);
        this.#visible.set(key, this.#grow(key, old, bytes));
        this.#lastAppendAt.set(key, old.byteLength);
      },
      delete: async (key) => {
        open(key);
        this.#visible.delete(key);
        this.#lastAppendAt.delete(key);
      },
      list: async (prefix = '') => (live(), [...this.#visible.keys()].filter((k) => k.startsWith(prefix)).sort()),
      sync: async (key) => {
        open(key);
        await busy();
        live();
        const v = this.#visible.get(key);
        // The visible bytes only ever grow past their end (see #grow), so the durable prefix can share them.
        if (v === undefined) this.#durable.delete(key);
        else this.#durable.set(key, v);
        this.#lastAppendAt.delete(key);
      },
      close: async () => {
        closed = true;
      },
    };
  }

  /**
   * `old` (what `key` shows) followed by `bytes`: written into room kept after `old` when `old` is
   * the start of the key's growing buffer, else into a new buffer twice as large, so a log of n
   * appends costs O(n) copying, not O(n²). Bytes before `old`'s end are never written again (the
   * durable copy and earlier views share them).
   */
  #grow(key: string, old: Uint8Array, bytes: Uint8Array): Uint8Array {
    const length = old.byteLength + bytes.byteLength;
    let room = this.#room.get(key);
    if (room === undefined || room.buffer !== old.buffer || old.byteOffset !== 0 || room.byteLength < length) {
      room = new Uint8Array(Math.max(length, 2 * old.byteLength, 256));
      room.set(old);
      this.#room.set(key, room);
    }
    room.set(bytes, old.byteLength);
    return room.subarray(0, length);
  }

  /** What `key` holds durably (what a restart would read), for checkers looking from outside; no latency. */
  peek(key: string): Uint8Array | undefined {
    return this.#durable.get(key)?.slice();
  }

  /** Everything is gone, synced or not (a replaced disk); views opened before are closed. */
  wipe(): void {
    this.#generation++;
    this.stats.bytesLost += [...this.#visible.values()].reduce((n, v) => n + v.byteLength, 0);
    this.#durable.clear();
    this.#visible.clear();
    this.#lastAppendAt.clear();
    this.#room.clear();
  }

  /** The process died: unsynced data is lost (the last unsynced append may survive torn). */
  crash(): void {
    this.#generation++;
    this.stats.crashes++;
    const p = this.#opts.tornWriteProbability ?? 0;
    for (const [key, visible] of this.#visible) {
      const durable = this.#durable.get(key);
      const at = this.#lastAppendAt.get(key);
      if (p > 0 && at !== undefined && durable !== undefined && at >= durable.byteLength && this.#opts.random.next() < p) {
        // Keep everything up to the last append plus a random part of it: a torn record.
        const cut = at + Math.floor(this.#opts.random.next() * (visible.byteLength - at));
        this.#durable.set(key, visible.slice(0, cut));
        this.stats.tornWrites++;
      }
      this.stats.bytesLost += Math.max(0, visible.byteLength - (this.#durable.get(key)?.byteLength ?? 0));
    }
    this.#visible.clear();
    for (const [key, bytes] of this.#durable) this.#visible.set(key, bytes.slice());
    this.#lastAppendAt.clear();
    this.#room.clear();
  }
}
