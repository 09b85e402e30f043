/** Every error code the SDK throws or sends across the wire. */
export const ErrorCodes = [
  'INVALID_ARGUMENT',
  'TIMEOUT',
  'ABORTED',
  'NOT_FOUND',
  'NOT_OWNER',
  'NO_SUCH_ACTOR',
  'NOT_A_MEMBER',
  'UNREACHABLE',
  'ALREADY_EXISTS',
  'QUEUE_FULL',
  'MESSAGE_TOO_LARGE',
  'CONNECTION_CLOSED',
  'CONNECTION_REFUSED',
  'ADDRESS_IN_USE',
  'NOT_CONNECTED',
  'NOT_RUNNING',
  'BAD_MESSAGE',
  'SEMAPHORE_FULL',
  'LEASE_LOST',
  'STORAGE_CORRUPT',
  'UNSUPPORTED_PLATFORM',
  'INTERNAL',
] as const;

/** A code from {@link ErrorCodes}. */
export type ErrorCode = (typeof ErrorCodes)[number];

const codeSet: ReadonlySet<string> = new Set(ErrorCodes);

/** True when `value` is one of the known {@link ErrorCode}s. */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && codeSet.has(value);
}

/** The one error class of the SDK: an `Error` with a machine-readable `code`. */
export class ClusterluckError extends Error {
  override readonly name = 'ClusterluckError';
  /** What went wrong, for programs. */
  readonly code: ErrorCode;
  /** For INVALID_ARGUMENT: each bad field and why it was refused. */
  readonly fails: Readonly<Record<string, string>> | undefined;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; fails?: Record<string, string> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.fails = options?.fails;
  }
}

/**
 * A {@link ClusterluckError} that captures no stack trace, for errors whose stack would show only
 * the event loop, never the code that asked: a call's timer that fired, an error a peer sent back,
 * a wait the owner ended; and for the outcomes a busy or faulty cluster answers by the thousand,
 * whose code and message say all there is: a semaphore with no free slot, an owner held down,
 * a connection that closed. Capturing one took about 4.5 µs (Node 20, a simulator's stack depth),
 * and the simulator made several thousand such errors a seed.
 */
export function stacklessError(code: ErrorCode, message: string, options?: { cause?: unknown; fails?: Record<string, string> }): ClusterluckError {
  // V8's knob (Node, Chromium); elsewhere the error keeps whatever stack the engine gives it.
  const v8 = Error as { stackTraceLimit?: number };
  const limit = v8.stackTraceLimit;
  if (typeof limit !== 'number') return new ClusterluckError(code, message, options);
  v8.stackTraceLimit = 0;
  try {
    return new ClusterluckError(code, message, options);
  } finally {
    v8.stackTraceLimit = limit;
  }
}

/** True when `err` is a {@link ClusterluckError}, optionally with the given code. */
export function isClusterluckError(err: unknown, code?: ErrorCode): err is ClusterluckError {
  return err instanceof ClusterluckError && (code === undefined || err.code === code);
}

/** Renders a value for an error message: short, never throws. */
export function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) {
    return String(value);
  }
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value instanceof Uint8Array) return `${value.byteLength} bytes`;
  return 'an object';
}

/** INVALID_ARGUMENT naming the field and the value it got. */
export function invalidArgument(field: string, value: unknown, expected: string): ClusterluckError {
  return new ClusterluckError('INVALID_ARGUMENT', `${field} must be ${expected}, got ${show(value)}`, {
    fails: { [field]: `must be ${expected}, got ${show(value)}` },
  });
}

/** The JSON-safe shape of an error sent to a peer: code and message, never a stack. */
export interface WireError {
  readonly code: ErrorCode;
  readonly message: string;
  readonly fails?: Readonly<Record<string, string>>;
}

/** Turns any thrown value into what may cross the wire. */
export function toWireError(err: unknown): WireError {
  if (err instanceof ClusterluckError) {
    return err.fails === undefined
      ? { code: err.code, message: err.message }
      : { code: err.code, message: err.message, fails: err.fails };
  }
  return { code: 'INTERNAL', message: err instanceof Error ? err.message : 'internal error' };
}

/** Rebuilds a {@link ClusterluckError} from a peer's wire error; anything malformed becomes BAD_MESSAGE. */
export function fromWireError(value: unknown): ClusterluckError {
  if (typeof value !== 'object' || value === null) {
    return new ClusterluckError('BAD_MESSAGE', 'peer sent a malformed error');
  }
  const v = value as Record<string, unknown>;
  const code = isErrorCode(v['code']) ? v['code'] : 'INTERNAL';
  const message = typeof v['message'] === 'string' ? v['message'] : 'remote error';
  const fails = readFails(v['fails']);
  return stacklessError(code, message, fails === undefined ? undefined : { fails });
}

function readFails(value: unknown): Record<string, string> | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [k, v] of Object.entries(value)) if (typeof v === 'string') out[k] = v;
  return out;
}
