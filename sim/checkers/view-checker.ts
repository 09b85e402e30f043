// Checkers of decided views and ownership, judging from outside the nodes.
// Views: every view any process adopted is the one view decided for its (cluster, number), and
// each process adopts numbers in increasing order. Ownership: at no sampled instant do two
// serving processes each hold that they may serve the same semaphore (ownership lease and
// hand-over delay included), nor does any process grant on a key it may not serve at that instant.
import type { View } from '../../lib/core/view.js';
import type { Violation } from './checker.js';

/** Records adopted views and reports disagreements. */
export class ViewLog {
  readonly #chosen = new Map<string, string>();
  readonly #last = new Map<string, number>();
  readonly violations: Violation[] = [];
  /** Views adopted, all processes together. */
  adoptions = 0;

  /** Process `process` (host and epoch) adopted `view` at `at`. */
  adopted(process: string, view: View, at: number): void {
    this.adoptions++;
    const key = `${view.cluster}#${view.number}`;
    const value = JSON.stringify(view.members.map((m) => [m.id, m.incarnation, m.weight, m.address]));
    const first = this.#chosen.get(key);
    if (first === undefined) this.#chosen.set(key, value);
    else if (first !== value && !this.violations.some((v) => v.message.includes(key))) {
      this.violations.push({ class: 'views', at, message: `two views chosen for ${key}: ${first} and, at ${process}, ${value}` });
    }
    const lastKey = `${process}@${view.cluster}`;
    const last = this.#last.get(lastKey) ?? 0;
    if (view.number <= last) this.violations.push({ class: 'views', at, message: `${process} adopted view ${view.number} after ${last}` });
    this.#last.set(lastKey, view.number);
  }

  /** How many distinct views were decided (all clusters). */
  get decided(): number {
    return this.#chosen.size;
  }
}

/** One process as the ownership sampler sees it. */
export interface OwnerProbe {
  readonly id: string;
  /** True when this process may serve `key` now (its DSM runs and its ring says owner). */
  serves(key: string): boolean;
}

/** Samples who may serve each key and reports the first instant of every overlap. */
export class OwnershipSampler {
  readonly violations: Violation[] = [];
  /** Samples taken. */
  samples = 0;
  readonly #overlapping = new Set<string>();

  /** Checks `keys` across `processes` at `at`. */
  sample(processes: readonly OwnerProbe[], keys: readonly string[], at: number): void {
    this.samples++;
    for (const key of keys) {
      // Every process is asked, in order; the list is only made when two may serve.
      let first: string | undefined;
      let owners: string[] | undefined;
      for (const p of processes) {
        if (!p.serves(key)) continue;
        if (first === undefined) first = p.id;
        else (owners ??= [first]).push(p.id);
      }
      if (owners === undefined) {
        this.#overlapping.delete(key);
        continue;
      }
      if (this.#overlapping.has(key)) continue;
      this.#overlapping.add(key);
      this.violations.push({ class: 'ownership', at, semaphore: key, holders: owners, message: `${owners.join(' and ')} may both serve ${key}` });
    }
  }

  /**
   * Checks one grant at the instant it is made: `granter` may serve `key` (its view's owner, with
   * a live ownership lease and no hand-over delay left), no other process may, and the token was
   * minted in a view no newer than the granter's (`view`).
   */
  grant(granter: OwnerProbe, view: number, others: readonly OwnerProbe[], key: string, token: number, at: number): void {
    this.grants++;
    const fail = (message: string, holders: string[]): void => void this.violations.push({ class: 'ownership', at, semaphore: key, holders, message });
    if (!granter.serves(key)) fail(`${granter.id} granted ${key} (token ${token}) without owning it`, [granter.id]);
    const also = others.filter((p) => p.id !== granter.id && p.serves(key)).map((p) => p.id);
    if (also.length > 0) fail(`${granter.id} granted ${key} (token ${token}) while ${also.join(', ')} may serve it too`, [granter.id, ...also]);
    if (Math.floor(token / 2 ** 32) > view) fail(`${granter.id} granted ${key} a token of view ${Math.floor(token / 2 ** 32)} in view ${view}`, [granter.id]);
  }

  /** Grants checked. */
  grants = 0;
}
