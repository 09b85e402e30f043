// The DSMServer: Clusterluck's API (each method with its callback and Promise overloads), the
// caller's side of every request (routing to the owner, re-sending while ownership moves,
// defensive releases) and the owner's side of every command (the ownership gate, freshness,
// durable answers, the waiter queue's answers). Over 300 lines because both sides of each command
// share its validation and its wire job; the pure parts live beside it (job.ts, acquire.ts,
// lease.ts, query.ts, handoff.ts, and the state machine in ../core/semaphore.ts).
import { driftMaxDefault, leaseMsMaxDefault, notOwnerRetriesMax, ownershipWaitingMax } from '../constants.js';
import type { HashRing } from '../core/hash-ring.js';
import type { NodeId } from '../core/node-id.js';
import type { Ownership } from '../core/ownership-lease.js';
import { tokenBase } from '../core/semaphore.js';
import type { View } from '../core/view.js';
import { toHex } from '../env/bytes.js';
import type { TimerHandle } from '../env/clock.js';
import { TypedEventTarget } from '../env/events.js';
import { Handoff, handoffEvent, parseHandoff, type HandoffMessage } from './handoff.js';
import { ClusterluckError, invalidArgument, isClusterluckError, show, stacklessError } from '../env/errors.js';
import type { Random } from '../env/random.js';
import type { Storage } from '../env/storage.js';
import type { From } from '../kernel/actor.js';
import { GenServer, noReply, type Job } from '../kernel/gen-server.js';
import type { NetKernel } from '../kernel/net-kernel.js';
import { cryptoRandom } from '../platform/crypto-random.js';
import { calculateWaitTime, isDsmCommand, parseJob, type DsmCommand, type DsmJobs } from './job.js';
import { DsmJournal } from './journal.js';
import { SemaphoreStore, type SemaphoreInfo } from './semaphores.js';
import { Lease } from './lease.js';
import { acquireLease, type AcquireOptions } from './acquire.js';
export { acquireLeaseMsDefault, type AcquireOptions } from './acquire.js';
import type { WaiterEndReason, WaiterOutcome } from '../core/semaphore.js';
import { describeSemaphore, keyParts, type SemaphoreState } from './query.js';
import { StallWatch } from './stall-watch.js';

/** What a DSMServer needs of its gossip ring (GossipRing provides it all). */
export interface RingSource {
  /** The hash ring of the current view: who owns what. */
  ring(): HashRing;
  /** Whether this node may serve `key` now; without it, owning `key` on the ring is enough. */
  ownership?(key: string): Ownership;
  /** How long a request may wait at this node for its ownership to settle. */
  ownershipWaitMs?(): number;
  /**
   * Whether the ring keeps its view (and with it this node's incarnation and vote) in storage, as a
   * GossipRing with storage does: a node restarting on it serves its keys at once, with no
   * lock-delay, so the DSM must keep its table there too (`disk: true`).
   */
  readonly viewStored?: boolean;
  /** The decided view, and its `view` events (a GossipRing has both): with them the DSM hands semaphores over on view changes. */
  view?(): View | undefined;
  readonly events?: TypedEventTarget<{ view: CustomEvent<{ view: View; previous: View | undefined }> }>;
  /**
   * `from` handed off what it owned as of view `number`, its own lock-delay still running
   * `remainingMs`; resolves once that is stored, so that a restart does not wait out the delay again.
   */
  release?(from: string, number: number, remainingMs: number, movedOn?: boolean): Promise<void> | void;
  /** How long this node's own lock-delays still run, ms. */
  remainingDelayMs?(): number;
  /** `from` handed over `key` with its state as of view `number`; its own delay held it back `remainingMs` more. */
  releaseKey?(key: string, from: string, number: number, remainingMs: number): void;
  /** How long this node's own lock-delays still hold `key` back, ms (0 when not). */
  heldMs?(key: string): number;
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
  /**
   * Interval between background syncs of the table's log, ms (0: sync every write). Changes a
   * client is answered about (grants, creates, closes, destroys) are synced before the answer
   * whatever this says (group commit, one sync per tick); it governs the rest (expiries). With
   * `safety: 'clusterluck'` answers wait only for the append, and this is how long an
   * acknowledged grant may be lost on a crash. @default 1000
   */
  readonly fsyncInterval?: number;
  /**
   * `'clusterluck'` turns off what Clusterluck did not have (durable acknowledgements; and, with
   * the design's later rules, hand-over of state) so the simulator can show what they buy.
   * @default 'strict'
   */
  readonly safety?: 'strict' | 'clusterluck';
  /** ρ, the bound on any clock's rate error: a slot is kept `timeout·(1+ρ)²` on the owner's clock. @default 0.01 */
  readonly driftMax?: number;
  /**
   * The longest lease a post may ask for, ms; a longer `timeout` is INVALID_ARGUMENT (long
   * holders refresh). The ring's lock-delay covers it: give the GossipRing the same value
   * (ClusterNode does). @default 60000
   */
  readonly leaseMsMax?: number;
  /** Gzip snapshots. @default false */
  readonly compress?: boolean;
  /** Name of the table (never replaced by the server's name). @default 'dsm' */
  readonly name?: string;
  /** Where the table is stored when `disk` is true. @default kernel.env.storage */
  readonly storage?: Storage;
}

/** Most grants a client remembers believing in (for renewals); beyond it, a failed renewal releases as Clusterluck did. */
const believedMax = 65_536;

/** How often the stall watch ticks, ms: stalls of this process longer than two ticks are seen. */
const stallTickMs = 100;

/** How often a request waiting for its ownership to settle looks again, ms. */
const ownershipPollMs = 50;

/** The name every node's DSMServer registers under unless `start(name)` says otherwise. */
export const dsmServerNameDefault = 'dsm';

/** A Clusterluck-style callback: `(err)` on failure, `(null, value)` on success. */
export type Callback<T> = (err: Error | null, value?: T) => void;

/** A grant or refresh this node made as owner, at the instant it made it (before it is synced and answered). */
export interface GrantDetail {
  readonly id: string;
  readonly holder: string;
  readonly token: number;
  /** The lease asked for, ms. */
  readonly timeout: number;
}

/** A holder of a semaphore, as events name it: a lease shows its holder's name and the first characters of its key. */
export interface HolderDetail {
  readonly id: string;
  readonly holder: string;
  /** The shown part of a lease's key ('' for a post). */
  readonly lease: string;
}

/**
 * Events of a {@link DSMServer}, on `dsm.events`. As owner: `grant`, `released`, `expired`,
 * `waiting`, `handoff`; as a client: `lost`.
 */
export interface DsmEvents {
  /** Every grant and refresh this node makes as owner (an audit trail; the simulator checks each one). */
  grant: CustomEvent<GrantDetail>;
  /** A holder gave its slots back, or lost them to a destroy or a steal. */
  released: CustomEvent<HolderDetail>;
  /** A lease ran out. */
  expired: CustomEvent<HolderDetail>;
  /** An acquire queued here, at `position` (0: the head). */
  waiting: CustomEvent<HolderDetail & { readonly position: number; readonly permits: number }>;
  /** An acquire queued here stopped waiting without a grant (its grant is a `grant`). */
  waitEnded: CustomEvent<HolderDetail & { readonly reason: WaiterEndReason }>;
  /** A semaphore's state came in from its previous owner, or went out to its next. */
  handoff: CustomEvent<{ readonly id: string; readonly direction: 'in' | 'out' }>;
  /** A lease this node held is lost: its signal aborted with `reason`. */
  lost: CustomEvent<{ readonly id: string; readonly token: number; readonly reason: unknown }>;
}

/** What {@link DSMServer.stats} reports. */
export interface DsmStats {
  /** Grants and refreshes this node made as owner. */
  readonly grants: number;
  /** Slots given back (close, destroy). */
  readonly releases: number;
  /** Leases that ran out (while running, or while the node was down). */
  readonly expirations: number;
  /** Semaphores this node owns now. */
  readonly owned: number;
  /** Requests waiting for ownership to settle, and acquires queued for room. */
  readonly waiting: number;
  /** Whether semaphore states are on their way to new owners. */
  readonly handingOff: boolean;
}

/**
 * The distributed semaphore manager (Clusterluck's DSMServer). Each request goes to the node that
 * owns the semaphore on the hash ring and is served there by the DSMServer registered under the
 * same name. Every method takes Clusterluck's callback, or returns a Promise when it is omitted.
 */
export class DSMServer extends GenServer {
  readonly gossip: RingSource;
  /** What this node does as owner and loses as a client: see {@link DsmEvents}. */
  readonly events = new TypedEventTarget<DsmEvents>();
  readonly #opts: { minWaitTimeout: number; maxWaitTimeout: number };
  readonly #journal: DsmJournal | undefined;
  readonly #store: SemaphoreStore;
  readonly #safety: 'strict' | 'clusterluck';
  readonly #leaseMsMax: number;
  readonly #handoff: Handoff | undefined;
  /** (1+ρ)²: how much longer than measured here a request may have waited in real time, against its caller's clock. */
  readonly #stretch: number;
  readonly #stalls: StallWatch;
  #stallTimer: TimerHandle | undefined;
  /** Grants this client got and still believes in, by [id, holder], until when on each clock: a failed renewal must not release them. */
  readonly #believed = new Map<string, { mono: number; wall: number; attempt: string }>();
  /** Leases this node holds as a client, by key (a `stolen` names them). */
  readonly #leases = new Map<string, Lease>();
  /** Acquires queued at this owner, by [id, key]: answered when the queue grants or ends them. */
  readonly #queued = new Map<string, From>();
  /** Resolves with `value` once the changes so far are durable (synced; written only with `safety: 'clusterluck'`). */
  readonly #durable: <T>(value: T) => T | Promise<T>;
  /** Requests waiting for their key's ownership to settle, in arrival order, per key. */
  readonly #waiting = new Map<string, { entries: { run: () => unknown; resolve: (v: unknown) => void; reject: (e: unknown) => void }[]; deadline: number; timer?: TimerHandle | undefined }>();
  /** Set while a re-check of every waiting key is due (see {@link #recheckSoon}). */
  #recheckTimer: TimerHandle | undefined;

  constructor(gossip: RingSource, kernel: NetKernel, opts: DSMServerOptions = {}) {
    super(kernel);
    if (typeof gossip?.ring !== 'function') throw invalidArgument('gossip', gossip, 'a GossipRing');
    this.gossip = gossip;
    const min = opts.minWaitTimeout ?? 10;
    const max = opts.maxWaitTimeout ?? 100;
    if (!(Number.isFinite(min) && min >= 0)) throw invalidArgument('opts.minWaitTimeout', min, 'a finite number ≥ 0');
    if (!(Number.isFinite(max) && max >= min)) throw invalidArgument('opts.maxWaitTimeout', max, `a finite number ≥ minWaitTimeout (${min})`);
    this.#opts = { minWaitTimeout: min, maxWaitTimeout: max };
    const safety = opts.safety ?? 'strict';
    if (safety !== 'strict' && safety !== 'clusterluck') throw invalidArgument('opts.safety', safety, "'strict' or 'clusterluck'");
    this.#safety = safety;
    // A table in memory beside a stored view: after a restart the node serves at once on its stored
    // view with an empty table, and grants again slots whose holders still hold them.
    if (gossip.viewStored === true && opts.disk !== true) {
      throw invalidArgument('opts.disk', opts.disk, 'true when the ring stores its view (a restart would grant again what its holders still hold)');
    }
    if (opts.disk === true) {
      const storage = opts.storage ?? (kernel.env as { storage?: Storage }).storage;
      if (storage === undefined) throw invalidArgument('opts.storage', storage, 'a Storage when disk is true');
      this.#journal = new DsmJournal(storage, kernel.env.clock, kernel.env.logger, { ...opts, checkCodecs: kernel.checkCodecs });
    }
    const driftMax = opts.driftMax ?? driftMaxDefault;
    if (typeof driftMax !== 'number' || !(driftMax >= 0 && driftMax < 1)) throw invalidArgument('opts.driftMax', driftMax, 'a number in [0, 1)');
    const journal = this.#journal;
    this.#durable = journal === undefined ? <T>(value: T): T => value
      : this.#safety === 'clusterluck' ? <T>(value: T): Promise<T> => journal.written().then(() => value)
      : <T>(value: T): Promise<T> => journal.synced().then(() => value);
    this.#store = new SemaphoreStore(kernel.env.clock, this.#journal, this.#safety === 'clusterluck' ? 0 : driftMax, {
      onWaiter: (o) => this.#waiterDone(o),
      mayGrant: (id) => this.#ownership(id).state === 'owner',
      base: () => tokenBase(this.gossip.view?.()?.number ?? 0),
      onChange: (c) => {
        if (c.type === 'released') this.events.emit(c.expired ? 'expired' : 'released', { id: c.id, ...keyParts(c.holder) });
        else if (c.type === 'destroyed') for (const h of c.holders) this.events.emit('released', { id: c.id, ...keyParts(h) });
      },
      onHandoff: (id, direction) => {
        this.events.emit('handoff', { id, direction });
        // The queue that came with it waits here now, in its order.
        if (direction === 'in') this.#store.waiters(id).forEach((w, position) => this.events.emit('waiting', { id, ...keyParts(w.key), position, permits: w.permits }));
      },
    });
    this.#stretch = (1 + driftMax) ** 2;
    this.#stalls = new StallWatch(stallTickMs, kernel.env.clock.now());
    const leaseMsMax = opts.leaseMsMax ?? leaseMsMaxDefault;
    if (typeof leaseMsMax !== 'number' || !(leaseMsMax > 0) || !Number.isFinite(leaseMsMax)) throw invalidArgument('opts.leaseMsMax', leaseMsMax, 'a positive number of ms');
    this.#leaseMsMax = leaseMsMax;
    this.#handoff = this.#safety === 'clusterluck' ? undefined : this.#handoffFor(gossip);
    // Waiters of nodes that left the view will never take their grant: they go.
    gossip.events?.addEventListener('view', (e) => {
      const members = new Set(e.detail.view.members.map((m) => m.id));
      this.#store.dropCallers((c) => c === this.kernel.self.id || members.has(c));
      this.#recheckSoon(); // a key may have moved away, or come here with no delay
    });
    this.#serve();
  }

  /** The longest lease a post may ask for, ms. */
  get leaseMsMax(): number {
    return this.#leaseMsMax;
  }

  #handoffFor(ring: RingSource): Handoff | undefined {
    const { view, events, release, remainingDelayMs, releaseKey, heldMs } = ring;
    if (view === undefined || events === undefined || release === undefined || remainingDelayMs === undefined || releaseKey === undefined || heldMs === undefined) {
      return undefined;
    }
    const journal = this.#journal;
    const handoff = new Handoff({
      kernel: this.kernel, store: this.#store, name: () => this.name,
      view: () => view.call(ring),
      owner: (id) => {
        const r = ring.ring();
        return r.size() === 0 ? '' : r.find(id).id; // '' once this node left: nobody to hand to
      },
      serving: (id) => this.#ownership(id).state === 'owner',
      release: (from, number, remainingMs, movedOn) => release.call(ring, from, number, remainingMs, movedOn),
      remainingDelayMs: () => remainingDelayMs.call(ring),
      releaseKey: (id, from, number, remainingMs) => releaseKey.call(ring, id, from, number, remainingMs),
      heldMs: (id) => heldMs.call(ring, id),
      synced: () => journal?.synced() ?? Promise.resolve(),
      settled: () => this.#recheckSoon(),
      retryMs: 1000,
    });
    events.addEventListener('view', (e) => {
      if (this.name !== undefined) handoff.onView(e.detail.view, e.detail.previous);
      else handoff.missed(e.detail.view, e.detail.previous);
    });
    return handoff;
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
    const clock = this.kernel.env.clock;
    const tick = (): void => {
      this.#stalls.observe(clock.now());
      this.#stallTimer = clock.setTimer(stallTickMs, tick);
    };
    tick();
    // Semaphores loaded from storage that views adopted meanwhile gave to others go to them now.
    const view = this.gossip.view?.();
    if (view !== undefined) this.#handoff?.onView(view, undefined);
    return this;
  }

  /**
   * Waits for handoffs in flight (at most 5 s: a graceful leave hands its semaphores over), then
   * until idle, then drops in-memory state and closes the table (whose disk state stays).
   */
  override async stop(): Promise<void> {
    if (this.#stallTimer !== undefined) this.kernel.env.clock.cancelTimer(this.#stallTimer);
    this.#stallTimer = undefined;
    // Acquires queued here are asked again by their callers (at the next owner, or here after a restart).
    for (const [k, from] of [...this.#queued]) {
      this.#queued.delete(k);
      this.replyError(from, new ClusterluckError('NOT_RUNNING', 'the DSMServer is stopping'));
    }
    // Requests waiting for ownership to settle will not see it settle here.
    if (this.#recheckTimer !== undefined) this.kernel.env.clock.cancelTimer(this.#recheckTimer);
    this.#recheckTimer = undefined;
    for (const [id, q] of [...this.#waiting]) {
      this.#waiting.delete(id);
      if (q.timer !== undefined) this.kernel.env.clock.cancelTimer(q.timer);
      for (const e of q.entries) e.reject(new ClusterluckError('NOT_RUNNING', 'the DSMServer is stopping'));
    }
    // Semaphores on their way to their new owners (after a graceful leave: all of them) go first.
    if (this.#handoff?.sending() === true) await this.#handoff.drain(5000);
    this.#handoff?.stop();
    // Idle includes the table, whose writes finish without a request finishing: look again until it is.
    let stopped = false;
    const stopping = super.stop().finally(() => {
      stopped = true;
    });
    while (!stopped) {
      await Promise.race([stopping, this.#sleep(10)]);
      this.recheckIdle();
    }
    await stopping;
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

  /** What this node did as owner (counters only grow) and holds now. */
  stats(): DsmStats {
    let waiting = 0;
    for (const q of this.#waiting.values()) waiting += q.entries.length;
    waiting += this.#queued.size;
    return { ...this.#store.counts, owned: this.#store.size, waiting, handingOff: this.#handoff?.sending() === true };
  }

  /** Restores semaphores and the remaining lease time of their holders from the table. */
  load(cb?: undefined): Promise<void>;
  load(cb: Callback<void>): undefined;
  load(cb?: Callback<void>): Promise<void> | undefined;
  load(cb?: Callback<void>): Promise<void> | undefined {
    return finish(this.#load(), cb);
  }

  /** Creates semaphore `id` with concurrency limit `n` (idempotent for the same `n`). */
  create(id: string, n: number, cb?: undefined, reqTimeout?: number): Promise<void>;
  create(id: string, n: number, cb: Callback<void>, reqTimeout?: number): undefined;
  create(id: string, n: number, cb?: Callback<void>, reqTimeout?: number): Promise<void> | undefined;
  create(id: string, n: number, cb?: Callback<void>, reqTimeout?: number): Promise<void> | undefined {
    return finish(this.#request('create', { id, n }, reqTimeout).then(() => undefined), cb);
  }

  /** Reads `{ n, active }` of semaphore `id`. */
  read(id: string, cb?: undefined, reqTimeout?: number): Promise<SemaphoreInfo>;
  read(id: string, cb: Callback<SemaphoreInfo>, reqTimeout?: number): undefined;
  read(id: string, cb?: Callback<SemaphoreInfo>, reqTimeout?: number): Promise<SemaphoreInfo> | undefined;
  read(id: string, cb?: Callback<SemaphoreInfo>, reqTimeout?: number): Promise<SemaphoreInfo> | undefined {
    return finish(this.#request('read', { id }, reqTimeout) as Promise<SemaphoreInfo>, cb);
  }

  /**
   * Changes the limit of semaphore `id` to `n`, live. Raising it lets waiters in at once; lowering
   * it revokes nobody: new grants wait until fewer than `n` slots are held, and waiting acquires
   * for more than `n` permits end with INVALID_ARGUMENT.
   */
  setLimit(id: string, n: number, cb?: undefined, reqTimeout?: number): Promise<void>;
  setLimit(id: string, n: number, cb: Callback<void>, reqTimeout?: number): undefined;
  setLimit(id: string, n: number, cb?: Callback<void>, reqTimeout?: number): Promise<void> | undefined;
  setLimit(id: string, n: number, cb?: Callback<void>, reqTimeout?: number): Promise<void> | undefined {
    return finish(this.#request('setLimit', { id, n }, reqTimeout).then(() => undefined), cb);
  }

  /** Destroys semaphore `id` with all its holders; an unknown id is fine. */
  destroy(id: string, cb?: undefined, reqTimeout?: number): Promise<void>;
  destroy(id: string, cb: Callback<void>, reqTimeout?: number): undefined;
  destroy(id: string, cb?: Callback<void>, reqTimeout?: number): Promise<void> | undefined;
  destroy(id: string, cb?: Callback<void>, reqTimeout?: number): Promise<void> | undefined {
    return finish(this.#request('destroy', { id }, reqTimeout).then(() => undefined), cb);
  }

  /**
   * Takes a slot of semaphore `id` for `holder` for `timeout` ms. A full semaphore makes it release
   * defensively, wait `calculateWaitTime(min, max)` and retry, `retries` times (@default Infinity).
   * A grant that arrives after `timeout` has passed counts as a failure. The callback's second
   * argument (the Promise's value) is the grant's fencing token: larger than every token granted
   * before for `id`, by any owner; a refresh by the same holder keeps it.
   */
  post(id: string, holder: string, timeout: number, cb?: undefined, reqTimeout?: number, retries?: number): Promise<number>;
  post(id: string, holder: string, timeout: number, cb: Callback<number>, reqTimeout?: number, retries?: number): undefined;
  post(id: string, holder: string, timeout: number, cb?: Callback<number>, reqTimeout?: number, retries?: number): Promise<number> | undefined;
  post(id: string, holder: string, timeout: number, cb?: Callback<number>, reqTimeout?: number, retries?: number): Promise<number> | undefined {
    return finish(this.#post(id, holder, timeout, reqTimeout, retries), cb);
  }

  /** Gives back `holder`'s slot of semaphore `id`; not holding is not an error, an unknown `id` is NOT_FOUND. */
  close(id: string, holder: string, cb?: undefined, reqTimeout?: number): Promise<void>;
  close(id: string, holder: string, cb: Callback<void>, reqTimeout?: number): undefined;
  close(id: string, holder: string, cb?: Callback<void>, reqTimeout?: number): Promise<void> | undefined;
  close(id: string, holder: string, cb?: Callback<void>, reqTimeout?: number): Promise<void> | undefined {
    this.#believed.delete(JSON.stringify([id, holder]));
    return finish(this.#request('close', { id, holder }, reqTimeout).then(() => undefined), cb);
  }

  /**
   * Takes `permits` slots of semaphore `id` as one {@link Lease}. Requests queue at the owner in
   * arrival order and the grant is pushed when the slots free (no polling); a waiter at the head is
   * not overtaken, by a later acquire or by a `post`. Resolves with the lease, or `null` with
   * `ifAvailable` when it is not free now. A wait that is aborted or times out leaves nothing at
   * the owner. The lease renews itself while held (`refresh`), and its `signal` aborts with
   * LEASE_LOST the moment this node can no longer be sure it holds.
   */
  acquire(id: string, options: AcquireOptions = {}): Promise<Lease | null> {
    return this.#acquire(id, options);
  }

  /**
   * The holders and waiters of semaphore `id`, asked of its owner; without `id`, of every semaphore
   * this node owns now. Lease keys are shown only by a prefix: they alone release a lease.
   */
  query(id: string, reqTimeout?: number): Promise<SemaphoreState>;
  query(id?: undefined): Promise<SemaphoreState[]>;
  query(id?: string, reqTimeout?: number): Promise<SemaphoreState | SemaphoreState[]> {
    if (id === undefined) return Promise.resolve([...this.#store.ids()].map((s) => this.#describe(s)));
    return this.#request('query', { id }, reqTimeout) as Promise<SemaphoreState>;
  }

  /** The holders and waiters of every semaphore, asked of every member of the ring (those that do not answer within `reqTimeout` are left out). */
  async queryAll(reqTimeout = 5000): Promise<SemaphoreState[]> {
    const name = this.#name();
    const answers = await Promise.all(this.gossip.ring().nodes().map((node) =>
      (this.call({ node: node.id === this.kernel.self.id ? this.kernel.self : node, name }, 'query', {}, { timeoutMs: reqTimeout }) as Promise<SemaphoreState[]>)
        .catch((err: unknown) => {
          this.kernel.env.logger.warn('query: a member did not answer', { node: node.id, error: String(err) });
          return [];
        })));
    return answers.flat().sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Releases `holder`'s slot of `id` without waiting for an answer. */
  closeAsync(id: string, holder: string): void {
    this.#closeAsync(id, holder, undefined);
  }

  /** {@link closeAsync}, releasing only what post attempt `attempt` granted when given. */
  #closeAsync(id: string, holder: string, attempt: string | undefined): void {
    const job = checked('close', attempt === undefined ? { id, holder } : { id, holder, attempt });
    this.#believed.delete(JSON.stringify([id, holder]));
    try {
      this.cast({ node: this.#owner(job.id), name: this.#name() }, 'close', job);
    } catch (err) {
      this.kernel.env.logger.warn('closeAsync could not be sent', { id, holder, error: String(err) });
    }
  }

  /** Checks a decoded request before any handler runs: a known command with a valid job. */
  override decodeSingleton(job: Job): Job | Error {
    if (job.event === handoffEvent) {
      try {
        return { event: job.event, data: parseHandoff(job.data) };
      } catch (err) {
        return err instanceof Error ? err : new ClusterluckError('BAD_MESSAGE', String(err));
      }
    }
    if (!isDsmCommand(job.event)) return parseJob(job.data, job.event) as Error;
    const data = parseJob(job.data, job.event);
    return data instanceof Error ? data : { event: job.event, data };
  }

  async #post(id: string, holder: string, timeout: number, reqTimeout: number | undefined, retries: number | undefined): Promise<number> {
    const job = checked('post', { id, holder, timeout });
    if (timeout > this.#leaseMsMax) throw this.#tooLong(timeout);
    const tries = retries ?? Infinity;
    if (!(tries === Infinity || (Number.isInteger(tries) && tries >= 0))) throw invalidArgument('retries', tries, 'an integer ≥ 0 or Infinity');
    const clock = this.kernel.env.clock;
    for (let attempt = 0; ; attempt++) {
      const sent = { mono: clock.now() + timeout, wall: clock.wallNow() + timeout };
      // Names this attempt, so its defensive release undoes only what it may have granted, even when
      // that release arrives after a later attempt's grant (it waited in a queue to an unreachable owner).
      const named = { ...job, attempt: toHex(this.kernel.env.random.bytes(8)) };
      let granted: unknown;
      const sends = { count: 0 };
      try {
        granted = await this.#request('post', named, reqTimeout, undefined, sends);
      } catch (err) {
        // The owner may have granted what we never heard of: release it (Clusterluck's phantom holders).
        if (!isClusterluckError(err, 'INVALID_ARGUMENT') && !isClusterluckError(err, 'NOT_FOUND') && !isClusterluckError(err, 'NOT_A_MEMBER')) this.#releaseUnlessHeld(id, holder, named.attempt);
        throw err;
      }
      // A lease ends when either clock says so: a sleeping laptop's monotonic clock stops while
      // real time (and the owner's clock) goes on; a wall clock can be set back.
      if (typeof granted === 'number' && this.#believes(sent)) {
        this.#believe(id, holder, { ...sent, attempt: named.attempt });
        return granted;
      }
      // Refused by the only owner it reached (the kernel delivers a frame at most once): this attempt
      // holds nothing anywhere, and only an earlier grant may need letting go.
      this.#releaseUnlessHeld(id, holder, named.attempt, granted === false && sends.count === 1);
      if (attempt >= tries) {
        throw stacklessError('SEMAPHORE_FULL', `semaphore ${show(id)} gave holder ${show(holder)} no slot in ${attempt + 1} attempt(s)`);
      }
      await this.#sleep(calculateWaitTime(this.#opts.minWaitTimeout, this.#opts.maxWaitTimeout, () => this.kernel.env.random.next()));
    }
  }

  #acquire(id: string, o: AcquireOptions): Promise<Lease | null> {
    return acquireLease({
      clock: this.kernel.env.clock, random: this.kernel.env.random, selfId: this.kernel.self.id, leaseMsMax: this.#leaseMsMax,
      request: (command, job, reqTimeoutMs, signal) => this.#request(command, job as DsmJobs['acquire'] & DsmJobs['renew'], reqTimeoutMs, signal),
      releaseKey: (key) => this.#releaseKey(id, key),
      lease: (key, init) => {
        const lease = new Lease({ ...this.#leaseHost(id, key), lost: (reason) => this.events.emit('lost', { id, token: init.token, reason }) }, init);
        this.#leases.set(key, lease);
        return lease;
      },
    }, id, o);
  }

  #leaseHost(id: string, key: string): ConstructorParameters<typeof Lease>[0] {
    return {
      clock: this.kernel.env.clock, logger: this.kernel.env.logger,
      renew: (leaseMs, reqTimeoutMs) => this.#request('renew', { id, key, lease: leaseMs }, reqTimeoutMs) as Promise<number | false>,
      release: () => this.#request('release', { id, key }, 5000).then(() => undefined),
      ended: () => void this.#leases.delete(key),
    };
  }

  /** Tells every member which of its leases of `id` were stolen (only the holder's node knows the key). */
  #tellStolen(id: string, keys: string[]): void {
    const job = checked('stolen', { id, keys });
    for (const node of this.gossip.ring().nodes()) {
      try {
        this.cast({ node: node.id === this.kernel.self.id ? this.kernel.self : node, name: this.#name() }, 'stolen', job);
      } catch (err) {
        this.kernel.env.logger.warn('could not tell a node its lease was stolen', { id, node: node.id, error: String(err) });
      }
    }
  }

  /** Ends the wait or lease `key` at its owner without waiting for an answer. */
  #releaseKey(id: string, key: string): void {
    try {
      this.cast({ node: this.#owner(id), name: this.#name() }, 'release', checked('release', { id, key }));
    } catch (err) {
      this.kernel.env.logger.warn('release could not be sent', { id, error: String(err) });
    }
  }

  /** What became of an acquire queued here: the grant (once durable) or why it ended. */
  #waiterDone(o: WaiterOutcome): void {
    // Told whether or not its caller is waiting on this node: a waiter handed over with its
    // semaphore may be granted before its caller asks again (it then finds the lease and renews it).
    if (o.type === 'ended') this.events.emit('waitEnded', { id: o.id, ...keyParts(o.key), reason: o.reason });
    else this.events.emit('grant', { id: o.id, holder: keyParts(o.key).holder, token: o.lease.token, timeout: o.lease.expiresAt - this.kernel.env.clock.now() });
    const k = JSON.stringify([o.id, o.key]);
    const from = this.#queued.get(k);
    if (from === undefined) return;
    this.#queued.delete(k);
    if (o.type !== 'granted') return this.replyError(from, waiterError(o.id, o.reason));
    // Answered in this turn when nothing is to sync, and sent at once: the grant leaves ahead of
    // the answer to the release that freed its slot (and of the rest of this turn), so the next
    // holder's node takes it first. A handover is the release's trip plus this one.
    const token = this.#durable(o.lease.token);
    if (!(token instanceof Promise)) return this.reply(from, token, true);
    token.then((t) => this.reply(from, t, true), (err: unknown) => this.replyError(from, err));
  }

  #describe(id: string): SemaphoreState {
    const now = this.kernel.env.clock.now();
    return describeSemaphore(id, this.#store.read(id).n, this.#store.holders(id), this.#store.waiters(id), now);
  }

  /**
   * The defensive release after a failed or late post, except when this holder already holds an
   * earlier grant it still believes in: a renewal that failed must not release the lease it was
   * renewing (the owner keeps the slot; at worst a refresh it never heard of holds it longer).
   * Each release names its attempt, so the owner lets go only of what that attempt granted or
   * refreshed, never a later grant the release arrived after. `refused`: the attempt was sent once
   * and answered "full", so it holds nothing and only an earlier grant is let go.
   */
  #releaseUnlessHeld(id: string, holder: string, attempt: string, refused = false): void {
    const key = JSON.stringify([id, holder]);
    const earlier = this.#believed.get(key);
    if (earlier !== undefined && this.#believes(earlier)) return;
    this.#believed.delete(key);
    if (!refused) this.#closeAsync(id, holder, attempt);
    // The earlier grant we no longer believe in (its time ran out on our wall clock) goes too.
    if (earlier !== undefined && earlier.attempt !== attempt) this.#closeAsync(id, holder, earlier.attempt);
  }

  /** This client holds `holder`'s slot of `id` until `until` on both its clocks (forgotten on close, or once past). */
  #believe(id: string, holder: string, until: { mono: number; wall: number; attempt: string }): void {
    const key = JSON.stringify([id, holder]);
    if (this.#believed.size >= believedMax && !this.#believed.has(key)) {
      // Full: sweep out what is over, but not again before the soonest belief left runs out on the
      // monotonic clock (a caller holding more than believedMax grants would otherwise scan them
      // all on every post).
      const now = this.kernel.env.clock.now();
      if (now < this.#believedSweepAt) return;
      let soonest = Infinity;
      for (const [k, t] of this.#believed) {
        if (!this.#believes(t)) this.#believed.delete(k);
        else soonest = Math.min(soonest, t.mono);
      }
      this.#believedSweepAt = soonest;
      if (this.#believed.size >= believedMax) return; // forget nothing needed: without the entry, a failed renewal releases as before
    }
    this.#believed.set(key, until);
  }

  /** With {@link believedMax} beliefs kept, when a sweep may next free one (monotonic ms). */
  #believedSweepAt = -Infinity;

  /** Whether neither clock has reached `until`. */
  #believes(until: { mono: number; wall: number }): boolean {
    const clock = this.kernel.env.clock;
    return clock.now() < until.mono && clock.wallNow() < until.wall;
  }

  /** Sends `job` to the owner of its id, again (up to a few times) while the owner moves; `sends.count` counts the sends. */
  async #request<C extends Exclude<DsmCommand, 'query' | 'stolen'> | 'query'>(command: C, job: DsmJobs[C] & { id: string }, reqTimeout: number | undefined,
    signal?: AbortSignal, sends?: { count: number }): Promise<unknown> {
    const valid = checked(command, job);
    const timeoutMs = reqTimeout ?? Infinity;
    if (typeof timeoutMs !== 'number' || !(timeoutMs > 0)) throw invalidArgument('reqTimeout', reqTimeout, 'a positive number of ms or Infinity');
    // reqTimeout bounds the whole request, re-routes included.
    const clock = this.kernel.env.clock;
    const deadline = clock.now() + timeoutMs;
    for (let attempt = 0; ; attempt++) {
      const leftMs = deadline - clock.now();
      // The owner refuses what waited there longer than we wait for the answer.
      const sent = Number.isFinite(leftMs) ? { ...valid, ttl: leftMs } : valid;
      const owner = this.#owner(job.id);
      const name = this.#name();
      try {
        // An owner the failure detector holds down would not answer: no request waits on it.
        if (this.kernel.isDown(owner.id)) throw stacklessError('UNREACHABLE', `the owner of ${show(job.id)}, ${show(owner.id)}, is held down by the failure detector`);
        if (signal?.aborted === true) throw signal.reason;
        if (sends !== undefined) sends.count++;
        return await this.call({ node: owner, name }, command, sent, signal === undefined ? { timeoutMs: leftMs } : { timeoutMs: leftMs, signal });
      } catch (err) {
        // Answers that say "not here, not yet": the view or the owner is moving. A few tries within
        // the deadline (a bounded number even without one), then the caller hears which it was.
        const retried = err instanceof ClusterluckError && retriedCodes.has(err.code);
        if (!retried || attempt >= notOwnerRetriesMax || deadline - clock.now() <= this.#opts.maxWaitTimeout) throw err;
        await this.#sleep(this.#opts.maxWaitTimeout);
      }
    }
  }

  #serve(): void {
    const store = this.#store;
    // With disk, a change is answered only once it is synced: a process killed right after
    // acknowledging a grant still has it when it restarts.
    const durable = this.#durable;
    this.handle('create', (d, from) => this.#mine(d as DsmJobs['create'], from, ({ id, n }) => {
      store.create(id, n);
      return durable(null);
    }));
    this.handle('read', (d, from) => this.#mine(d as DsmJobs['read'], from, ({ id }) => store.read(id)));
    this.handle('destroy', (d, from) => this.#mine(d as DsmJobs['destroy'], from, ({ id }) => {
      store.destroy(id);
      return durable(null);
    }));
    this.handle('post', (d, from) => {
      if ((d as DsmJobs['post']).timeout > this.#leaseMsMax) throw this.#tooLong((d as DsmJobs['post']).timeout);
      // The answer is the grant's fencing token, or false when full.
      return this.#mine(d as DsmJobs['post'], from, ({ id, holder, timeout, attempt }) => {
        const lease = store.post(id, holder, timeout, tokenBase(this.gossip.view?.()?.number ?? 0), attempt);
        if (lease === undefined) return false;
        this.events.emit('grant', { id, holder, token: lease.token, timeout });
        return durable(lease.token);
      });
    });
    this.handle('acquire', (d, from) => {
      const job = d as DsmJobs['acquire'];
      if (job.lease > this.#leaseMsMax) throw this.#tooLong(job.lease);
      return this.#mine(job, from, ({ id, key, permits, lease, wait, limit, steal, ttl }) => {
        if (limit !== undefined) store.create(id, limit);
        // Asked again (its answer was lost): a lease it holds is renewed from now, a wait keeps its place.
        const renewed = store.renew(id, key, lease);
        if (renewed !== undefined) {
          this.events.emit('grant', { id, holder: keyParts(key).holder, token: renewed.token, timeout: lease });
          return durable(renewed.token);
        }
        const deadline = ttl === undefined ? Infinity : this.kernel.env.clock.now() + ttl / this.#stretch;
        const request = { key, caller: from.node.id, permits, leaseMs: lease, deadline };
        if (steal === true) {
          const { lease: granted, stolen } = store.steal(id, request);
          this.events.emit('grant', { id, holder: keyParts(key).holder, token: granted.token, timeout: lease });
          if (stolen.length > 0) this.#tellStolen(id, stolen);
          return durable(granted.token);
        }
        const r = store.acquire(id, request, wait === false);
        if (r.state === 'unavailable') return false;
        if (r.state === 'granted') {
          this.events.emit('grant', { id, holder: keyParts(key).holder, token: r.lease.token, timeout: lease });
          return durable(r.lease.token);
        }
        this.events.emit('waiting', { id, ...keyParts(key), position: r.position, permits });
        const k = JSON.stringify([id, key]);
        const superseded = this.#queued.get(k);
        if (superseded !== undefined) this.replyError(superseded, new ClusterluckError('ABORTED', 'superseded by the same acquire sent again'));
        this.#queued.set(k, from);
        return noReply;
      });
    });
    this.handle('renew', (d, from) => {
      const job = d as DsmJobs['renew'];
      if (job.lease > this.#leaseMsMax) throw this.#tooLong(job.lease);
      return this.#mine(job, from, ({ id, key, lease }) => {
        const renewed = store.renew(id, key, lease);
        if (renewed === undefined) return false;
        this.events.emit('grant', { id, holder: keyParts(key).holder, token: renewed.token, timeout: lease });
        return durable(renewed.token);
      });
    });
    this.handle('release', (d, from) => this.#mine(d as DsmJobs['release'], from, ({ id, key }) => {
      store.release(id, key);
      return durable(null);
    }));
    this.handle('query', (d, from) => {
      const job = d as DsmJobs['query'];
      // Without an id: what this node owns now (a snapshot for people, not a routed request).
      if (job.id === undefined) return [...store.ids()].map((s) => this.#describe(s));
      return this.#mine({ ...job, id: job.id }, from, ({ id }) => this.#describe(id));
    });
    this.handle('setLimit', (d, from) => this.#mine(d as DsmJobs['setLimit'], from, ({ id, n }) => {
      store.setLimit(id, n);
      return durable(null);
    }));
    this.handle('stolen', (d) => {
      const { id, keys } = d as DsmJobs['stolen'];
      for (const key of keys) this.#leases.get(key)?.revoke(`another holder stole ${show(id)}`);
      return null;
    });
    this.handle(handoffEvent, (d, from) => {
      if (this.#handoff === undefined) throw new ClusterluckError('NOT_OWNER', 'this server takes no handoffs');
      return this.#handoff.receive(d as HandoffMessage, from.node.id);
    });
    this.handle('close', (d, from) => this.#mine(d as DsmJobs['close'], from, ({ id, holder, attempt }) => {
      store.close(id, holder, attempt);
      return durable(null);
    }));
  }

  /**
   * Runs `serve` once this node may serve `job.id`: it owns it in its view, holds its ownership
   * lease, and any hand-over delay for it has run out. While ownership settles, requests for the
   * key wait here in arrival order (a close must not overtake the post behind it), for at most
   * `ownershipWaitMs` from the first; then they all get NOT_OWNER, which callers retry. NOT_OWNER
   * at once when another node owns it. The check and `serve` run in one turn, so nothing is
   * granted by a node that was not serving at that instant. A request that waited here (in the
   * mailbox, behind a stall of this process, for ownership) longer than its caller waits for the
   * answer is TIMEOUT and changes nothing.
   */
  #mine<J extends { id: string; ttl?: number }>(job: J, from: From, serve: (job: J) => unknown): unknown {
    const queued = this.#waiting.get(job.id);
    if (queued === undefined) {
      const o = this.#ownership(job.id);
      if (o.state === 'owner') {
        this.#fresh(job, from);
        return serve(job);
      }
      if (o.state === 'not-owner' || this.gossip.ownershipWaitMs === undefined) throw this.#notOwner(job.id, o);
    }
    // Made only for a request that waits (a closure per request cost the simulator under tsx, whose keepNames names it).
    const run = (): unknown => {
      this.#fresh(job, from);
      return serve(job);
    };
    return new Promise((resolve, reject) => {
      const entry = { run, resolve, reject };
      if (queued !== undefined && queued.entries.length >= ownershipWaitingMax) {
        return reject(new ClusterluckError('QUEUE_FULL', `${ownershipWaitingMax} requests already wait for ${show(job.id)} to settle`));
      }
      if (queued !== undefined) return void queued.entries.push(entry);
      const clock = this.kernel.env.clock;
      this.#waiting.set(job.id, { entries: [entry], deadline: clock.now() + (this.gossip.ownershipWaitMs?.() ?? 0) });
      this.#recheck(job.id);
    });
  }

  /** Serves (in order) or refuses the requests waiting for `id`, or looks again later. */
  #recheck(id: string): void {
    const q = this.#waiting.get(id);
    if (q === undefined) return;
    const clock = this.kernel.env.clock;
    if (q.timer !== undefined) clock.cancelTimer(q.timer);
    q.timer = undefined;
    const o = this.#ownership(id);
    const now = clock.now();
    if (o.state === 'owner' || o.state === 'not-owner' || now >= q.deadline) {
      this.#waiting.delete(id);
      for (const e of q.entries) {
        if (o.state !== 'owner') e.reject(this.#notOwner(id, o));
        else {
          try {
            e.resolve(e.run());
          } catch (err) {
            e.reject(err);
          }
        }
      }
      return;
    }
    const untilMs = o.state === 'waiting' ? o.untilMs : undefined;
    q.timer = clock.setTimer(Math.max(1, Math.min(q.deadline, untilMs ?? now + ownershipPollMs) - now), () => {
      q.timer = undefined;
      this.#recheck(id);
    });
  }

  /**
   * Ownership may have settled before the time each waiting key looks again (a handoff's release
   * lifted a lock-delay, a view moved a key away): every key looks again at once, from a timer of
   * its own rather than inside the handoff's or the view's chain of promises (the simulator settles
   * a bounded number of microtask turns between timers, and a longer chain ran differently in the
   * page than in Node). Before, a request that began waiting out a joiner's delay waited until its
   * deadline although the release had come (two tabs started at once, a browser-mesh flake:
   * 'request waited 5166 ms').
   */
  #recheckSoon(): void {
    if (this.#waiting.size === 0 || this.#recheckTimer !== undefined) return;
    this.#recheckTimer = this.kernel.env.clock.setTimer(0, () => {
      this.#recheckTimer = undefined;
      for (const id of [...this.#waiting.keys()]) this.#recheck(id);
    });
  }

  #ownership(id: string): Ownership {
    const source = this.gossip;
    if (source.ownership !== undefined) return source.ownership(id);
    const owner = source.ring().find(id);
    return owner.id === this.kernel.self.id ? { state: 'owner' } : { state: 'not-owner', owner: owner.id };
  }

  /** TIMEOUT when `job` may have waited here as long as its caller waits for the answer (measured here, stretched by the drift bound). */
  #fresh(job: { ttl?: number }, from: From): void {
    if (job.ttl === undefined) return;
    const now = this.kernel.env.clock.now();
    const waited = now - this.#stalls.arrivedBy(from.receivedAt, now);
    if (waited * this.#stretch >= job.ttl) {
      throw new ClusterluckError('TIMEOUT', `request waited ${Math.round(waited)} ms at ${show(this.kernel.self.id)}, its caller only ${job.ttl} ms: not executed`);
    }
  }

  #tooLong(timeout: number): ClusterluckError {
    return new ClusterluckError('INVALID_ARGUMENT', `timeout must be at most leaseMsMax (${this.#leaseMsMax} ms), got ${timeout}; hold longer by posting again before it runs out`,
      { fails: { timeout: `at most leaseMsMax (${this.#leaseMsMax})` } });
  }

  #notOwner(id: string, o: Ownership): ClusterluckError {
    const why = o.state === 'not-owner' ? `${show(o.owner)} does` : o.state === 'waiting' ? `it is not serving it (${o.reason})` : '';
    // Made at the owner for a request it will not serve (the caller re-routes): no stack to keep.
    return stacklessError('NOT_OWNER', `node ${show(this.kernel.self.id)} does not own ${show(id)}; ${why}`);
  }

  /** The owner of `id` on this node's ring; NOT_A_MEMBER when this node is in no view (it left, or has not joined yet). */
  #owner(id: string): NodeId {
    const ring = this.gossip.ring();
    if (ring.size() === 0) throw new ClusterluckError('NOT_A_MEMBER', `node ${show(this.kernel.self.id)} is in no view: it cannot route ${show(id)} (it left, was removed, or has not joined)`);
    const owner = ring.find(id);
    return owner.id === this.kernel.self.id ? this.kernel.self : owner;
  }

  #name(): string {
    const name = this.name;
    if (name === undefined) throw new ClusterluckError('NOT_RUNNING', 'DSMServer is not started');
    return name;
  }

  async #load(): Promise<void> {
    if (this.#journal === undefined) return;
    for (const stored of await this.#journal.load(this.#leaseMsMax * this.#stretch)) this.#store.restore(stored);
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.kernel.env.clock.setTimer(ms, resolve));
  }
}

/** The error a queued acquire's caller gets when its wait ended without a grant. */
function waiterError(id: string, reason: WaiterEndReason): ClusterluckError {
  switch (reason) {
    case 'timeout': return stacklessError('TIMEOUT', `the wait for ${show(id)} reached its deadline at the owner`);
    case 'cancelled': return stacklessError('ABORTED', `the wait for ${show(id)} was cancelled`);
    case 'destroyed': return stacklessError('NOT_FOUND', `semaphore ${show(id)} was destroyed while waiting`);
    case 'moved': return stacklessError('NOT_OWNER', `semaphore ${show(id)} moved to another owner while waiting`);
    case 'left': return stacklessError('NOT_A_MEMBER', `the waiter's node left the view while waiting for ${show(id)}`);
    case 'limit': return stacklessError('INVALID_ARGUMENT', `the limit of ${show(id)} was lowered below the permits asked for`, { fails: { permits: 'at most the new n' } });
  }
}

function checked<C extends DsmCommand>(command: C, job: DsmJobs[C]): DsmJobs[C] {
  const parsed = parseJob(job, command);
  if (parsed instanceof Error) throw parsed;
  return parsed;
}

/**
 * Codes a request is re-sent on (a few times, within its deadline): none of them means the owner
 * acted on it. NOT_OWNER: the view moved or ownership is settling; UNREACHABLE: the owner is held
 * down (a view change will move its keys); NOT_RUNNING: the owner has not loaded its table yet;
 * NO_SUCH_ACTOR: the owner's node runs no DSMServer (starting, or stopping as it leaves).
 */
const retriedCodes: ReadonlySet<string> = new Set(['NOT_OWNER', 'UNREACHABLE', 'NOT_RUNNING', 'NO_SUCH_ACTOR']);

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
