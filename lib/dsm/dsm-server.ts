import { notOwnerRetriesMax } from '../constants.js';
import type { HashRing } from '../core/hash-ring.js';
import type { NodeId } from '../core/node-id.js';
import { ClusterluckError, invalidArgument, isClusterluckError, show } from '../env/errors.js';
import type { Random } from '../env/random.js';
import type { Storage } from '../env/storage.js';
import { GenServer, type Job } from '../kernel/gen-server.js';
import type { NetKernel } from '../kernel/net-kernel.js';
import { cryptoRandom } from '../platform/crypto-random.js';
import { calculateWaitTime, isDsmCommand, parseJob, type DsmCommand, type DsmJobs } from './job.js';
import { DsmJournal } from './journal.js';
import { SemaphoreStore, type SemaphoreInfo } from './semaphores.js';

/** What a DSMServer needs of its gossip ring: the current hash ring (GossipRing provides it). */
export interface RingSource {
  ring(): HashRing;
}

/** Options of a {@link DSMServer} (Clusterluck's, plus `storage`). */
export interface DSMServerOptions {
  /** Least wait before retrying a post on a full semaphore, ms. @default 10 */
  readonly minWaitTimeout?: number;
  /** Most wait before retrying a post on a full semaphore, ms. @default 100 */
  readonly maxWaitTimeout?: number;
  /** Persist semaphores and leases through a DTable. @default false */
  readonly disk?: boolean;
  /** Where the table lives: a directory (files) or a database name (IndexedDB). Informational when `storage` is given. */
  readonly path?: string;
  /** Writes between snapshots of the table. @default 1000 */
  readonly writeThreshold?: number;
  /** Interval between snapshots of a changed table, ms. @default 180000 */
  readonly autoSave?: number;
  /** Interval between syncs of the table's log, ms (0: sync every write). @default 1000 */
  readonly fsyncInterval?: number;
  /** Gzip snapshots. @default false */
  readonly compress?: boolean;
  /** Name of the table (never replaced by the server's name). @default 'dsm' */
  readonly name?: string;
  /** Where the table is stored when `disk` is true. @default kernel.env.storage */
  readonly storage?: Storage;
}

/** The name every node's DSMServer registers under unless `start(name)` says otherwise. */
export const dsmServerNameDefault = 'dsm';

type Callback<T> = (err: Error | null, value?: T) => void;

/**
 * The distributed semaphore manager (Clusterluck's DSMServer). Each request goes to the node that
 * owns the semaphore on the hash ring and is served there by the DSMServer registered under the
 * same name. Every method takes Clusterluck's callback, or returns a Promise when it is omitted.
 */
export class DSMServer extends GenServer {
  readonly gossip: RingSource;
  readonly #opts: { minWaitTimeout: number; maxWaitTimeout: number };
  readonly #journal: DsmJournal | undefined;
  readonly #store: SemaphoreStore;

  constructor(gossip: RingSource, kernel: NetKernel, opts: DSMServerOptions = {}) {
    super(kernel);
    if (typeof gossip?.ring !== 'function') throw invalidArgument('gossip', gossip, 'a GossipRing');
    this.gossip = gossip;
    const min = opts.minWaitTimeout ?? 10;
    const max = opts.maxWaitTimeout ?? 100;
    if (!(Number.isFinite(min) && min >= 0)) throw invalidArgument('opts.minWaitTimeout', min, 'a finite number ≥ 0');
    if (!(Number.isFinite(max) && max >= min)) throw invalidArgument('opts.maxWaitTimeout', max, `a finite number ≥ minWaitTimeout (${min})`);
    this.#opts = { minWaitTimeout: min, maxWaitTimeout: max };
    if (opts.disk === true) {
      const storage = opts.storage ?? (kernel.env as { storage?: Storage }).storage;
      if (storage === undefined) throw invalidArgument('opts.storage', storage, 'a Storage when disk is true');
      this.#journal = new DsmJournal(storage, kernel.env.clock, kernel.env.logger, opts);
    }
    this.#store = new SemaphoreStore(kernel.env.clock, this.#journal);
    this.#serve();
  }

  /** A wait in [min, max) ms before a post retries (Clusterluck's static). */
  static calculateWaitTime(min: number, max: number, random: Random = defaultRandom()): number {
    if (!Number.isFinite(min) || min < 0) throw invalidArgument('min', min, 'a finite number ≥ 0');
    if (!Number.isFinite(max) || max < min) throw invalidArgument('max', max, `a finite number ≥ min (${min})`);
    return calculateWaitTime(min, max, () => random.next());
  }

  /** Validates `job` for `command`: the job, or an Error whose `fails` names each bad field. */
  static parseJob(job: unknown, command: unknown): unknown {
    return parseJob(job, command);
  }

  /** Registers as `name` (@default 'dsm', the same on every node) and serves requests. */
  override start(name: string = dsmServerNameDefault): this {
    super.start(name);
    return this;
  }

  /** Waits until idle, then drops in-memory state and closes the table (whose disk state stays). */
  override async stop(): Promise<void> {
    await super.stop();
    this.#store.clear();
    await this.#journal?.stop();
  }

  /** True when no request is in flight and the table has nothing to write. */
  override idle(): boolean {
    return super.idle() && (this.#journal?.idle() ?? true);
  }

  /** How many semaphores this node owns and serves now. */
  ownedCount(): number {
    return this.#store.size;
  }

  /** Restores semaphores and the remaining lease time of their holders from the table. */
  load(cb?: Callback<void>): Promise<void> | undefined {
    return finish(this.#load(), cb);
  }

  /** Creates semaphore `id` with concurrency limit `n` (idempotent for the same `n`). */
  create(id: string, n: number, cb?: Callback<void>, reqTimeout?: number): Promise<void> | undefined {
    return finish(this.#request('create', { id, n }, reqTimeout).then(() => undefined), cb);
  }

  /** Reads `{ n, active }` of semaphore `id`. */
  read(id: string, cb?: Callback<SemaphoreInfo>, reqTimeout?: number): Promise<SemaphoreInfo> | undefined {
    return finish(this.#request('read', { id }, reqTimeout) as Promise<SemaphoreInfo>, cb);
  }

  /** Destroys semaphore `id` with all its holders; an unknown id is fine. */
  destroy(id: string, cb?: Callback<void>, reqTimeout?: number): Promise<void> | undefined {
    return finish(this.#request('destroy', { id }, reqTimeout).then(() => undefined), cb);
  }

  /**
   * Takes a slot of semaphore `id` for `holder` for `timeout` ms. A full semaphore makes it release
   * defensively, wait `calculateWaitTime(min, max)` and retry, `retries` times (@default Infinity).
   * A grant that arrives after `timeout` has passed counts as a failure.
   */
  post(id: string, holder: string, timeout: number, cb?: Callback<void>, reqTimeout?: number, retries?: number): Promise<void> | undefined {
    return finish(this.#post(id, holder, timeout, reqTimeout, retries), cb);
  }

  /** Gives back `holder`'s slot of semaphore `id`; not holding is not an error. */
  close(id: string, holder: string, cb?: Callback<void>, reqTimeout?: number): Promise<void> | undefined {
    return finish(this.#request('close', { id, holder }, reqTimeout).then(() => undefined), cb);
  }

  /** Releases `holder`'s slot of `id` without waiting for an answer. */
  closeAsync(id: string, holder: string): void {
    const job = checked('close', { id, holder });
    try {
      this.cast({ node: this.#owner(job.id), name: this.#name() }, 'close', job);
    } catch (err) {
      this.kernel.env.logger.warn('closeAsync could not be sent', { id, holder, error: String(err) });
    }
  }

  /** Checks a decoded request before any handler runs: a known command with a valid job. */
  override decodeSingleton(job: Job): Job | Error {
    if (!isDsmCommand(job.event)) return parseJob(job.data, job.event) as Error;
    const data = parseJob(job.data, job.event);
    return data instanceof Error ? data : { event: job.event, data };
  }

  async #post(id: string, holder: string, timeout: number, reqTimeout: number | undefined, retries: number | undefined): Promise<void> {
    const job = checked('post', { id, holder, timeout });
    const tries = retries ?? Infinity;
    if (!(tries === Infinity || (Number.isInteger(tries) && tries >= 0))) throw invalidArgument('retries', tries, 'an integer ≥ 0 or Infinity');
    const clock = this.kernel.env.clock;
    for (let attempt = 0; ; attempt++) {
      const sentAt = clock.now();
      let granted: unknown;
      try {
        granted = await this.#request('post', job, reqTimeout);
      } catch (err) {
        // The owner may have granted what we never heard of: release it (Clusterluck's phantom holders).
        if (!isClusterluckError(err, 'INVALID_ARGUMENT') && !isClusterluckError(err, 'NOT_FOUND')) this.closeAsync(id, holder);
        throw err;
      }
      if (granted === true && clock.now() - sentAt < timeout) return;
      this.closeAsync(id, holder);
      if (attempt >= tries) {
        throw new ClusterluckError('SEMAPHORE_FULL', `semaphore ${show(id)} gave holder ${show(holder)} no slot in ${attempt + 1} attempt(s)`);
      }
      await this.#sleep(calculateWaitTime(this.#opts.minWaitTimeout, this.#opts.maxWaitTimeout, () => this.kernel.env.random.next()));
    }
  }

  async #request<C extends DsmCommand>(command: C, job: DsmJobs[C], reqTimeout: number | undefined): Promise<unknown> {
    const valid = checked(command, job);
    const timeoutMs = reqTimeout ?? Infinity;
    if (typeof timeoutMs !== 'number' || !(timeoutMs > 0)) throw invalidArgument('reqTimeout', reqTimeout, 'a positive number of ms or Infinity');
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.call({ node: this.#owner(valid.id), name: this.#name() }, command, valid, { timeoutMs });
      } catch (err) {
        if (!isClusterluckError(err, 'NOT_OWNER') || attempt >= notOwnerRetriesMax) throw err;
        await this.#sleep(this.#opts.maxWaitTimeout);
      }
    }
  }

  #serve(): void {
    const store = this.#store;
    // With disk, a change is answered only once it is on storage: a process killed right after
    // acknowledging a grant still has it when it restarts.
    const durable = <T>(value: T): T | Promise<T> => (this.#journal === undefined ? value : this.#journal.written().then(() => value));
    this.handle('create', (d) => {
      const { id, n } = this.#mine(d as DsmJobs['create']);
      store.create(id, n);
      return durable(null);
    });
    this.handle('read', (d) => store.read(this.#mine(d as DsmJobs['read']).id));
    this.handle('destroy', (d) => {
      store.destroy(this.#mine(d as DsmJobs['destroy']).id);
      return durable(null);
    });
    this.handle('post', (d) => {
      const { id, holder, timeout } = this.#mine(d as DsmJobs['post']);
      return durable(store.post(id, holder, timeout));
    });
    this.handle('close', (d) => {
      const { id, holder } = this.#mine(d as DsmJobs['close']);
      store.close(id, holder);
      return durable(null);
    });
  }

  #mine<J extends { id: string }>(job: J): J {
    const owner = this.gossip.ring().find(job.id);
    if (owner.id !== this.kernel.self.id) {
      throw new ClusterluckError('NOT_OWNER', `node ${show(this.kernel.self.id)} does not own ${show(job.id)}; ${show(owner.id)} does`);
    }
    return job;
  }

  #owner(id: string): NodeId {
    const owner = this.gossip.ring().find(id);
    return owner.id === this.kernel.self.id ? this.kernel.self : owner;
  }

  #name(): string {
    const name = this.name;
    if (name === undefined) throw new ClusterluckError('NOT_RUNNING', 'DSMServer is not started');
    return name;
  }

  async #load(): Promise<void> {
    if (this.#journal === undefined) return;
    for (const { id, n, leases } of await this.#journal.load()) this.#store.restore(id, n, leases);
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.kernel.env.clock.setTimer(ms, resolve));
  }
}

function checked<C extends DsmCommand>(command: C, job: DsmJobs[C]): DsmJobs[C] {
  const parsed = parseJob(job, command);
  if (parsed instanceof Error) throw parsed;
  return parsed;
}

/** Runs Clusterluck's callback (always asynchronously) or hands back the promise. */
function finish<T>(promise: Promise<T>, cb: Callback<T> | undefined): Promise<T> | undefined {
  if (cb === undefined) return promise;
  if (typeof cb !== 'function') {
    promise.catch(() => undefined);
    throw invalidArgument('cb', cb, 'a function or undefined');
  }
  promise.then(
    (value) => cb(null, value),
    (err: unknown) => cb(err instanceof Error ? err : new ClusterluckError('INTERNAL', String(err))),
  );
  return undefined;
}

let sharedRandom: Random | undefined;
function defaultRandom(): Random {
  return (sharedRandom ??= cryptoRandom());
}
