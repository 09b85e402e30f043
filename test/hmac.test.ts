import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { portableHmac } from '../lib/kernel/frame.js';
import { nodeHmac } from '../lib/platform/hmac.node.js';

describe('HMAC-SHA256', () => {
  it('matches RFC 4231 test case 2 in both implementations', () => {
    const key = new TextEncoder().encode('Jefe');
    const msg = new TextEncoder().encode('what do ya want for nothing?');
    const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    const want = '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843';
    expect(hex(portableHmac(key)([msg.subarray(0, 5), msg.subarray(5)]))).toBe(want);
    expect(hex(nodeHmac(key)([msg]))).toBe(want);
  });

  it('property: the portable and native implementations agree on any key and split message', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 100 }), fc.array(fc.uint8Array({ maxLength: 80 }), { maxLength: 4 }), (key, parts) => {
      expect(portableHmac(key)(parts)).toEqual(nodeHmac(key)(parts));
    }));
  });

  it('property: one portable Hmac, used again and again (it reuses its state and output), gives each message its own MAC', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 100 }), fc.array(fc.array(fc.uint8Array({ maxLength: 150 }), { maxLength: 3 }), { minLength: 2, maxLength: 12 }), (key, messages) => {
      const portable = portableHmac(key);
      const native = nodeHmac(key);
      for (const parts of messages) expect(Uint8Array.from(portable(parts))).toEqual(Uint8Array.from(native(parts)));
    }));
  });
});
