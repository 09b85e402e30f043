import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Membership } from '../lib/core/membership.js';
import { detectionBoundMs, suspicionTimeoutMs } from '../lib/gossip/failure-detector.js';
import { readPaxosReply, readPaxosRequest, writePaxosReply, writePaxosRequest } from '../lib/core/view-paxos.js';
import { fromUtf8 } from '../lib/env/bytes.js';
import {
  readGossip, readPing, readPingReq, readPingReqReply, writeGossip, writeGossipMessage, writePing, writePingReq, writePingReqReply, type GossipMessage,
} from '../lib/gossip/gossip-codec.js';
import {
  readInvite, readJoin, readPaxos, readViewMessage, readViewReply, writeInvite, writeJoin, writePaxos, writeViewMessage, writeViewReply,
} from '../lib/gossip/view-codec.js';
import { encodeJson } from '../lib/kernel/net-kernel.js';
import * as arb from './support/gossip-arbitraries.js';
import { resolveGossipOptions } from '../lib/gossip/gossip-options.js';
import { summarizeChanges } from '../lib/gossip/member-changes.js';

const node = (id: string) => ({ id, address: `${id}:1` });

function table(): Membership {
  const t = new Membership();
  t.insert(node('a'), 1, 'a');
  t.insert(node('b'), 3, 'a');
  t.setLiveness('b', 2, 'suspect');
  t.leave('a');
  return t;
}

/** What the receiver's handler gets: the body as the kernel sends it (UTF-8 JSON) and parses it. */
const wire = (body: unknown): unknown => JSON.parse(fromUtf8(encodeJson(body, 'data')));

/** `read(write(x))` is `x` for every message; a field the writer drops (undefined) is read back as undefined. */
function roundTrips<T>(a: fc.Arbitrary<T>, write: (x: T) => unknown, read: (data: unknown) => unknown): void {
  fc.assert(fc.property(a, (x) => {
    const back = read(wire(write(x)));
    expect(back).not.toBeInstanceOf(Error);
    expect(back).toEqual(x);
  }), { numRuns: 300 });
}

describe('gossip codec: every read has its write, and decode(encode(x)) = x', () => {
  it('gossip (digest, table, meet)', () => roundTrips(arb.gossipMessage, writeGossipMessage, readGossip));
  it('ping and ack', () => roundTrips(arb.pingMessage, (m) => writePing(m.ring, m.view), readPing));
  it('ping-req and its reply', () => {
    roundTrips(arb.pingReqMessage, (m) => writePingReq(m.ring, m.target), readPingReq);
    roundTrips(arb.pingReqReply, writePingReqReply, readPingReqReply);
  });
  it('paxos call, request and reply', () => {
    roundTrips(fc.tuple(arb.text, arb.paxosRequest), ([ring, req]) => writePaxos(ring, req), (d) => {
      const m = readPaxos(d);
      return m instanceof Error ? m : [m.ring, (({ ring: _, ...req }) => req)(m)];
    });
    roundTrips(arb.paxosRequest, writePaxosRequest, readPaxosRequest);
    roundTrips(arb.paxosReply, writePaxosReply, readPaxosReply);
  });
  it('view message and the view reply', () => {
    roundTrips(arb.viewMessage, writeViewMessage, readViewMessage);
    roundTrips(arb.viewReply, writeViewReply, readViewReply);
  });
  it('join and invite', () => {
    roundTrips(arb.joinMessage, writeJoin, readJoin);
    roundTrips(arb.inviteMessage, writeInvite, readInvite);
  });
  it('a ping-req or paxos call written after this node left its ring is refused', () => {
    expect(readPingReq(wire(writePingReq(undefined, { id: 'a', address: '' })))).toBeInstanceOf(Error);
    expect(readPaxos(wire(writePaxos(undefined, { type: 'prepare', cluster: 'c', number: 2, ballot: { round: 1, proposer: 'a' } })))).toBeInstanceOf(Error);
  });
});

describe('gossip codec', () => {
  it('a written table reads back to the same table, through JSON', () => {
    const t = table();
    const m = readGossip(JSON.parse(JSON.stringify(writeGossip('r', t, true, true, true))));
    expect(m).not.toBeInstanceOf(Error);
    const back = new Membership();
    back.merge((m as GossipMessage).members ?? []);
    expect(back.checksum()).toBe(t.checksum());
    expect(m).toMatchObject({ ring: 'r', sum: t.checksum(), reply: true, meet: true });
    expect(readGossip(writeGossip('r', t, false, false))).toMatchObject({ members: undefined, reply: false, meet: false });
  });

  it('never throws on anything, and anything it accepts is well-formed', () => {
    const entry = fc.tuple(fc.string(), fc.string(), fc.anything(), fc.constantFrom('in', 'left', 'x', '__proto__'),
      fc.anything(), fc.string(), fc.anything(), fc.constantFrom('alive', 'down', 'toString'));
    const body = fc.record({ ring: fc.oneof(fc.constant('r'), fc.anything()), sum: fc.oneof(fc.constant('0123456789abcdef'), fc.string()),
      reply: fc.oneof(fc.boolean(), fc.anything()), members: fc.oneof(fc.array(entry, { maxLength: 4 }), fc.anything()),
      target: fc.anything(), ok: fc.anything() }, { requiredKeys: [] });
    fc.assert(fc.property(fc.oneof(fc.anything(), body), (data) => {
      for (const read of [readGossip, readPing, readPingReq, readPingReqReply]) {
        const out = read(data);
        expect(out === undefined || out === null).toBe(false);
      }
      const m = readGossip(data);
      if (!(m instanceof Error) && m.members !== undefined) {
        for (const e of m.members) expect(Number.isSafeInteger(e.weight) && e.weight >= 1).toBe(true);
      }
    }), { numRuns: 3000 });
  });

  it('refuses a table with a duplicate id or too many entries', () => {
    const t = table();
    const body = writeGossip('r', t, true, true) as { members: unknown[] };
    expect(readGossip({ ...body, members: [...body.members, body.members[0]] })).toBeInstanceOf(Error);
    expect(readGossip({ ...body, members: new Array(5000).fill(body.members[0]) })).toBeInstanceOf(Error);
  });
});

describe('failure-detector bounds', () => {
  it('suspicion grows with log10(N + 1) and never drops below suspicionMult intervals', () => {
    expect(suspicionTimeoutMs(1, 4, 1000)).toBe(4000);
    expect(suspicionTimeoutMs(9, 4, 1000)).toBe(4000);
    expect(suspicionTimeoutMs(99, 4, 1000)).toBe(8000);
    expect(suspicionTimeoutMs(999, 4, 500)).toBe(6000);
    expect(detectionBoundMs(8, 4, 1000)).toBe(15 * 1000 + 4000);
  });

  it('options are validated with their field names', () => {
    expect(resolveGossipOptions({}).fanout).toBe(3);
    for (const bad of [{ fanout: 0 }, { intervalMs: -1 }, { probeTimeoutMs: 600 }, { ringId: '' }, { autoRemoveAfterMs: Number.NaN }]) {
      expect(() => resolveGossipOptions(bad)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }) as Error);
    }
  });
});

describe('summarizeChanges', () => {
  it('reports status changes and whether the ring moved', () => {
    const t = new Membership();
    const added = t.insert(node('a'), 1, 'a');
    const suspected = t.setLiveness('a', 0, 'suspect');
    const reweighed = t.update('a', 2, 'a');
    const removed = t.setLiveness('a', 0, 'removed');
    const s = (c: unknown) => summarizeChanges([c as never]);
    expect(s(added)).toMatchObject({ ringChanged: true, events: [{ id: 'a', previous: undefined, status: 'alive' }] });
    expect(s(suspected)).toMatchObject({ ringChanged: false, events: [{ previous: 'alive', status: 'suspect' }] });
    expect(s(reweighed)).toMatchObject({ ringChanged: true, events: [] });
    expect(s(removed)).toMatchObject({ ringChanged: true, events: [{ previous: 'suspect', status: 'removed' }] });
  });
});
