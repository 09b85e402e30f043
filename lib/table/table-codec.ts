// Byte formats of a DTable. Pure functions (gzip goes through the platform's CompressionStream,
// which Node 20 and every current browser have).
//
// Log record:  u32 payloadLength | u32 crc32(payload) | payload = UTF-8 JSON [generation, op, key, value?]
//              op: "s" set, "d" delete, "c" clear.
// Snapshot:    "CLTS" | u8 version | u8 flags (1 = gzip) | u32 crc32(body) | body
//              body (after gunzip) = UTF-8 JSON { generation, entries: [[key, value], ...] }
import { concatBytes, fromUtf8, utf8 } from '../env/bytes.js';
import { ClusterluckError } from '../env/errors.js';
import { crc32 } from './crc32.js';

/** One change in the log. */
export type LogOp = readonly [generation: number, op: 's', key: string, value: unknown]
  | readonly [generation: number, op: 'd', key: string]
  | readonly [generation: number, op: 'c'];

const recordHeadBytes = 8;
const snapMagic = [0x43, 0x4c, 0x54, 0x53];
const snapHeadBytes = 10;
const snapVersion = 1;

/** Encodes one log record. */
export function writeRecord(op: LogOp): Uint8Array {
  const payload = utf8(JSON.stringify(op));
  const out = new Uint8Array(recordHeadBytes + payload.byteLength);
  const view = new DataView(out.buffer);
  view.setUint32(0, payload.byteLength);
  view.setUint32(4, crc32(payload));
  out.set(payload, recordHeadBytes);
  return out;
}

/** What reading a log gave: the good records in order, and how many were skipped. */
export interface LogRead {
  readonly ops: LogOp[];
  readonly corrupt: number;
}

/**
 * Reads every record of a log. A record whose checksum or JSON is bad is skipped and counted; a
 * length that runs past the end (a torn tail) ends the read and counts once. Never throws.
 */
export function readLog(bytes: Uint8Array): LogRead {
  const ops: LogOp[] = [];
  let corrupt = 0;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  while (at < bytes.byteLength) {
    if (at + recordHeadBytes > bytes.byteLength) return { ops, corrupt: corrupt + 1 };
    const length = view.getUint32(at);
    const sum = view.getUint32(at + 4);
    const end = at + recordHeadBytes + length;
    if (end > bytes.byteLength) return { ops, corrupt: corrupt + 1 };
    const payload = bytes.subarray(at + recordHeadBytes, end);
    const op = crc32(payload) === sum ? parseOp(payload) : undefined;
    if (op === undefined) corrupt++;
    else ops.push(op);
    at = end;
  }
  return { ops, corrupt };
}

function parseOp(payload: Uint8Array): LogOp | undefined {
  let v: unknown;
  try {
    v = JSON.parse(fromUtf8(payload));
  } catch {
    return undefined;
  }
  if (!Array.isArray(v) || typeof v[0] !== 'number') return undefined;
  if (v[1] === 's' && v.length === 4 && typeof v[2] === 'string') return [v[0], 's', v[2], v[3]];
  if (v[1] === 'd' && v.length === 3 && typeof v[2] === 'string') return [v[0], 'd', v[2]];
  if (v[1] === 'c' && v.length === 2) return [v[0], 'c'];
  return undefined;
}

/** A table's state as a snapshot holds it. */
export interface Snapshot {
  readonly generation: number;
  readonly entries: [string, unknown][];
}

/** Encodes a snapshot, gzipped when asked. */
export async function writeSnapshot(snapshot: Snapshot, compress: boolean): Promise<Uint8Array> {
  const json = utf8(JSON.stringify(snapshot));
  const body = compress ? await transform(json, new CompressionStream('gzip')) : json;
  const head = new Uint8Array(snapHeadBytes);
  head.set(snapMagic);
  head[4] = snapVersion;
  head[5] = compress ? 1 : 0;
  new DataView(head.buffer).setUint32(6, crc32(body));
  return concatBytes([head, body]);
}

/** Decodes a snapshot; anything wrong is STORAGE_CORRUPT (never a silently empty table). */
export async function readSnapshot(bytes: Uint8Array, name: string): Promise<Snapshot> {
  const corrupt = (why: string): ClusterluckError => new ClusterluckError('STORAGE_CORRUPT', `snapshot of table ${JSON.stringify(name)} is corrupt: ${why}`);
  if (bytes.byteLength < snapHeadBytes || snapMagic.some((b, i) => bytes[i] !== b)) throw corrupt('bad header');
  if (bytes[4] !== snapVersion) throw corrupt(`unknown version ${bytes[4]}`);
  const body = bytes.subarray(snapHeadBytes);
  if (crc32(body) !== new DataView(bytes.buffer, bytes.byteOffset).getUint32(6)) throw corrupt('checksum mismatch');
  let value: unknown;
  try {
    const json = bytes[5] === 1 ? await transform(body, new DecompressionStream('gzip')) : body;
    value = JSON.parse(fromUtf8(json));
  } catch (err) {
    throw corrupt(err instanceof Error ? err.message : 'undecodable');
  }
  const v = value as Partial<Snapshot> | null;
  if (typeof v !== 'object' || v === null || typeof v.generation !== 'number' || !Array.isArray(v.entries)
    || !v.entries.every((e) => Array.isArray(e) && e.length === 2 && typeof e[0] === 'string')) {
    throw corrupt('unexpected shape');
  }
  return { generation: v.generation, entries: v.entries };
}

async function transform(bytes: Uint8Array, stream: CompressionStream | DecompressionStream): Promise<Uint8Array> {
  const input = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(stream);
  return new Uint8Array(await new Response(input).arrayBuffer());
}
