import { connect } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Connection } from '../lib/env/transport.js';
import { parseHostPort, tcpTransport } from '../lib/transports/tcp.js';
import { nextEvent } from './support/events.js';
import { transportCompliance } from './transport-compliance.js';

transportCompliance('tcp transport', {
  setup: async () => ({ transports: [tcpTransport(), tcpTransport()], addressFor: () => '127.0.0.1:0' }),
  teardown: async () => undefined,
});

/** A raw socket to a TCP listener, to throw bytes at it. */
async function raw(address: string): Promise<ReturnType<typeof connect>> {
  const { host, port } = parseHostPort(address);
  const s = connect({ host, port });
  await new Promise((r) => s.once('connect', r));
  return s;
}

const framed = (bytes: number[]): Buffer => {
  const b = Buffer.alloc(4 + bytes.length);
  b.writeUInt32BE(bytes.length, 0);
  Buffer.from(bytes).copy(b, 4);
  return b;
};

describe('tcp transport', () => {
  it('frames split across segments, and many frames in one segment, are reassembled per connection', async () => {
    const listener = await tcpTransport().listen('127.0.0.1:0');
    const conns: Connection[] = [];
    const got = new Map<Connection, number[][]>();
    listener.addEventListener('connection', (e) => {
      conns.push(e.detail);
      got.set(e.detail, []);
      e.detail.addEventListener('message', (m) => got.get(e.detail)?.push([...m.detail]));
    });
    const [a, b] = [await raw(listener.address), await raw(listener.address)];
    const stream = Buffer.concat([framed([1, 2, 3]), framed([]), framed([4])]);
    for (const byte of stream) a.write(Buffer.from([byte]));
    b.write(Buffer.concat([framed([9]), framed([8, 8])]));
    for (let i = 0; i < 100 && [...got.values()].flat().length < 5; i++) await new Promise((r) => setTimeout(r, 10));
    expect(conns).toHaveLength(2);
    expect(new Set([...got.values()].map((v) => JSON.stringify(v)))).toEqual(new Set([JSON.stringify([[1, 2, 3], [], [4]]), JSON.stringify([[9], [8, 8]])]));
    a.destroy();
    b.destroy();
    for (const c of conns) c.abort();
    await listener.close();
  });

  it('property: random bytes, truncated and oversized frames never crash the listener, and a good client still gets through', async () => {
    const transport = tcpTransport({ frameBytesMax: 1024 });
    const listener = await transport.listen('127.0.0.1:0');
    const accepted: Connection[] = [];
    listener.addEventListener('connection', (e) => {
      accepted.push(e.detail);
      e.detail.addEventListener('message', (m) => e.detail.status === 'open' && e.detail.send(m.detail));
    });
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.constant(Buffer.from([0xff, 0xff, 0xff, 0xff, 1]))), async (junk) => {
        const s = await raw(listener.address);
        s.on('error', () => undefined);
        s.write(junk);
        s.end();
        const good = await tcpTransport().dial(listener.address, { signal: AbortSignal.timeout(2000) });
        const echo = nextEvent<CustomEvent<Uint8Array>>(good, 'message');
        good.send(new Uint8Array([7, 7]));
        expect([...(await echo).detail]).toEqual([7, 7]);
        good.abort();
        s.destroy();
      }),
      { numRuns: 30 },
    );
    for (const c of accepted) if (c.status !== 'closed') c.abort();
    await listener.close();
  });
});
