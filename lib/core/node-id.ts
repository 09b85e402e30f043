import { invalidArgument } from '../env/errors.js';
import { nodeIdLengthMax } from '../constants.js';

/** A node's identity: a cluster-unique id plus the transport address peers dial. */
export interface NodeId {
  readonly id: string;
  readonly address: string;
}

/** True when `value` is a well-formed {@link NodeId}. */
export function isNodeId(value: unknown): value is NodeId {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return isId(v['id']) && typeof v['address'] === 'string' && v['address'].length <= nodeIdLengthMax;
}

function isId(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= nodeIdLengthMax;
}

/** Validates a {@link NodeId} argument and returns a frozen copy; INVALID_ARGUMENT otherwise. */
export function parseNodeId(value: unknown, field = 'node'): NodeId {
  if (typeof value !== 'object' || value === null) throw invalidArgument(field, value, 'a { id, address } object');
  const v = value as Record<string, unknown>;
  if (!isId(v['id'])) throw invalidArgument(`${field}.id`, v['id'], `a non-empty string of at most ${nodeIdLengthMax} chars`);
  if (typeof v['address'] !== 'string' || v['address'].length > nodeIdLengthMax) {
    throw invalidArgument(`${field}.address`, v['address'], `a string of at most ${nodeIdLengthMax} chars`);
  }
  return Object.freeze({ id: v['id'], address: v['address'] });
}

/** True when both name the same node at the same address. */
export function sameNode(a: NodeId, b: NodeId): boolean {
  return a.id === b.id && a.address === b.address;
}
