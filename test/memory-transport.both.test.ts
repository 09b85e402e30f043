import { describe, expect, it } from 'vitest';
import { isClusterluckError } from '../lib/env/errors.js';
import type { Connection } from '../lib/env/transport.js';
import { MemoryNetwork } from '../lib/transports/memory-network.js';
import { nextEvent } from './support/events.js';
import { transportCompliance } from './transport-compliance.js';

let network: MemoryNetwork;

transportCompliance('memory transport', {
  async setup() {
    network = new MemoryNetwork();
    return { transports: [network.transport(), network.transport()], addressFor: (t) => `node-${t}` };
  },
  async teardown() {
    expect(network.connectionCount()).toBe(0);
  },
});

/** A listener on `address`, a connection dialled to it, and the end it accepted. */
async function connectTo(network: MemoryNetwork, address: string): Promise<{ conn: Connection; server: Connection }> {
  const listener = await network.transport().listen(address);
  const accepted = nextEvent<CustomEvent<Connection>>(listener, 'connection');
  const conn = await network.transport().dial(address, { signal: new AbortController().signal });
  return { conn, server: (await accepted).detail };
}

describe('MemoryNetwork', () => {
  it('a dialled connection holds what comes until its owner listens, however long that takes, then delivers it all in order', async () => {
    const network = new MemoryNetwork();
    const { conn, server } = await connectTo(network, 'srv');
    for (let i = 0; i < 3; i++) server.send(Uint8Array.of(i));
    // Far more turns than any caller needs between dial and addEventListener: nothing may be dropped.
    for (let i = 0; i < 200; i++) await Promise.resolve();
    await new Promise<void>((resolve) => setTimeout(resolve, 5));
    const got: number[] = [];
    conn.addEventListener('message', (e) => got.push((e as CustomEvent<Uint8Array>).detail[0] ?? -1));
    expect(got).toEqual([]); // never synchronously
    for (let i = 0; i < 10 && got.length < 3; i++) await new Promise<void>((resolve) => setTimeout(resolve, 0));
    expect(got).toEqual([0, 1, 2]);
    const closed = nextEvent<CustomEvent>(conn, 'close');
    await server.close();
    expect((await closed).detail).toEqual({});
  });

  it('a dialled connection its owner closes without listening still closes', async () => {
    const network = new MemoryNetwork();
    await network.transport().listen('srv');
    const conn = await network.transport().dial('srv', { signal: new AbortController().signal });
    await conn.close();
    expect(conn.status).toBe('closed');
    expect(network.connectionCount()).toBe(0);
  });

  it('two networks are isolated: an address on one is unknown to the other', async () => {
    const [one, two] = [new MemoryNetwork(), new MemoryNetwork()];
    await one.transport().listen('a');
    await two.transport().listen('a');
    const connecting = nextEvent(await two.transport().listen('b'), 'connection');
    await expect(one.transport().dial('b', { signal: new AbortController().signal })).rejects.toSatisfy(
      (err) => isClusterluckError(err, 'CONNECTION_REFUSED'));
    const conn = await two.transport().dial('b', { signal: new AbortController().signal });
    await connecting;
    expect([one.connectionCount(), two.connectionCount()]).toEqual([0, 1]);
    conn.abort();
  });

  it('disconnectAddress severs every connection of an address with CONNECTION_CLOSED on both sides', async () => {
    const network = new MemoryNetwork();
    const { conn, server } = await connectTo(network, 'hub');
    const closes = [nextEvent<CustomEvent>(conn, 'close'), nextEvent<CustomEvent>(server, 'close')];
    expect(network.disconnectAddress('hub')).toBe(1);
    for (const close of await Promise.all(closes)) expect(isClusterluckError(close.detail.error, 'CONNECTION_CLOSED')).toBe(true);
    expect(network.connectionCount()).toBe(0);
  });
});
