// The fields every gossip and view message shares, read the same way by both codecs.
import { ClusterluckError, show } from '../env/errors.js';
import { checkRingId } from './gossip-options.js';

/** `data` as an object, or BAD_MESSAGE. */
export function object(data: unknown): Record<string, unknown> | Error {
  return typeof data === 'object' && data !== null && !Array.isArray(data) ? (data as Record<string, unknown>) : bad('data', data);
}

/** The `ring` field, checked, or BAD_MESSAGE. */
export function ringOf(o: Record<string, unknown>): string | Error {
  try {
    return checkRingId(o['ring'], 'ring');
  } catch (err) {
    return err instanceof Error ? err : bad('ring', o['ring']);
  }
}

/** A message that names its ring: the object and its checked `ring`, or BAD_MESSAGE. */
export function ringMessage(data: unknown): { readonly o: Record<string, unknown>; readonly ring: string } | Error {
  const o = object(data);
  if (o instanceof Error) return o;
  const ring = ringOf(o);
  return ring instanceof Error ? ring : { o, ring };
}

/** BAD_MESSAGE naming a malformed field and its value. */
export function bad(field: string, value: unknown): ClusterluckError {
  return new ClusterluckError('BAD_MESSAGE', `malformed gossip field ${field}: ${show(value)}`);
}
