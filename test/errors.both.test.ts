import { describe, expect, it } from 'vitest';
import { ClusterluckError, fromWireError, invalidArgument, stacklessError, toWireError } from '../lib/env/errors.js';

describe('errors', () => {
  it('invalidArgument names the field and the value it got', () => {
    const err = invalidArgument('timeoutMs', -1, 'a positive finite number');
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toBe('timeoutMs must be a positive finite number, got -1');
    expect(err.fails).toEqual({ timeoutMs: 'must be a positive finite number, got -1' });
  });

  it('a wire round trip keeps code, message and fails but never the stack', () => {
    const err = new ClusterluckError('NOT_FOUND', 'no actor "x"', { fails: { name: 'unknown' } });
    const wire = JSON.parse(JSON.stringify(toWireError(err))) as unknown;
    expect(JSON.stringify(wire)).not.toContain('at ');
    const back = fromWireError(wire);
    expect(back).toBeInstanceOf(ClusterluckError);
    expect([back.code, back.message, back.fails]).toEqual(['NOT_FOUND', 'no actor "x"', { name: 'unknown' }]);
  });

  it('a foreign error crosses the wire as INTERNAL without its stack', () => {
    expect(toWireError(new TypeError('boom'))).toEqual({ code: 'INTERNAL', message: 'boom' });
  });

  it('a stackless error is a whole ClusterluckError with no frames, and leaves the stack limit as it was', () => {
    const limit = (Error as { stackTraceLimit?: number }).stackTraceLimit;
    const err = stacklessError('TIMEOUT', 'call timed out', { fails: { timeoutMs: 'too short' } });
    expect(err).toBeInstanceOf(ClusterluckError);
    expect([err.code, err.message, err.fails]).toEqual(['TIMEOUT', 'call timed out', { timeoutMs: 'too short' }]);
    // Where the engine honours the limit (V8: Node and Chromium), the stack is the first line alone.
    if (typeof limit === 'number') expect(err.stack).toBe('ClusterluckError: call timed out');
    expect((Error as { stackTraceLimit?: number }).stackTraceLimit).toBe(limit);
    expect(new ClusterluckError('TIMEOUT', 'x').stack?.split('\n').length).toBeGreaterThan(1);
    // An error a peer sent back has no local stack either: it would show only the receive path.
    if (typeof limit === 'number') expect(fromWireError({ code: 'NOT_OWNER', message: 'moved' }).stack).toBe('ClusterluckError: moved');
  });

  it('a malformed wire error becomes BAD_MESSAGE, never a crash', () => {
    expect(fromWireError(null).code).toBe('BAD_MESSAGE');
    expect(fromWireError({ code: 'NOPE', message: 3 }).code).toBe('INTERNAL');
  });
});
