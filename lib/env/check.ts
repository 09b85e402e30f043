// The argument checks every option parser shares: each returns the value, or throws
// INVALID_ARGUMENT naming the field and the value it got.
import { invalidArgument } from './errors.js';

/** `value` as an integer from `min` to `max`. */
export function checkInteger(field: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw invalidArgument(field, value, `an integer in [${min}, ${max}]`);
  }
  return value;
}

/** `value` as a finite number above 0. */
export function checkPositive(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw invalidArgument(field, value, 'a positive finite number');
  return value;
}

/** `value` as a finite number of at least 0. */
export function checkNonNegative(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw invalidArgument(field, value, 'a finite number ≥ 0');
  return value;
}
