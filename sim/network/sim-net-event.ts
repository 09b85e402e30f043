// What the simulated network reports to its `onEvent` hook: enough to hash a run's traffic and to
// read a failing run's story, in the order things happened on the virtual clock.
import type { Address } from '../../lib/env/transport.js';

/**
 * Every kind of {@link SimNetworkEvent}:
 * - `send` a frame was sent (reported for listeners, not in the trace); `deliver` a frame reached the receiver; `drop` an unreliable link lost it (or a stray copy met
 *   a partition); `duplicate` / `reorder` a frame was chosen for that fault when sent;
 * - `reset` a lost frame on a reliable link broke its connection; `stall` a direction's next frame
 *   is held by a partition; `resume` it moves again after a heal; `break` a connection ended with
 *   CONNECTION_CLOSED (stalled too long, reset, or severed);
 * - `dial` a dial began; `syn-lost` a handshake packet met a partition (it is retried);
 *   `accept` the listener got the connection; `connect` the dialer's `dial` resolved;
 *   `refuse` nobody listened; `dial-fail` the dial timed out or was aborted;
 * - `close` a side ended (graceful or not); `abort` a side aborted;
 * - `partition`, `partition-one-way`, `isolate`, `heal`, `clog`, `link`: fault changes.
 */
export const simNetworkEventKinds = [
  'send', 'deliver', 'drop', 'duplicate', 'reorder', 'reset', 'stall', 'resume', 'break',
  'dial', 'syn-lost', 'accept', 'connect', 'refuse', 'dial-fail', 'close', 'abort',
  'partition', 'partition-one-way', 'isolate', 'heal', 'clog', 'link',
] as const;

/** One of {@link simNetworkEventKinds}. */
export type SimNetworkEventKind = (typeof simNetworkEventKinds)[number];

/** One entry of the network's trace. Fields that do not apply to a kind are absent. */
export interface SimNetworkEvent {
  readonly kind: SimNetworkEventKind;
  /** Virtual time, from the network's clock. */
  readonly atMs: number;
  /** Sending side (for fault changes: the first group or the clogged address, comma-joined). */
  readonly from?: Address;
  /** Receiving side (for fault changes: the second group, comma-joined). */
  readonly to?: Address;
  /** The id of the connection (the dialer's side) this is about. */
  readonly connection?: string;
  /** Index of the frame among those sent in its direction of its connection, from 0. */
  readonly seq?: number;
  readonly bytes?: number;
  /** `deliver`, `drop`: when the frame was sent (not part of the trace line). */
  readonly sentAtMs?: number;
  /** Why, for drops, breaks, closes and failed dials; the duration for clogs. */
  readonly reason?: string;
}

/** A receiver of {@link SimNetworkEvent}s; it must not throw. */
export type SimNetworkEventHandler = (event: SimNetworkEvent) => void;

/** One stable line for an event, for trace hashes and logs. */
export function formatSimNetworkEvent(e: SimNetworkEvent): string {
  const parts: string[] = [String(e.atMs), e.kind];
  if (e.connection !== undefined) parts.push(e.connection);
  if (e.from !== undefined || e.to !== undefined) parts.push(`${e.from ?? ''}>${e.to ?? ''}`);
  if (e.seq !== undefined) parts.push(`#${e.seq}`);
  if (e.bytes !== undefined) parts.push(`${e.bytes}B`);
  if (e.reason !== undefined) parts.push(JSON.stringify(e.reason));
  return parts.join(' ');
}
