import { holderLengthMax, leaseMsMax, semaphoreIdLengthMax, semaphoreLimitMax } from '../constants.js';
import { ClusterluckError, show } from '../env/errors.js';

/** The commands a DSMServer serves. */
export const dsmCommands = ['create', 'read', 'destroy', 'post', 'close', 'acquire', 'renew', 'release', 'query', 'stolen', 'setLimit'] as const;
/** One of {@link dsmCommands}. */
export type DsmCommand = (typeof dsmCommands)[number];

/**
 * The job of each command, as it crosses the wire. `ttl`: how long the caller will still wait for
 * the answer, ms, when it set a `reqTimeout`; a request that waited at the owner beyond it is
 * answered TIMEOUT and changes nothing. `attempt`: the id of one post attempt; a close naming it
 * releases only a lease that attempt granted or last refreshed (the defensive release after a
 * failed post, which may arrive after a later attempt's grant). `key`: a lease's secret key
 * (`holder~random`), which alone renews and releases it; `wait: false` is `ifAvailable`; `limit`
 * creates the semaphore with that n when it does not exist; `steal` takes every slot's holder
 * away (the Web Locks API's steal), and the owner tells every node `stolen` with their keys. A
 * `query` without `id` asks for every semaphore the node owns.
 */
export interface DsmJobs {
  create: { id: string; n: number; ttl?: number };
  read: { id: string; ttl?: number };
  destroy: { id: string; ttl?: number };
  post: { id: string; holder: string; timeout: number; ttl?: number; attempt?: string };
  close: { id: string; holder: string; ttl?: number; attempt?: string };
  acquire: { id: string; key: string; permits: number; lease: number; wait?: boolean; limit?: number; steal?: boolean; ttl?: number };
  renew: { id: string; key: string; lease: number; ttl?: number };
  release: { id: string; key: string; ttl?: number };
  query: { id?: string; ttl?: number };
  stolen: { id: string; keys: string[]; ttl?: number };
  setLimit: { id: string; n: number; ttl?: number };
}

type Check = (value: unknown) => string | undefined;

const id: Check = (v) =>
  typeof v === 'string' && v.length > 0 && v.length <= semaphoreIdLengthMax
    ? undefined
    : `must be a non-empty string of at most ${semaphoreIdLengthMax} chars, got ${show(v)}`;
const holder: Check = (v) =>
  typeof v === 'string' && v.length > 0 && v.length <= holderLengthMax
    ? undefined
    : `must be a non-empty string of at most ${holderLengthMax} chars, got ${show(v)}`;
const limit: Check = (v) =>
  typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= semaphoreLimitMax
    ? undefined
    : `must be an integer from 1 to ${semaphoreLimitMax}, got ${show(v)}`;
const lease: Check = (v) =>
  typeof v === 'number' && Number.isFinite(v) && v > 0 && v <= leaseMsMax
    ? undefined
    : `must be a positive finite number of ms up to ${leaseMsMax}, got ${show(v)}`;

/** Longest lease key: a holder's entries are `key#i`, within {@link holderLengthMax}. */
const keyLengthMax = holderLengthMax - 8;
const key: Check = (v) =>
  typeof v === 'string' && v.length > 0 && v.length <= keyLengthMax ? undefined : `must be a non-empty string of at most ${keyLengthMax} chars, got ${show(v)}`;
const permits: Check = (v) =>
  typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= semaphoreLimitMax ? undefined : `must be an integer from 1 to ${semaphoreLimitMax}, got ${show(v)}`;
const flag: Check = (v) => (v === undefined || typeof v === 'boolean' ? undefined : `must be a boolean or absent, got ${show(v)}`);
const optional = (check: Check): Check => (v) => (v === undefined ? undefined : check(v));
/** Most keys one `stolen` names. */
const stolenKeysMax = 1024;
const keys: Check = (v) =>
  Array.isArray(v) && v.length <= stolenKeysMax && v.every((k) => key(k) === undefined) ? undefined : `must be an array of at most ${stolenKeysMax} lease keys, got ${show(v)}`;

/** Most characters of an attempt id. */
const attemptLengthMax = 32;
const attempt: Check = (v) =>
  v === undefined || (typeof v === 'string' && v.length > 0 && v.length <= attemptLengthMax) ? undefined : `must be a string of 1 to ${attemptLengthMax} chars or absent, got ${show(v)}`;

const ttl: Check = (v) =>
  v === undefined || (typeof v === 'number' && Number.isFinite(v) && v > 0) ? undefined : `must be a positive finite number of ms or absent, got ${show(v)}`;

const schemas: { readonly [C in DsmCommand]: Readonly<Record<keyof DsmJobs[C], Check>> } = {
  create: { id, n: limit, ttl },
  read: { id, ttl },
  destroy: { id, ttl },
  post: { id, holder, timeout: lease, ttl, attempt },
  close: { id, holder, ttl, attempt },
  acquire: { id, key, permits, lease, wait: flag, limit: optional(limit), steal: flag, ttl },
  renew: { id, key, lease, ttl },
  release: { id, key, ttl },
  query: { id: optional(id), ttl },
  stolen: { id, keys, ttl },
  setLimit: { id, n: limit, ttl },
};

/** Each command's fields and checks as a list, made once: every request is checked at least twice (caller and owner). */
const schemaFields: ReadonlyMap<string, readonly (readonly [string, Check])[]> =
  new Map(dsmCommands.map((c) => [c, Object.entries(schemas[c]) as [string, Check][]]));

const commandSet: ReadonlySet<string> = new Set(dsmCommands);

/** True when `value` names a DSM command. */
export function isDsmCommand(value: unknown): value is DsmCommand {
  return typeof value === 'string' && commandSet.has(value);
}

/**
 * Validates a job for `command`: the job with exactly the command's fields, or an INVALID_ARGUMENT
 * error whose `fails` maps each bad field to why (Clusterluck's static `parseJob`).
 */
export function parseJob<C extends DsmCommand>(job: unknown, command: C): DsmJobs[C] | ClusterluckError;
export function parseJob(job: unknown, command: unknown): unknown;
export function parseJob(job: unknown, command: unknown): unknown {
  if (!isDsmCommand(command)) {
    return new ClusterluckError('INVALID_ARGUMENT', `unknown command ${show(command)}`, {
      fails: { command: `must be one of ${dsmCommands.join(', ')}, got ${show(command)}` },
    });
  }
  if (typeof job !== 'object' || job === null || Array.isArray(job)) {
    return new ClusterluckError('INVALID_ARGUMENT', `${command} job must be an object, got ${show(job)}`, {
      fails: { job: `must be an object, got ${show(job)}` },
    });
  }
  let fails: Record<string, string> | undefined;
  const out: Record<string, unknown> = {};
  for (const [field, check] of schemaFields.get(command) ?? []) {
    const value = Object.hasOwn(job, field) ? (job as Record<string, unknown>)[field] : undefined;
    const why = check(value);
    if (why === undefined) {
      if (value !== undefined) out[field] = value;
    }
    else (fails ??= {})[field] = why;
  }
  if (fails === undefined) return out;
  const bad = fails;
  const detail = Object.keys(bad).map((f) => `${f} ${bad[f]}`).join('; ');
  return new ClusterluckError('INVALID_ARGUMENT', `bad ${command} job: ${detail}`, { fails: bad });
}

/** A wait in [min, max) ms before retrying a post (Clusterluck's `calculateWaitTime`). */
export function calculateWaitTime(min: number, max: number, random: () => number): number {
  return min + Math.floor(random() * Math.max(0, max - min));
}
