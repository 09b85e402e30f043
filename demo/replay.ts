// What the recorded run looked like at one simulated instant: each node's life and how the others
// see it, partition sides, views, owners, waiters, and the lease bars of each semaphore. Going
// forward applies the events since the last instant; going back starts again from the beginning.
import type { Recording } from './recording.js';

/** How a node is drawn. */
export type NodeLife = 'booting' | 'alive' | 'leaving' | 'left' | 'crashed' | 'paused';

export interface NodeView {
  readonly host: string;
  nodeId: string;
  life: NodeLife;
  /** Set when a serving peer's failure detector holds it suspect or down. */
  seenAs: 'suspect' | 'down' | undefined;
  /** `a` or `b` while a partition splits the cluster. */
  side: 'a' | 'b' | undefined;
  /** The newest view this node adopted. */
  view: number | undefined;
  drift: number | undefined;
  jumpedMs: number;
}

/** One grant as a lane bar. */
export interface Bar {
  readonly semaphore: string;
  readonly holder: string;
  readonly host: string;
  readonly token: number;
  readonly permits: number;
  readonly from: number;
  until: number;
  /** When the holder stopped believing (close, release, lost). */
  endedAt: number | undefined;
  lane: number;
}

export class Replay {
  readonly #rec: Recording;
  #index = 0;
  at = 0;
  readonly nodes = new Map<string, NodeView>();
  /** Per observer host: what it believes of each member id. */
  readonly #seen = new Map<string, Map<string, string>>();
  readonly owners = new Map<string, string>();
  /** Per semaphore: holders queued at an owner, and that owner's host. */
  readonly waiting = new Map<string, Map<string, string>>();
  readonly bars = new Map<string, Bar[]>();
  readonly #byHolder = new Map<string, Bar>();
  view = 0;
  phase: 'booting' | 'workload' | 'healing' | 'end' = 'booting';

  constructor(rec: Recording) {
    this.#rec = rec;
  }

  /** Brings the state to instant `t`. */
  seek(t: number): void {
    if (t < this.at) this.#reset();
    const events = this.#rec.events;
    for (; this.#index < events.length && (events[this.#index]?.at ?? Infinity) <= t; this.#index++) this.#apply(this.#index);
    this.at = t;
    for (const n of this.nodes.values()) n.seenAs = this.#seenAs(n);
  }

  /** Holders believed at `at` (bars that cover it), by semaphore. */
  heldAt(semaphore: string, at = this.at): Bar[] {
    return (this.bars.get(semaphore) ?? []).filter((b) => b.from <= at && at < Math.min(b.until, b.endedAt ?? Infinity));
  }

  #reset(): void {
    this.#index = 0;
    this.at = 0;
    this.view = 0;
    this.phase = 'booting';
    for (const m of [this.nodes, this.#seen, this.owners, this.waiting, this.bars, this.#byHolder]) m.clear();
  }

  #node(host: string): NodeView {
    let n = this.nodes.get(host);
    if (n === undefined) {
      n = { host, nodeId: host, life: 'booting', seenAs: undefined, side: undefined, view: undefined, drift: undefined, jumpedMs: 0 };
      this.nodes.set(host, n);
    }
    return n;
  }

  #seenAs(n: NodeView): 'suspect' | 'down' | undefined {
    let worst: 'suspect' | 'down' | undefined;
    for (const [observer, statuses] of this.#seen) {
      const o = this.nodes.get(observer);
      if (observer === n.host || o === undefined || o.life !== 'alive') continue;
      const s = statuses.get(n.nodeId);
      if (s === 'down' || s === 'removed' || s === 'left' || s === 'gone') worst = 'down';
      else if (s === 'suspect' && worst === undefined) worst = 'suspect';
    }
    return worst;
  }

  #apply(i: number): void {
    const e = this.#rec.events[i];
    if (e === undefined) return;
    switch (e.type) {
      case 'run':
        this.phase = e.phase;
        break;
      case 'process': {
        const n = this.#node(e.host);
        const life: Partial<Record<typeof e.what, NodeLife>> = { join: 'booting', restart: 'booting', up: 'alive', crash: 'crashed', wipe: 'crashed', 'boot-failed': 'crashed', leave: 'leaving', exit: 'left', pause: 'paused', resume: 'alive' };
        const next = life[e.what];
        if (next !== undefined) n.life = next;
        if (e.what === 'up') n.nodeId = e.nodeId ?? e.host;
        if (e.what === 'crash' || e.what === 'wipe' || e.what === 'exit') {
          this.#seen.delete(e.host);
          // A dead owner's queue died with it.
          for (const queue of this.waiting.values()) for (const [holder, host] of queue) if (host === e.host) queue.delete(holder);
        }
        if (e.what === 'drift') n.drift = e.amount;
        if (e.what === 'jump') n.jumpedMs += e.amount ?? 0;
        break;
      }
      case 'view': {
        this.#node(e.host).view = e.view.number;
        this.view = Math.max(this.view, e.view.number);
        break;
      }
      case 'member': {
        const m = this.#seen.get(e.host) ?? this.#seen.set(e.host, new Map()).get(e.host);
        m?.set(e.member, e.status);
        break;
      }
      case 'net':
        this.#network(e.event.kind, e.event.from, e.event.to);
        break;
      case 'owner': {
        const w = this.waiting.get(e.semaphore) ?? this.waiting.set(e.semaphore, new Map()).get(e.semaphore);
        if (e.what === 'grant') {
          this.owners.set(e.semaphore, e.host);
          w?.delete(e.holder);
        } else if (e.what === 'waiting') w?.set(e.holder, e.host);
        else w?.delete(e.holder);
        break;
      }
      case 'grant': {
        const list = this.bars.get(e.semaphore) ?? this.bars.set(e.semaphore, []).get(e.semaphore) ?? [];
        const bar: Bar = { semaphore: e.semaphore, holder: e.holder, host: e.host, token: e.token, permits: e.permits ?? 1, from: e.at, until: e.until, endedAt: undefined, lane: 0 };
        // The first lane free at the grant: one row per holder believed at once.
        const busy = new Set(list.filter((b) => Math.min(b.until, b.endedAt ?? Infinity) > e.at).map((b) => b.lane));
        while (busy.has(bar.lane)) bar.lane++;
        list.push(bar);
        this.#byHolder.set(`${e.semaphore}\n${e.holder}`, bar);
        break;
      }
      case 'renew': {
        const b = this.#byHolder.get(`${e.semaphore}\n${e.holder}`);
        if (b !== undefined) b.until = Math.max(b.until, e.until);
        break;
      }
      case 'release': {
        const b = this.#byHolder.get(`${e.semaphore}\n${e.holder}`);
        if (b !== undefined && b.endedAt === undefined) b.endedAt = e.at;
        break;
      }
      default:
        break;
    }
  }

  #network(kind: string, from: string | undefined, to: string | undefined): void {
    if (kind === 'heal') for (const n of this.nodes.values()) n.side = undefined;
    if (kind === 'partition' || kind === 'partition-one-way' || kind === 'isolate') {
      for (const h of (from ?? '').split(',')) if (h !== '') this.#node(h).side = 'a';
      for (const h of (to ?? '').split(',')) if (h !== '') this.#node(h).side = 'b';
      if (kind === 'isolate') for (const n of this.nodes.values()) n.side ??= 'b';
    }
  }
}
