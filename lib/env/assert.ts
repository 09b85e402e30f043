import { ClusterluckError } from './errors.js';

/**
 * An invariant check that stays on in production. A failure is a bug in this library,
 * never bad input (bad input gets INVALID_ARGUMENT).
 */
export function assert(condition: unknown, message = 'assertion failed'): asserts condition {
  if (!condition) throw new ClusterluckError('INTERNAL', `invariant: ${message}`);
}

/** Marks a branch the type system proves unreachable. */
export function unreachable(value: never): never {
  throw new ClusterluckError('INTERNAL', `invariant: unreachable ${String(value)}`);
}
