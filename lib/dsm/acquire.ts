// The caller's side of `dsm.acquire`: checks the options, sends the acquire (re-sent by the
// server's request loop while the owner moves), and turns the answer into a Lease whose belief
// starts when the request was sent. A grant that waited in the queue for more than half its lease
// is renewed before it is handed out, so the caller starts with at least half a lease.
import { semaphoreLimitMax } from '../constants.js';
import { toHex } from '../env/bytes.js';
import type { Clock } from '../env/clock.js';
import { ClusterluckError, invalidArgument, isClusterluckError, show } from '../env/errors.js';
import type { Random } from '../env/random.js';
import { beliefFrom, type Belief, type Lease } from './lease.js';

/** Options of {@link DSMServer.acquire}. */
export interface AcquireOptions {
  /** How long the lease lasts unless renewed, ms (at most `leaseMsMax`). @default 10000 */
  readonly leaseMs?: number;
  /** Aborting it cancels a waiting acquire (its place in the owner's queue goes) and rejects with `signal.reason`. */
  readonly signal?: AbortSignal;
  /** The longest the whole acquire may take, ms: TIMEOUT beyond, and nothing is left at the owner. @default Infinity */
  readonly timeoutMs?: number;
  /** Take it only if it is free now (nobody waits and the permits fit): `null` otherwise. @default false */
  readonly ifAvailable?: boolean;
  /** Slots to take at once, atomically. @default 1 */
  readonly permits?: number;
  /** Renew the lease before it runs out while it is held. @default true */
  readonly refresh?: boolean;
  /** Create the semaphore with this `n` if it does not exist; another existing `n` is ALREADY_EXISTS. */
  readonly limit?: number;
  /** The name `query` shows for this holder. @default this node's id */
  readonly holder?: string;
  /**
   * Take the slots now, ahead of every waiter, from whoever holds them (the Web Locks API's
   * `steal`): their leases end at the owner, their nodes are told (their signals abort with
   * LEASE_LOST), and this lease's fencing token is larger than theirs. @default false
   */
  readonly steal?: boolean;
}

/** Lease ms when `acquire` is not told. */
export const acquireLeaseMsDefault = 10_000;

/** What an acquire needs of its DSMServer. */
export interface AcquireHost {
  readonly clock: Clock;
  readonly random: Random;
  /** This node's id: the holder name unless the options give one. */
  readonly selfId: string;
  readonly leaseMsMax: number;
  /** Sends `acquire` or `renew` to the semaphore's owner (re-routed while it moves). */
  request(command: 'acquire' | 'renew', job: Record<string, unknown> & { id: string }, reqTimeoutMs: number, signal?: AbortSignal): Promise<unknown>;
  /** Ends the wait or lease `key` at the owner, without waiting for an answer. */
  releaseKey(key: string): void;
  /** Makes (and keeps track of) the Lease of `key`. */
  lease(key: string, init: { id: string; token: number; permits: number; leaseMs: number; until: Belief; refresh: boolean }): Lease;
}

/** Longest holder name: a lease key is `holder~` and 24 hex digits, within the holder limit. */
const holderNameMax = 900;

/** Takes `o.permits` slots of `id` as one lease (see {@link DSMServer.acquire}). */
export async function acquireLease(host: AcquireHost, id: string, o: AcquireOptions): Promise<Lease | null> {
  if (typeof o !== 'object' || o === null) throw invalidArgument('options', o, 'an object');
  const leaseMs = o.leaseMs ?? acquireLeaseMsDefault;
  if (typeof leaseMs !== 'number' || !(leaseMs > 0) || leaseMs > host.leaseMsMax) throw invalidArgument('options.leaseMs', leaseMs, `a number of ms in (0, leaseMsMax = ${host.leaseMsMax}]`);
  const permits = o.permits ?? 1;
  if (!Number.isSafeInteger(permits) || permits < 1) throw invalidArgument('options.permits', permits, 'an integer ≥ 1');
  const timeoutMs = o.timeoutMs ?? Infinity;
  if (typeof timeoutMs !== 'number' || !(timeoutMs > 0)) throw invalidArgument('options.timeoutMs', timeoutMs, 'a positive number of ms or Infinity');
  const signal = o.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalidArgument('options.signal', signal, 'an AbortSignal');
  const holder = o.holder ?? host.selfId;
  if (typeof holder !== 'string' || holder.length === 0 || holder.includes('~') || holder.length > holderNameMax) {
    throw invalidArgument('options.holder', holder, `a non-empty string of at most ${holderNameMax} chars without '~'`);
  }
  if (o.limit !== undefined && !(Number.isSafeInteger(o.limit) && o.limit >= 1 && o.limit <= semaphoreLimitMax)) throw invalidArgument('options.limit', o.limit, `an integer from 1 to ${semaphoreLimitMax}`);
  if (o.steal === true && o.ifAvailable === true) throw invalidArgument('options.steal', o.steal, 'false when ifAvailable is true');
  for (const f of ['ifAvailable', 'refresh', 'steal'] as const) if (o[f] !== undefined && typeof o[f] !== 'boolean') throw invalidArgument(`options.${f}`, o[f], 'a boolean');
  if (signal?.aborted) throw signal.reason;
  const clock = host.clock;
  const deadline = clock.now() + timeoutMs;
  const left = (): number => deadline - clock.now();
  for (;;) {
    const key = `${holder}~${toHex(host.random.bytes(12))}`;
    const until = beliefFrom(clock, leaseMs);
    let answer: unknown;
    try {
      const job = { id, key, permits, lease: leaseMs, ...(o.ifAvailable === true ? { wait: false } : {}), ...(o.limit === undefined ? {} : { limit: o.limit }), ...(o.steal === true ? { steal: true } : {}) };
      answer = await host.request('acquire', job, left(), signal);
    } catch (err) {
      // The owner may have queued or granted it: take it back (a release that finds nothing is fine).
      if (!isClusterluckError(err, 'INVALID_ARGUMENT') && !isClusterluckError(err, 'NOT_FOUND') && !isClusterluckError(err, 'NOT_A_MEMBER')) host.releaseKey(key);
      throw err;
    }
    if (answer === false) return null;
    if (typeof answer !== 'number') throw new ClusterluckError('BAD_MESSAGE', `acquire of ${show(id)} was answered ${show(answer)}`);
    const init = { id, token: answer, permits, leaseMs, refresh: o.refresh !== false };
    if (Math.min(until.mono - clock.now(), until.wall - clock.wallNow()) >= leaseMs / 2) return host.lease(key, { ...init, until });
    const renewedUntil = beliefFrom(clock, leaseMs);
    let renewed: unknown;
    try {
      renewed = await host.request('renew', { id, key, lease: leaseMs }, left(), signal);
    } catch (err) {
      host.releaseKey(key);
      throw err;
    }
    if (renewed === answer) return host.lease(key, { ...init, until: renewedUntil });
    // It ran out at the owner before its answer came (renewed is false): queue again, under a new key.
    if (renewed !== false) host.releaseKey(key);
  }
}
