// fast-check arbitraries for every gossip message: well-formed values only (each one a `read*`
// must accept), so a property `read(write(x)) = x` covers the whole message space.
import fc from 'fast-check';
import type { MemberEntry } from '../../lib/core/membership.js';
import type { NodeId } from '../../lib/core/node-id.js';
import type { View, ViewMember } from '../../lib/core/view.js';
import type { Ballot, PaxosReply, PaxosRequest } from '../../lib/core/view-paxos.js';
import type { GossipMessage, PingMessage, PingReqMessage, PingReqReply } from '../../lib/gossip/gossip-codec.js';
import type { InviteMessage, JoinMessage, ViewMessage, ViewReply } from '../../lib/gossip/view-codec.js';

/** A short id: small alphabets make the same ids come up in different messages. */
export const id = fc.stringMatching(/^[a-e][0-9]?$/);
export const text = fc.string({ minLength: 1, maxLength: 12 });
const count = fc.integer({ min: 0, max: 1_000 });
const positive = fc.integer({ min: 1, max: 1_000 });

export const nodeId: fc.Arbitrary<NodeId> = fc.record({ id, address: fc.string({ maxLength: 12 }) });

export const memberEntry: fc.Arbitrary<MemberEntry> = fc.record({
  node: nodeId, weight: fc.integer({ min: 1, max: 64 }), admin: fc.constantFrom('in', 'removed', 'left'),
  version: count, writer: id, incarnation: count, liveness: fc.constantFrom('alive', 'suspect', 'down', 'removed'),
});

/** A table: member entries with distinct ids. */
export const memberEntries = fc.uniqueArray(memberEntry, { selector: (e) => e.node.id, maxLength: 8 });

export const gossipMessage: fc.Arbitrary<GossipMessage> = fc.record({
  ring: text, sum: fc.stringMatching(/^[0-9a-f]{16}$/), members: fc.option(memberEntries, { nil: undefined }),
  reply: fc.boolean(), meet: fc.boolean(),
});

const viewMember: fc.Arbitrary<ViewMember> = fc.record({ id, address: fc.string({ maxLength: 12 }), weight: fc.integer({ min: 1, max: 64 }), incarnation: text });

export const view: fc.Arbitrary<View> = fc.integer({ min: 1, max: 50 }).chain((number) => fc.record({
  cluster: text,
  number: fc.constant(number),
  members: fc.uniqueArray(viewMember, { selector: (m) => m.id, minLength: 1, maxLength: 5 })
    .map((ms) => [...ms].sort((a, b) => (a.id < b.id ? -1 : 1))),
  removed: number < 2 ? fc.constant([]) : fc.array(fc.record({
    id, incarnation: text, reason: fc.constantFrom('down', 'operator', 'left', 'replaced'), view: fc.integer({ min: 2, max: number }),
  }), { maxLength: 3 }),
}));

export const ballot: fc.Arbitrary<Ballot> = fc.record({ round: count, proposer: text });

export const paxosRequest: fc.Arbitrary<PaxosRequest> = fc.oneof(
  fc.record({ type: fc.constant('prepare' as const), cluster: text, number: positive, ballot }),
  fc.record({ type: fc.constant('accept' as const), cluster: text, number: positive, ballot, value: view }),
);

export const paxosReply: fc.Arbitrary<PaxosReply> = fc.oneof(
  fc.record({ type: fc.constant('promise' as const), number: positive, ballot, accepted: fc.option(fc.record({ ballot, value: view }), { nil: undefined }) }),
  fc.record({ type: fc.constant('accepted' as const), number: positive, ballot }),
  fc.record({ type: fc.constant('reject' as const), number: positive, promised: ballot }),
  fc.record({ type: fc.constant('decided' as const), view }),
  fc.record({ type: fc.constant('behind' as const), number: positive }),
  fc.constant({ type: 'not-voter' as const }),
);

export const pingMessage: fc.Arbitrary<PingMessage> = fc.record({
  ring: text, view: fc.option(fc.record({ cluster: text, view: positive, pending: fc.boolean() }), { nil: undefined }),
});

export const viewMessage: fc.Arbitrary<ViewMessage> = fc.record({
  ring: text, view: fc.option(view, { nil: undefined }), previous: fc.option(view, { nil: undefined }),
});

export const viewReply: fc.Arbitrary<ViewReply> = fc.record({ view, previous: fc.option(view, { nil: undefined }) });

export const joinMessage: fc.Arbitrary<JoinMessage> = fc.record({ ring: text, member: viewMember, cluster: text }, { requiredKeys: ['ring', 'member'] });

export const inviteMessage: fc.Arbitrary<InviteMessage> = fc.record({ ring: text, weight: fc.integer({ min: 1, max: 64 }), alone: fc.boolean() });

export const pingReqMessage: fc.Arbitrary<PingReqMessage> = fc.record({ ring: text, target: nodeId });

export const pingReqReply: fc.Arbitrary<PingReqReply> = fc.record({ ok: fc.boolean() });
