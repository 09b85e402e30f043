// Decode-after-encode for the frame and record codecs: kernel frames, hellos and messages, table
// snapshots, the stored view state (log records: test/log-codec.test.ts; gossip messages:
// test/gossip-codec.test.ts). And the same checks as the kernel and DTable run them with
// `checkCodecs` on: they pass on what the codecs write and fail on what they do not.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameSigner, FrameType, batchEntryBytes, checkFrame, checkHello, nonceBytes, readBatch, readFrame, readHello, verifyFrame, writeBatch, writeFrame, writeHello } from '../lib/kernel/frame.js';
import { MessageKind, checkMessage, readMessage, writeMessage } from '../lib/kernel/message.js';
import { decodeSnapshot, encodeSnapshot } from '../lib/table/snapshot-codec.js';
import { checkRecord, encodeChange, encodeRecord } from '../lib/table/log-codec.js';
import { checkViewState, decodeViewState, encodeViewState, type StoredViewState } from '../lib/gossip/view-state.js';
import { memoryStorage } from '../lib/platform/storage/memory-storage.js';
import { GenServer } from '../lib/kernel/gen-server.js';
import type { NetKernel } from '../lib/kernel/net-kernel.js';
import { DTable } from '../lib/table/dtable.js';
import { ballot, text, view } from './support/gossip-arbitraries.js';
import { kernelWorld } from './support/kernels.js';
import { VirtualClock } from '../sim/clock/virtual-clock.js';

const bytes = (max: number) => fc.uint8Array({ maxLength: max });
const nonce = fc.uint8Array({ minLength: nonceBytes, maxLength: nonceBytes });
const kind = fc.constantFrom(...Object.values(MessageKind));
const signer = new FrameSigner(new Uint8Array(32).fill(7));

const viewState: fc.Arbitrary<StoredViewState> = fc.oneof(
  fc.record({ state: fc.constant(undefined), incarnation: text, delays: fc.constant([]) }),
  fc.record({
    state: fc.record({ view, promised: fc.option(ballot, { nil: undefined }), accepted: fc.option(fc.record({ ballot, value: view }), { nil: undefined }) }),
    incarnation: text,
    delays: fc.array(fc.record({ view: fc.integer({ min: 1, max: 60 }), previous: fc.option(view, { nil: null }) }), { maxLength: 3 }),
  }),
);

describe('decode(encode(x)) = x', () => {
  it('a frame reads back with its type, sequence and body, and its MAC verifies under the same binding only', () => {
    fc.assert(fc.property(fc.constantFrom(FrameType.hello, FrameType.data, FrameType.batch), fc.nat({ max: 0xffffffff }), bytes(64), bytes(300), (type, seq, binding, body) => {
      const frame = writeFrame(signer, type, seq, binding, body);
      const f = readFrame(frame);
      expect(f).toMatchObject({ type, seq });
      expect(f?.body).toEqual(body);
      expect(f !== undefined && verifyFrame(signer, f, binding)).toBe(true);
      expect(f !== undefined && verifyFrame(signer, f, new Uint8Array([...binding, 1]))).toBe(false);
      checkFrame(frame, type, seq, body);
    }), { numRuns: 300 });
  });

  it('a batch body reads back as its messages; lengths that do not add up to the body read as malformed', () => {
    fc.assert(fc.property(fc.array(bytes(120), { minLength: 1, maxLength: 8 }), fc.nat(), (messages, cut) => {
      const size = messages.reduce((n, m) => n + batchEntryBytes(m.byteLength), 0);
      const body = writeBatch(messages, size);
      expect(readBatch(body)).toEqual(messages);
      // Any shorter body ends inside an entry, unless it ends exactly after one (then fewer messages).
      const short = body.subarray(0, cut % body.byteLength);
      const got = readBatch(short);
      if (got !== undefined) expect(got).toEqual(messages.slice(0, got.length));
      // A length one byte too long runs past the end.
      const long = body.slice();
      new DataView(long.buffer).setUint32(size - batchEntryBytes((messages.at(-1) as Uint8Array).byteLength), (messages.at(-1) as Uint8Array).byteLength + 1);
      expect(readBatch(long)).toBeUndefined();
    }), { numRuns: 300 });
    expect(readBatch(new Uint8Array(0))).toBeUndefined();
    expect(readBatch(new Uint8Array([0, 0, 0]))).toBeUndefined();
  });

  it('a hello reads back with its id, address and nonce', () => {
    fc.assert(fc.property(text, fc.string({ maxLength: 20 }), nonce, (id, address, n) => {
      const body = writeHello({ id, address, nonce: n });
      expect(readHello(body, 256)).toEqual({ id, address, nonce: n });
      checkHello(body, { id, address, nonce: n }, 256);
    }), { numRuns: 300 });
  });

  it('a message reads back with its kind, tag, actor name and payload', () => {
    fc.assert(fc.property(kind, fc.nat({ max: 0xffffffff }), fc.string({ maxLength: 40 }), bytes(200), (k, tag, name, payload) => {
      const body = writeMessage(k, tag, name, payload);
      expect(readMessage(body)).toEqual({ kind: k, tag, name, payload });
      checkMessage(body, k, tag, name, payload);
    }), { numRuns: 300 });
  });

  it('a snapshot reads back, gzipped or not', async () => {
    await fc.assert(fc.asyncProperty(fc.nat(), fc.uniqueArray(fc.tuple(fc.string(), fc.jsonValue()), { selector: ([k]) => k, maxLength: 8 }), fc.boolean(),
      async (generation, entries, compress) => {
        const back = await decodeSnapshot(await encodeSnapshot({ generation, entries }, compress), 't');
        expect(back).toEqual({ generation, entries: JSON.parse(JSON.stringify(entries)) as unknown });
      }), { numRuns: 100 });
  });

  it('a stored view state reads back (acceptor, incarnation, the delays it owes)', () => {
    fc.assert(fc.property(viewState, (s) => {
      const bytes = encodeViewState(s);
      expect(decodeViewState(bytes)).toEqual(s);
      checkViewState(s, bytes);
    }), { numRuns: 300 });
  });
});

class Echo extends GenServer {
  constructor(kernel: NetKernel) {
    super(kernel);
    this.handle('x', (data) => data);
  }
}

describe('the checks checkCodecs runs fail on a mismatch', () => {
  it('frame, hello, message, record and view state checks throw INTERNAL when the bytes say otherwise', () => {
    const body = writeMessage(MessageKind.cast, 0, 'ring', new Uint8Array([1, 2]));
    const frame = writeFrame(signer, FrameType.data, 5, new Uint8Array(4), body);
    const internal = expect.objectContaining({ code: 'INTERNAL' }) as Error;
    expect(() => checkFrame(frame, FrameType.data, 6, body)).toThrow(internal);
    expect(() => checkFrame(frame.subarray(0, 10), FrameType.data, 5, body)).toThrow(internal);
    expect(() => checkMessage(body, MessageKind.cast, 0, 'ring', new Uint8Array([1, 3]))).toThrow(internal);
    const n = new Uint8Array(nonceBytes);
    expect(() => checkHello(writeHello({ id: 'a', address: 'x', nonce: n }), { id: 'a', address: 'y', nonce: n }, 256)).toThrow(internal);
    const json = encodeChange(['s', 'k', 1]);
    expect(() => checkRecord(encodeRecord(3, json), 4, json)).toThrow(internal);
    expect(() => checkRecord(encodeRecord(3, json), 3, encodeChange(['s', 'k', 2]))).toThrow(internal);
    const s: StoredViewState = { state: undefined, incarnation: 'i1', delays: [] };
    expect(() => checkViewState({ ...s, incarnation: 'i2' }, encodeViewState(s))).toThrow(internal);
  });

  it('kernels with checkCodecs on talk as before', async () => {
    const w = kernelWorld('check-codecs');
    const [a, b] = await w.mesh(['a', 'b'], { checkCodecs: true });
    if (a === undefined || b === undefined) throw new Error('no mesh');
    expect(a.checkCodecs).toBe(true);
    new Echo(b).start('echo');
    expect(await a.call({ node: b.self, name: 'echo' }, 'x', { n: 1 }, { timeoutMs: 1000 })).toEqual({ n: 1 });
    await w.stopAll();
  });

  it('a DTable with checkCodecs on appends and loads as before', async () => {
    const storage = memoryStorage();
    const clock = new VirtualClock();
    const t = new DTable<number>({ storage, clock, name: 't', checkCodecs: true, fsyncInterval: 0 }).start();
    await Promise.all([t.set('a', 1), t.set('b', 2), t.delete('a')]);
    expect(t.stats.recordsAppended).toBe(3);
    const again = new DTable<number>({ storage, clock, name: 't' });
    await again.load();
    expect([again.get('a'), again.get('b')]).toEqual([undefined, 2]);
  });
});
