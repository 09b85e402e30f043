// SWIM failure detection: one probe per interval, round-robin over a shuffled member list
// (memberlist's order), direct then indirect through k members; a failed probe makes the member
// suspect, suspicion that is not refuted in time makes it down, and (optionally) a member down
// long enough is removed. The membership table itself is the ring's; this file only decides when.
import type { MemberEntry } from '../core/membership.js';
import type { NodeId } from '../core/node-id.js';
import type { Clock, TimerHandle } from '../env/clock.js';
import { sample, type Random } from '../env/random.js';
import { detLog10 } from '../core/det-math.js';

/**
 * How long a member stays suspect before it is declared down:
 * `suspicionMult × max(1, log10(n + 1)) × probeIntervalMs`, n being the members on the ring
 * (memberlist's rule), so a larger cluster gives gossip the extra rounds it needs to carry a
 * refutation back.
 */
export function suspicionTimeoutMs(n: number, suspicionMult: number, probeIntervalMs: number): number {
  return suspicionMult * Math.max(1, detLog10(n + 1)) * probeIntervalMs;
}

/**
 * The documented bound on detecting a crashed member, on every live node, with no message loss:
 * `(2n − 1) × probeIntervalMs + suspicionTimeoutMs(n)`. Each node probes every member once per
 * pass of n − 1 probes in a shuffled order, so it starts a probe of the dead member within
 * 2n − 3 intervals (just probed at the start of one pass, last in the next); that probe fails
 * within one interval (direct timeout, then the indirect probes), one more interval covers the
 * phase of the probe tick, and suspicion then runs out. With auto-remove, add `autoRemoveAfterMs`
 * for the member to leave every ring. The typical case is much faster: n − 1 nodes probe at once.
 */
export function detectionBoundMs(n: number, suspicionMult: number, probeIntervalMs: number): number {
  return (2 * n - 1) * probeIntervalMs + suspicionTimeoutMs(n, suspicionMult, probeIntervalMs);
}

/** What the detector needs from its ring. */
export interface ProbeHost {
  /** Members to probe: on the ring, alive or suspect, not this node. */
  probeTargets(): MemberEntry[];
  /** Members that may probe for us (alive, not this node). */
  relays(): MemberEntry[];
  /** Resolves true on an ack within `timeoutMs`, false otherwise (never rejects). */
  ping(target: NodeId, timeoutMs: number): Promise<boolean>;
  /** Asks `relay` to ping `target`; true on its positive answer within `timeoutMs` (never rejects). */
  pingReq(relay: NodeId, target: NodeId, timeoutMs: number): Promise<boolean>;
  /** The probe of `id` at `incarnation` failed. */
  suspect(id: string, incarnation: number): void;
  /** A suspicion or down timer of `id` at `incarnation` ran out. */
  expire(id: string, incarnation: number, next: 'down' | 'removed'): void;
}

/** Timing of a {@link FailureDetector}. */
export interface FailureDetectorOptions {
  readonly probeIntervalMs: number;
  readonly probeTimeoutMs: number;
  readonly indirectProbes: number;
  readonly suspicionMult: number;
  readonly autoRemoveAfterMs: number | undefined;
}

interface Armed {
  readonly incarnation: number;
  readonly next: 'down' | 'removed';
  readonly timer: TimerHandle;
}

/** Runs probes and the suspicion/auto-remove timers of one node. */
export class FailureDetector {
  readonly #host: ProbeHost;
  readonly #clock: Clock;
  readonly #random: Random;
  readonly #o: FailureDetectorOptions;
  readonly #armed = new Map<string, Armed>();
  #order: string[] = [];
  #at = 0;
  #tick: TimerHandle | undefined;
  #running = false;
  /** Bumped by `stop()`, so a probe still in flight from before cannot start a second loop. */
  #generation = 0;
  /** Probes started and probes that failed, for inspection and benchmarks. */
  readonly stats = { probes: 0, failed: 0 };

  constructor(host: ProbeHost, clock: Clock, random: Random, options: FailureDetectorOptions) {
    this.#host = host;
    this.#clock = clock;
    this.#random = random;
    this.#o = options;
  }

  /** Starts probing after a random fraction of an interval (so nodes do not probe in step). */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#schedule(this.#random.next() * this.#o.probeIntervalMs);
  }

  /** Stops probing and cancels every timer. */
  stop(): void {
    this.#running = false;
    this.#generation++;
    if (this.#tick !== undefined) this.#clock.cancelTimer(this.#tick);
    this.#tick = undefined;
    for (const a of this.#armed.values()) this.#clock.cancelTimer(a.timer);
    this.#armed.clear();
  }

  /**
   * Arms or cancels the timers of a member after its entry changed: suspect arms the
   * suspicion timeout, down arms auto-remove (when on); anything else cancels.
   */
  track(id: string, entry: MemberEntry | undefined, ringSize: number): void {
    const want = entry === undefined || entry.admin !== 'in' ? undefined
      : entry.liveness === 'suspect' ? 'down' as const
      : entry.liveness === 'down' && this.#o.autoRemoveAfterMs !== undefined ? 'removed' as const : undefined;
    const armed = this.#armed.get(id);
    if (armed !== undefined && want === armed.next && entry?.incarnation === armed.incarnation) return;
    if (armed !== undefined) this.#clock.cancelTimer(armed.timer);
    this.#armed.delete(id);
    if (want === undefined || entry === undefined || !this.#running) return;
    const delayMs = want === 'down'
      ? suspicionTimeoutMs(ringSize, this.#o.suspicionMult, this.#o.probeIntervalMs)
      : (this.#o.autoRemoveAfterMs ?? 0);
    const incarnation = entry.incarnation;
    const timer = this.#clock.setTimer(delayMs, () => {
      this.#armed.delete(id);
      this.#host.expire(id, incarnation, want);
    });
    this.#armed.set(id, { incarnation, next: want, timer });
  }

  /** The probe loop: the next probe starts one interval after this one started, or when it ends if later. */
  #schedule(delayMs: number): void {
    const generation = this.#generation;
    this.#tick = this.#clock.setTimer(delayMs, () => {
      this.#tick = undefined;
      const started = this.#clock.now();
      void this.#probeOne().finally(() => {
        if (this.#running && this.#generation === generation) {
          this.#schedule(Math.max(0, started + this.#o.probeIntervalMs - this.#clock.now()));
        }
      });
    });
  }

  /** The next member in the shuffled round-robin order; reshuffled after each pass. */
  #nextTarget(): MemberEntry | undefined {
    const targets = new Map(this.#host.probeTargets().map((e) => [e.node.id, e]));
    for (let tries = 0; tries < 2; tries++) {
      while (this.#at < this.#order.length) {
        const e = targets.get(this.#order[this.#at++] as string);
        if (e !== undefined) return e;
      }
      this.#order = sample(this.#random, [...targets.keys()].sort(), targets.size);
      this.#at = 0;
    }
    return undefined;
  }

  async #probeOne(): Promise<void> {
    const target = this.#nextTarget();
    if (target === undefined || !this.#running) return;
    this.stats.probes++;
    const { probeIntervalMs, probeTimeoutMs, indirectProbes } = this.#o;
    if (await this.#host.ping(target.node, probeTimeoutMs)) return;
    const relays = sample(this.#random, this.#host.relays().filter((e) => e.node.id !== target.node.id), indirectProbes);
    // The indirect phase gets the rest of the probe interval, as in memberlist.
    const remainingMs = Math.max(probeTimeoutMs, probeIntervalMs - probeTimeoutMs) - 1;
    const answers = await Promise.all(relays.map((r) => this.#host.pingReq(r.node, target.node, remainingMs)));
    if (answers.includes(true) || !this.#running) return;
    this.stats.failed++;
    this.#host.suspect(target.node.id, target.incarnation);
  }
}
