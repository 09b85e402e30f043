// The DTable log: pure encode/decode of checksummed records, no I/O.
//
// Record (big-endian):
//   u8  magic 0xC7
//   u32 crc32 of everything after it (the length field and the payload)
//   u32 payload length in bytes (at most tableRecordBytesMax)
//   payload: UTF-8 JSON  [generation, "s", key, value] | [generation, "d", key] | [generation, "c"]
//
// The checksum covers the length, so a damaged length cannot make the reader skip good records
// unnoticed; the magic byte lets the reader find the next record after a damaged one.
import { tableRecordBytesMax } from '../constants.js';
import { assert } from '../env/assert.js';
import { fromUtf8, utf8 } from '../env/bytes.js';
import { invalidArgument } from '../env/errors.js';
import { crc32 } from './crc32.js';

/** A change to a table, without the log generation it was written in. */
export type TableChange = readonly ['s', string, unknown] | readonly ['d', string] | readonly ['c'];

/** One decoded log record: the generation of the log it was appended to, and the change. */
export interface LogRecord {
  readonly generation: number;
  readonly change: TableChange;
}

const magic = 0xc7;
const headBytes = 9;
/** `[` + a safe integer + `,`, at most. */
const generationBytesMax = 18;

/**
 * The JSON of a change, without its generation: computed once, when the change is made, so a
 * value that cannot be stored is refused before it touches the table.
 */
export function encodeChange(change: TableChange): string {
  if (change[0] === 's') {
    const v = change[2];
    if (v === undefined || typeof v === 'function' || typeof v === 'symbol') throw invalidArgument('value', v, 'a JSON value');
  }
  let json: string;
  try {
    json = JSON.stringify(change);
  } catch (err) {
    throw invalidArgument('value', change[0] === 's' ? change[2] : undefined, `a JSON value (${err instanceof Error ? err.message : 'not serialisable'})`);
  }
  // A UTF-16 unit is at most 3 UTF-8 bytes, so only long JSON needs measuring; the margin is
  // for the generation that encodeRecord puts in front.
  const fits = json.length * 3 + generationBytesMax <= tableRecordBytesMax || utf8(json).byteLength + generationBytesMax <= tableRecordBytesMax;
  if (!fits) throw invalidArgument('value', change[2], `JSON of at most ${tableRecordBytesMax - generationBytesMax} bytes`);
  return json;
}

/** One framed record for a change encoded by {@link encodeChange}, in log `generation` (a safe integer ≥ 0). */
export function encodeRecord(generation: number, changeJson: string): Uint8Array {
  // `["s",...]` becomes `[7,"s",...]`.
  const payload = utf8(`[${generation},${changeJson.slice(1)}`);
  assert(payload.byteLength <= tableRecordBytesMax, 'a record checked by encodeChange fits');
  const out = new Uint8Array(headBytes + payload.byteLength);
  const view = new DataView(out.buffer);
  out[0] = magic;
  view.setUint32(5, payload.byteLength);
  out.set(payload, headBytes);
  view.setUint32(1, crc32(out.subarray(5)));
  return out;
}

/**
 * Asserts that a record just written by {@link encodeRecord} decodes, alone, to its generation and
 * the change `changeJson` encodes (encode-then-decode; a DTable's `checkCodecs`).
 */
export function checkRecord(record: Uint8Array, generation: number, changeJson: string): void {
  const { records, corrupt } = decodeLog(record);
  const [r] = records;
  assert(corrupt === 0 && records.length === 1 && r !== undefined && r.generation === generation && JSON.stringify(r.change) === changeJson,
    'a written log record reads back as written');
}

/** What reading a log gave. */
export interface LogRead {
  /** The intact records, in log order. */
  readonly records: LogRecord[];
  /** Damaged stretches skipped: each torn or corrupt record (or run of garbage) counts once. */
  readonly corrupt: number;
}

/**
 * Reads every intact record of a log; never throws. A damaged record is skipped and counted, and
 * reading resumes at the next intact record, so one flipped byte costs one record, and a torn
 * tail costs only itself.
 */
export function decodeLog(bytes: Uint8Array): LogRead {
  const records: LogRecord[] = [];
  let corrupt = 0;
  let at = 0;
  while (at < bytes.byteLength) {
    const good = recordAt(bytes, at);
    if (good !== undefined) {
      records.push(good.record);
      at = good.end;
      continue;
    }
    corrupt++;
    at++;
    while (at < bytes.byteLength && (bytes[at] !== magic || recordAt(bytes, at) === undefined)) at++;
  }
  return { records, corrupt };
}

function recordAt(bytes: Uint8Array, at: number): { record: LogRecord; end: number } | undefined {
  if (bytes[at] !== magic || at + headBytes > bytes.byteLength) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset + at, headBytes);
  const length = view.getUint32(5);
  const end = at + headBytes + length;
  if (length > tableRecordBytesMax || end > bytes.byteLength) return undefined;
  if (crc32(bytes.subarray(at + 5, end)) !== view.getUint32(1)) return undefined;
  const record = parseRecord(bytes.subarray(at + headBytes, end));
  return record === undefined ? undefined : { record, end };
}

function parseRecord(payload: Uint8Array): LogRecord | undefined {
  let v: unknown;
  try {
    v = JSON.parse(fromUtf8(payload));
  } catch {
    return undefined;
  }
  if (!Array.isArray(v) || !Number.isSafeInteger(v[0]) || (v[0] as number) < 0) return undefined;
  const generation = v[0] as number;
  if (v[1] === 's' && v.length === 4 && typeof v[2] === 'string') return { generation, change: ['s', v[2], v[3]] };
  if (v[1] === 'd' && v.length === 3 && typeof v[2] === 'string') return { generation, change: ['d', v[2]] };
  if (v[1] === 'c' && v.length === 2) return { generation, change: ['c'] };
  return undefined;
}
