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

describe('MemoryNetwork', () => {
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
    const listener = await network.transport().listen('hub');
    const accepted = nextEvent<CustomEvent<Connection>>(listener, 'connection');
    const conn = await network.transport().dial('hub', { signal: new AbortController().signal });
    const server = (await accepted).detail;
    const closes = [nextEvent<CustomEvent>(conn, 'close'), nextEvent<CustomEvent>(server, 'close')];
    expect(network.disconnectAddress('hub')).toBe(1);
    for (const close of await Promise.all(closes)) expect(isClusterluckError(close.detail.error, 'CONNECTION_CLOSED')).toBe(true);
    expect(network.connectionCount()).toBe(0);
  });
});
