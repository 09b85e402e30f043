// The gossip protocol's handlers with no kernel: each peer is a GossipProtocol over its own table,
// messages go through the codec and the kernel's JSON encoding, and the test, not a network,
// decides the order they arrive in (y-protocols' shape: a handler returns its answer).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Membership, type MemberEntry } from '../lib/core/membership.js';
import { fromUtf8 } from '../lib/env/bytes.js';
import { readGossip, readPing, writeGossip, writePing, type GossipMessage, type PingMessage } from '../lib/gossip/gossip-codec.js';
import { resolveGossipOptions, type GossipStats } from '../lib/gossip/gossip-options.js';
import { GossipProtocol, type ProtocolHost } from '../lib/gossip/gossip-protocol.js';
import { encodeJson } from '../lib/kernel/net-kernel.js';
import { memberEntries } from './support/gossip-arbitraries.js';

const ring = 'r';

interface Peer {
  readonly protocol: GossipProtocol;
  readonly table: Membership;
  readonly stats: GossipStats;
  readonly probes: PingMessage['view'][];
}

/** A peer with `entries` in its table; kernel and sender are absent: a handler that reached for them would throw. */
function peer(entries: readonly MemberEntry[], view?: PingMessage['view']): Peer {
  const table = new Membership();
  table.merge(entries);
  const stats: GossipStats = { digestsSent: 0, tablesSent: 0, pingsSent: 0, pingReqsSent: 0, syncsSent: 0, probes: 0, probesFailed: 0, foreign: 0 };
  const probes: PingMessage['view'][] = [];
  const host: ProtocolHost = {
    kernel: undefined as never, send: undefined as never, stats, options: resolveGossipOptions({}),
    ringId: () => ring, table: () => table, apply: () => undefined, joinByMeet: () => undefined,
    probeView: () => view, acked: () => undefined, probed: (_from, v) => void probes.push(v), inView: () => true,
  };
  return { protocol: new GossipProtocol(host), table, stats, probes };
}

/** A body as the receiving handler sees it: encoded as the kernel sends it, parsed, read. */
function deliver(body: unknown): GossipMessage {
  const m = readGossip(JSON.parse(fromUtf8(encodeJson(body, 'data'))));
  if (m instanceof Error) throw m;
  return m;
}

/** Everything in `entries` is in `table` or superseded there: merging it in again changes nothing. */
function holds(table: Membership, entries: readonly MemberEntry[]): boolean {
  return table.clone().merge(entries).length === 0;
}

describe('gossip protocol handlers, no kernel', () => {
  it('a digest and the answers it draws leave both tables equal, in three messages at most', () => {
    fc.assert(fc.property(memberEntries, memberEntries, (ea, eb) => {
      const a = peer(ea);
      const b = peer(eb);
      const peers = [a, b] as const;
      let to = 1;
      let body: unknown = writeGossip(ring, a.table, false, true);
      let messages = 0;
      while (body !== undefined) {
        messages++;
        body = (peers[to] as Peer).protocol.onGossip(deliver(body));
        to = 1 - to;
      }
      expect(messages).toBeLessThanOrEqual(3);
      expect(a.table.checksum()).toBe(b.table.checksum());
      expect(holds(a.table, eb) && holds(a.table, ea)).toBe(true);
    }), { numRuns: 300 });
  });

  it('exchanges running at once, answered in any order, lose no entry and invent none', () => {
    const world = fc.record({
      tables: fc.array(memberEntries, { minLength: 2, maxLength: 4 }),
      digests: fc.array(fc.tuple(fc.nat(), fc.nat()), { minLength: 1, maxLength: 6 }),
      order: fc.array(fc.nat(), { maxLength: 40 }),
    });
    fc.assert(fc.property(world, ({ tables, digests, order }) => {
      const peers = tables.map((t) => peer(t));
      const inFlight: { to: number; from: number; body: unknown }[] = [];
      for (const [x, y] of digests) {
        const from = x % peers.length;
        const to = (from + 1 + (y % (peers.length - 1))) % peers.length;
        inFlight.push({ from, to, body: writeGossip(ring, (peers[from] as Peer).table, false, true) });
      }
      let delivered = 0;
      for (let i = 0; inFlight.length > 0; i++) {
        const [next] = inFlight.splice((order[i] ?? 0) % inFlight.length, 1);
        if (next === undefined) break;
        delivered++;
        const answer = (peers[next.to] as Peer).protocol.onGossip(deliver(next.body));
        if (answer !== undefined) inFlight.push({ from: next.to, to: next.from, body: answer });
      }
      expect(delivered).toBeLessThanOrEqual(3 * digests.length);
      peers.forEach((p, i) => expect(holds(p.table, tables[i] ?? [])).toBe(true));
      const before = new Membership();
      const after = new Membership();
      for (const t of tables) before.merge(t);
      for (const p of peers) after.merge(p.table.entries());
      expect(after.checksum()).toBe(before.checksum());
    }), { numRuns: 200 });
  });

  it('a sync (heal, leave notice) is answered with our table only when it differs; the caller then holds both', () => {
    fc.assert(fc.property(memberEntries, memberEntries, (ea, eb) => {
      const a = peer(ea);
      const b = peer(eb);
      const reply = b.protocol.onSync(deliver(writeGossip(ring, a.table, true, true)));
      if (reply === null) expect(b.table.checksum()).toBe(a.table.checksum());
      else a.table.merge(deliver(reply).members ?? []);
      expect(a.table.checksum()).toBe(b.table.checksum());
    }), { numRuns: 200 });
  });

  it('a gossip or sync of another ring changes nothing and is counted as foreign', () => {
    const a = peer([]);
    const other = writeGossip('other', peer([]).table, true, true);
    expect(a.protocol.onGossip(deliver(other))).toBeUndefined();
    expect(() => a.protocol.onSync(deliver(other))).toThrow(/not a member of that ring/);
    expect(a.stats.foreign).toBe(2);
  });

  it('a probe is acked with the ring id and our view, and the prober\'s view is passed on', () => {
    const mine = { cluster: 'c', view: 7, pending: false };
    const theirs = { cluster: 'c', view: 6, pending: true };
    const a = peer([], mine);
    const ack = readPing(JSON.parse(JSON.stringify(a.protocol.onPing({ ring, view: theirs }, { id: 'b', address: '' }))));
    expect(ack).toEqual({ ring, view: mine });
    expect(a.probes).toEqual([theirs]);
    expect(readPing(writePing(ring, undefined))).toEqual({ ring, view: undefined });
  });
});
