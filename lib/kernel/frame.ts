// Kernel frames: pure read/write functions, no I/O (the y-protocols shape).
//
//   0      u8   version (frameVersion)
//   1      u8   type: hello | data | batch
//   2..5   u32  sequence number, big-endian (hello: 0; data and batch frames: 1, 2, 3, ... per connection)
//   6..37  32 B HMAC-SHA256 over the cluster cookie
//   38..   body: a hello's, one message (data), or several (batch: each `u32 length | message`,
//          big-endian, as many as fill the body)
//
// A hello is not signed (its MAC field is zero): nothing derived from the cookie goes out before
// both sides' nonces are known. Every data frame's MAC covers version, type, sequence, body and
// both connection nonces, the *receiver's* first (each side sends a fresh random one in its
// hello). So a captured frame is worthless on any other connection, and the strict sequence makes
// it worthless a second time on the same one: Clusterluck's replayable, unbound signatures (a
// replayed `destroy`) cannot happen here. The MAC key is the cookie's PBKDF2 (cookie-key.ts).
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { assert } from '../env/assert.js';
import { allocBytes, constantTimeEqual, fromUtf8, utf8 } from '../env/bytes.js';
import type { Hmac, HmacFactory } from '../env/crypto.js';

/** The frame format version this kernel speaks. */
export const frameVersion = 3;
/** Bytes before the body. */
export const frameHeaderBytes = 38;
/** Bytes of a connection nonce. */
export const nonceBytes = 16;

const macBytes = 32;

/**
 * Frame types. A batch carries the messages a link sent one peer before its connection's flush,
 * under one MAC and one sequence number (see Link.send).
 */
export const FrameType = { hello: 1, data: 2, batch: 3 } as const;
/** A value of {@link FrameType}. */
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

/**
 * HMAC-SHA256 in plain JavaScript (@noble/hashes): synchronous, the same in every runtime. The key's
 * padded blocks are hashed once; each MAC copies that state into one reused instance and writes
 * into one reused buffer, so a frame's MAC allocates nothing (the returned bytes are overwritten
 * by the next call, as {@link Hmac} allows).
 */
export const portableHmac: HmacFactory = (key) => {
  const base = hmac.create(sha256, key);
  let h = base.clone();
  const out = new Uint8Array(macBytes);
  return (parts) => {
    h = base._cloneInto(h);
    for (const p of parts) h.update(p);
    h.digestInto(out);
    return out;
  };
};

/** Computes and checks MACs under the key derived from the cluster cookie (see cookie-key.ts). */
export class FrameSigner {
  readonly #mac: Hmac;
  readonly #head = new Uint8Array(6);
  readonly #headView = new DataView(this.#head.buffer);

  constructor(key: Uint8Array, factory: HmacFactory = portableHmac) {
    this.#mac = factory(key);
  }

  /** The MAC of a frame's signed parts. */
  mac(type: FrameType, seq: number, binding: Uint8Array | undefined, body: Uint8Array): Uint8Array {
    const head = this.#head;
    head[0] = frameVersion;
    head[1] = type;
    this.#headView.setUint32(2, seq);
    return this.#mac(binding === undefined ? [head, body] : [head, binding, body]);
  }
}

/** Builds a frame, signed by `signer` (a hello is not: `undefined` leaves its MAC field zero). */
export function writeFrame(
  signer: FrameSigner | undefined,
  type: FrameType,
  seq: number,
  binding: Uint8Array | undefined,
  body: Uint8Array,
): Uint8Array {
  const out = allocBytes(frameHeaderBytes + body.byteLength);
  out[0] = frameVersion;
  out[1] = type;
  new DataView(out.buffer, out.byteOffset, out.byteLength).setUint32(2, seq);
  if (signer !== undefined) out.set(signer.mac(type, seq, binding, body), 6);
  out.set(body, frameHeaderBytes);
  return out;
}

/** What a data frame's MAC binds: the receiver's nonce, then the sender's. */
export function nonceBinding(receiver: Uint8Array, sender: Uint8Array): Uint8Array {
  const out = new Uint8Array(receiver.byteLength + sender.byteLength);
  out.set(receiver, 0);
  out.set(sender, receiver.byteLength);
  return out;
}

/** A frame whose header parsed; its MAC is not yet checked. */
export interface RawFrame {
  readonly type: FrameType;
  readonly seq: number;
  readonly mac: Uint8Array;
  readonly body: Uint8Array;
}

/** Parses a frame's header, or returns undefined for anything malformed or of another version. */
export function readFrame(bytes: Uint8Array): RawFrame | undefined {
  if (bytes.byteLength < frameHeaderBytes || bytes[0] !== frameVersion) return undefined;
  const type = bytes[1];
  if (type !== FrameType.hello && type !== FrameType.data && type !== FrameType.batch) return undefined;
  const seq = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(2);
  return { type, seq, mac: bytes.subarray(6, 6 + macBytes), body: bytes.subarray(frameHeaderBytes) };
}

/** Bytes a message takes in a batch body: its length, then itself. */
export const batchEntryBytes = (messageBytes: number): number => 4 + messageBytes;

/** A batch frame's body: each message after its length. */
export function writeBatch(messages: readonly Uint8Array[], bytes: number): Uint8Array {
  const out = allocBytes(bytes);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  let at = 0;
  for (const m of messages) {
    view.setUint32(at, m.byteLength);
    out.set(m, at + 4);
    at += batchEntryBytes(m.byteLength);
  }
  assert(at === bytes, 'a batch body is exactly as long as its entries');
  return out;
}

/** A batch frame's messages (views on `body`), or undefined when the lengths do not add up to the body (never throws). */
export function readBatch(body: Uint8Array): Uint8Array[] | undefined {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const out: Uint8Array[] = [];
  for (let at = 0; at < body.byteLength;) {
    if (at + 4 > body.byteLength) return undefined;
    const end = at + batchEntryBytes(view.getUint32(at));
    if (end > body.byteLength) return undefined;
    out.push(body.subarray(at + 4, end));
    at = end;
  }
  return out.length > 0 ? out : undefined;
}

/** Asserts that a frame just written reads back with the type, sequence and body it was written with (encode-then-decode). */
export function checkFrame(bytes: Uint8Array, type: FrameType, seq: number, body: Uint8Array): void {
  const f = readFrame(bytes);
  assert(f !== undefined && f.type === type && f.seq === seq && constantTimeEqual(f.body, body), 'a written frame reads back as written');
}

/** True when the frame's MAC is right for `binding` (compared in constant time). */
export function verifyFrame(signer: FrameSigner, frame: RawFrame, binding: Uint8Array | undefined): boolean {
  return constantTimeEqual(frame.mac, signer.mac(frame.type, frame.seq, binding, frame.body));
}

/** What a hello announces: who the sender is and the nonce it expects in our MACs. */
export interface Hello {
  readonly id: string;
  readonly address: string;
  readonly nonce: Uint8Array;
}

/** Hello body: nonce, then UTF-8 JSON `[id, address]`. */
export function writeHello(hello: Hello): Uint8Array {
  const who = utf8(JSON.stringify([hello.id, hello.address]));
  const out = new Uint8Array(nonceBytes + who.byteLength);
  out.set(hello.nonce, 0);
  out.set(who, nonceBytes);
  return out;
}

/** Parses a hello body; undefined when malformed. */
export function readHello(body: Uint8Array, idLengthMax: number): Hello | undefined {
  if (body.byteLength <= nonceBytes) return undefined;
  const who = parseJson(body.subarray(nonceBytes));
  if (!Array.isArray(who) || who.length !== 2) return undefined;
  const [id, address] = who as unknown[];
  if (typeof id !== 'string' || id.length === 0 || id.length > idLengthMax) return undefined;
  if (typeof address !== 'string' || address.length > idLengthMax) return undefined;
  return { id, address, nonce: body.slice(0, nonceBytes) };
}

/** Asserts that a hello body just written reads back as `hello` (encode-then-decode). */
export function checkHello(body: Uint8Array, hello: Hello, idLengthMax: number): void {
  const h = readHello(body, idLengthMax);
  assert(h !== undefined && h.id === hello.id && h.address === hello.address && constantTimeEqual(h.nonce, hello.nonce), 'a written hello reads back as written');
}

/** Parses UTF-8 JSON; undefined on any error (never throws). */
export function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(fromUtf8(bytes)) as unknown;
  } catch {
    return undefined;
  }
}
