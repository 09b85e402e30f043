// The behaviour of one directed link of the simulated network: how long a frame takes and which
// faults may hit it. Pure data and validation; the network applies it (sim-pipe.ts).
import { ClusterluckError, invalidArgument } from '../../lib/env/errors.js';
import type { Random } from '../../lib/env/random.js';

/** A one-way delay drawn uniformly from the whole milliseconds in `[min, max]`. */
export interface LatencyRange {
  readonly min: number;
  readonly max: number;
}

/**
 * How one directed link (`from` → `to`) behaves. Every field is optional; what is left out comes
 * from the network's default link. A change applies to frames sent after it.
 */
export interface LinkConfig {
  /** One-way delay of every frame and handshake packet, in virtual ms; a number is a fixed delay. @default { min: 1, max: 10 } */
  readonly latencyMs?: number | LatencyRange;
  /**
   * Per-frame probability of loss. On a reliable link (the default) a lost frame is what TCP
   * shows after retransmission gives up: the connection breaks at the moment that frame was due,
   * both sides close with CONNECTION_CLOSED, and neither it nor any later frame arrives. With
   * `unreliable: true` the frame alone vanishes silently instead. @default 0
   */
  readonly loss?: number;
  /** Per-frame probability that a second copy arrives later. Requires `unreliable: true`. @default 0 */
  readonly duplicate?: number;
  /**
   * Per-frame probability that a frame leaves the FIFO line: it takes a fresh delay of up to twice
   * the maximum latency and later frames do not wait for it. Requires `unreliable: true`. Such a
   * frame, like a duplicate copy, is outside the retransmitted line: a partition loses it. @default 0
   */
  readonly reorder?: number;
  /**
   * Allows this link to break the Transport contract's "reliable and ordered" promise (silent
   * frame loss, duplication, reordering): only for testing the kernel's sequence and replay
   * defences. @default false
   */
  readonly unreliable?: boolean;
}

/** A {@link LinkConfig} with every field filled in and checked. */
export interface ResolvedLink {
  readonly latencyMs: LatencyRange;
  readonly loss: number;
  readonly duplicate: number;
  readonly reorder: number;
  readonly unreliable: boolean;
}

/** The default link of a {@link SimNetwork}: 1–10 ms one way, no faults. */
export const simLinkDefault: ResolvedLink = Object.freeze({
  latencyMs: Object.freeze({ min: 1, max: 10 }),
  loss: 0,
  duplicate: 0,
  reorder: 0,
  unreliable: false,
});

/** Longest one-way latency a link accepts: one virtual day. */
export const simLatencyMsMax = 86_400_000;

/** Fills `config` in from `base` and checks the result; INVALID_ARGUMENT names the bad field. */
export function resolveLink(base: ResolvedLink, config: LinkConfig, field = 'link'): ResolvedLink {
  if (typeof config !== 'object' || config === null) throw invalidArgument(field, config, 'a LinkConfig object');
  const latencyMs = config.latencyMs === undefined ? base.latencyMs : latencyRange(`${field}.latencyMs`, config.latencyMs);
  const loss = probability(`${field}.loss`, config.loss ?? base.loss);
  const duplicate = probability(`${field}.duplicate`, config.duplicate ?? base.duplicate);
  const reorder = probability(`${field}.reorder`, config.reorder ?? base.reorder);
  const unreliable = config.unreliable ?? base.unreliable;
  if (typeof unreliable !== 'boolean') throw invalidArgument(`${field}.unreliable`, unreliable, 'a boolean');
  for (const [name, value] of [['duplicate', duplicate], ['reorder', reorder]] as const) {
    if (value > 0 && !unreliable) {
      throw new ClusterluckError('INVALID_ARGUMENT', `${field}.${name} breaks ordered reliable delivery: set unreliable: true to allow it`,
        { fails: { [`${field}.${name}`]: 'requires unreliable: true' } });
    }
  }
  return Object.freeze({ latencyMs, loss, duplicate, reorder, unreliable });
}

/** A one-way delay for `link`: a whole number of ms, uniform in its range; draws nothing when fixed. */
export function drawLatencyMs(random: Random, link: ResolvedLink): number {
  const { min, max } = link.latencyMs;
  return min === max ? min : min + Math.floor(random.next() * (max - min + 1));
}

/** True with probability `p`; draws nothing when `p` is 0. */
export function chance(random: Random, p: number): boolean {
  return p > 0 && random.next() < p;
}

function latencyRange(field: string, value: unknown): LatencyRange {
  if (typeof value === 'number') {
    checkMs(field, value);
    return Object.freeze({ min: value, max: value });
  }
  if (typeof value !== 'object' || value === null) throw invalidArgument(field, value, 'a number of ms or { min, max }');
  const { min, max } = value as Partial<LatencyRange>;
  checkMs(`${field}.min`, min);
  checkMs(`${field}.max`, max);
  if (max < min) throw invalidArgument(`${field}.max`, max, `at least min (${min})`);
  return Object.freeze({ min, max });
}

function checkMs(field: string, value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > simLatencyMsMax) {
    throw invalidArgument(field, value, `a whole number of ms in [0, ${simLatencyMsMax}]`);
  }
}

function probability(field: string, value: unknown): number {
  if (typeof value !== 'number' || !(value >= 0 && value <= 1)) throw invalidArgument(field, value, 'a probability in [0, 1]');
  return value;
}
