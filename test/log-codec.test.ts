import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concatBytes, utf8 } from '../lib/env/bytes.js';
import { crc32 } from '../lib/table/crc32.js';
import { decodeLog, encodeChange, encodeRecord, type TableChange } from '../lib/table/log-codec.js';

const change = fc.oneof(
  fc.tuple(fc.constant('s' as const), fc.string(), fc.jsonValue()),
  fc.tuple(fc.constant('d' as const), fc.string()),
  fc.constant(['c'] as const),
) as fc.Arbitrary<TableChange>;

describe('log records', () => {
  it('CRC-32 is the IEEE one (the check value of "123456789")', () => {
    expect(crc32(utf8('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });

  it('property: records decode to what was encoded, in order', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(), change), { maxLength: 20 }), (items) => {
        const log = concatBytes(items.map(([g, c]) => encodeRecord(g, encodeChange(c))));
        const { records, corrupt } = decodeLog(log);
        expect(corrupt).toBe(0);
        expect(records).toEqual(items.map(([generation, c]) => ({ generation, change: JSON.parse(JSON.stringify(c)) as unknown })));
      }),
    );
  });

  it('property: any bytes decode without throwing', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => void decodeLog(bytes)));
  });

  it('property: damage inside one record costs that record alone, wherever it lands', () => {
    fc.assert(
      fc.property(fc.array(change, { minLength: 1, maxLength: 8 }), fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 4 }), (changes, pick, noise) => {
        const encoded = changes.map((c) => encodeRecord(1, encodeChange(c)));
        const victim = pick % encoded.length;
        const target = (encoded[victim] as Uint8Array).slice();
        const at = pick % target.byteLength;
        noise.forEach((b, i) => {
          if (at + i < target.byteLength) target[at + i] = (target[at + i] as number) ^ (b === 0 ? 1 : b);
        });
        encoded[victim] = target;
        const { records, corrupt } = decodeLog(concatBytes(encoded));
        expect(corrupt).toBe(1);
        expect(records.length).toBe(changes.length - 1);
      }),
    );
  });
});
