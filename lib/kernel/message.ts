// The body of a data frame: what the kernel routes. Pure read/write functions.
//
//   0      u8   kind
//   1..4   u32  tag (call, reply-ok, reply-error; 0 otherwise)
//   5..6   u16  length of the actor name in bytes (call, cast; 0 otherwise)
//   7..    actor name (UTF-8), then the payload
//
// Payloads are UTF-8 JSON: a job `{event, data}` for call and cast, the reply value for
// reply-ok, a WireError for reply-error, the sender's node id for auth.
import { assert } from '../env/assert.js';
import { allocBytes, constantTimeEqual, fromUtf8, utf8 } from '../env/bytes.js';

/** Message kinds. */
export const MessageKind = { auth: 1, call: 2, cast: 3, replyOk: 4, replyError: 5 } as const;
/** A value of {@link MessageKind}. */
export type MessageKind = (typeof MessageKind)[keyof typeof MessageKind];

/** A routed message. */
export interface Message {
  readonly kind: MessageKind;
  readonly tag: number;
  readonly name: string;
  readonly payload: Uint8Array;
}

const headBytes = 7;
const nameBytesMax = 0xffff;

/** Encodes a message body. */
export function writeMessage(kind: MessageKind, tag: number, name: string, payload: Uint8Array): Uint8Array {
  const nameBytes = utf8(name);
  if (nameBytes.byteLength > nameBytesMax) throw new RangeError('actor name too long');
  const out = allocBytes(headBytes + nameBytes.byteLength + payload.byteLength);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  out[0] = kind;
  view.setUint32(1, tag);
  view.setUint16(5, nameBytes.byteLength);
  out.set(nameBytes, headBytes);
  out.set(payload, headBytes + nameBytes.byteLength);
  return out;
}

/** Decodes a message body; undefined when malformed (never throws). */
export function readMessage(body: Uint8Array): Message | undefined {
  if (body.byteLength < headBytes) return undefined;
  const kind = body[0];
  if (kind === undefined || kind < MessageKind.auth || kind > MessageKind.replyError) return undefined;
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const tag = view.getUint32(1);
  const nameLength = view.getUint16(5);
  if (headBytes + nameLength > body.byteLength) return undefined;
  let name: string;
  try {
    name = fromUtf8(body.subarray(headBytes, headBytes + nameLength));
  } catch {
    return undefined;
  }
  return { kind: kind as MessageKind, tag, name, payload: body.subarray(headBytes + nameLength) };
}

/** Asserts that a message body just written reads back with the fields it was written with (encode-then-decode). */
export function checkMessage(body: Uint8Array, kind: MessageKind, tag: number, name: string, payload: Uint8Array): void {
  const m = readMessage(body);
  assert(m !== undefined && m.kind === kind && m.tag === tag && m.name === name && constantTimeEqual(m.payload, payload), 'a written message reads back as written');
}
