// The DTable snapshot: pure encode/decode, gzip through the platform's CompressionStream (Node 20
// and every current browser have it).
//
// Snapshot (big-endian):
//   "CLTS" | u8 version (1) | u8 flags (bit 0: gzip) | u32 crc32(body) | body
//   body, after gunzip when flagged: UTF-8 JSON {"generation": g, "entries": [[key, value], ...]}
//
// The flag, not the table's `compress` option, decides how a snapshot is read, so switching the
// option between runs loads either kind.
import { concatBytes, fromUtf8, utf8 } from '../env/bytes.js';
import { ClusterluckError } from '../env/errors.js';
import { crc32 } from './crc32.js';

/** A table's state as a snapshot holds it. */
export interface Snapshot {
  /** The log generation that starts with this snapshot: older records are already in it. */
  readonly generation: number;
  readonly entries: readonly (readonly [string, unknown])[];
}

const magic = [0x43, 0x4c, 0x54, 0x53];
const headBytes = 10;
const version = 1;
const gzipFlag = 1;

/** Encodes a snapshot, gzipped when `compress`. */
export async function encodeSnapshot(snapshot: Snapshot, compress: boolean): Promise<Uint8Array> {
  const json = utf8(JSON.stringify({ generation: snapshot.generation, entries: snapshot.entries }));
  const body = compress ? await gzip(json, 'compress') : json;
  const head = new Uint8Array(headBytes);
  head.set(magic);
  head[4] = version;
  head[5] = compress ? gzipFlag : 0;
  new DataView(head.buffer).setUint32(6, crc32(body));
  return concatBytes([head, body]);
}

/** Decodes a snapshot of table `name`; anything wrong is STORAGE_CORRUPT, never an empty table. */
export async function decodeSnapshot(bytes: Uint8Array, name: string): Promise<Snapshot> {
  const corrupt = (why: string): ClusterluckError =>
    new ClusterluckError('STORAGE_CORRUPT', `snapshot of table ${JSON.stringify(name)} is corrupt: ${why}`);
  if (bytes.byteLength < headBytes || magic.some((b, i) => bytes[i] !== b)) throw corrupt('bad header');
  if (bytes[4] !== version) throw corrupt(`unknown version ${bytes[4]}`);
  if (((bytes[5] as number) & ~gzipFlag) !== 0) throw corrupt(`unknown flags ${bytes[5]}`);
  const body = bytes.subarray(headBytes);
  if (crc32(body) !== new DataView(bytes.buffer, bytes.byteOffset).getUint32(6)) throw corrupt('checksum mismatch');
  let value: unknown;
  try {
    const json = bytes[5] === gzipFlag ? await gzip(body, 'decompress') : body;
    value = JSON.parse(fromUtf8(json));
  } catch (err) {
    throw corrupt(err instanceof Error ? err.message : 'undecodable');
  }
  const v = value as { generation?: unknown; entries?: unknown } | null;
  if (typeof v !== 'object' || v === null || !Number.isSafeInteger(v.generation) || (v.generation as number) < 0) {
    throw corrupt('no generation');
  }
  if (!Array.isArray(v.entries) || !v.entries.every((e) => Array.isArray(e) && e.length === 2 && typeof e[0] === 'string')) {
    throw corrupt('malformed entries');
  }
  return { generation: v.generation as number, entries: v.entries as [string, unknown][] };
}

async function gzip(bytes: Uint8Array, direction: 'compress' | 'decompress'): Promise<Uint8Array> {
  if (typeof CompressionStream === 'undefined' || typeof DecompressionStream === 'undefined') {
    throw new ClusterluckError('UNSUPPORTED_PLATFORM', 'CompressionStream is not available here; use compress: false');
  }
  const stream = direction === 'compress' ? new CompressionStream('gzip') : new DecompressionStream('gzip');
  const input = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(stream);
  return new Uint8Array(await new Response(input).arrayBuffer());
}
