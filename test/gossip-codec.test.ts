import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Membership } from '../lib/core/membership.js';
import { detectionBoundMs, suspicionTimeoutMs } from '../lib/gossip/failure-detector.js';
import { readGossip, readPing, readPingReq, readPingReqReply, writeGossip, type GossipMessage } from '../lib/gossip/gossip-codec.js';
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
