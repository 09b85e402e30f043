// The gossip protocol's message bodies: pure write/read pairs, no I/O (y-protocols' shape). Every
// `read*` checks every field and returns an Error (never throws) for anything malformed, so a bad
// body changes nothing; every `write*` makes the JSON value its `read*` turns back into the same
// message (test/gossip-codec.test.ts checks the pairs through JSON, for any message). Members
// travel as tuples to keep a 4,096-member table well under one frame:
//
//   [id, address, weight, admin, version, writer, incarnation, liveness]
import { membersMax } from '../constants.js';
import { parseMemberEntry, type MemberEntry, type Membership } from '../core/membership.js';
import { parseNodeId, type NodeId } from '../core/node-id.js';
import { bad, object, ringMessage } from './wire-fields.js';

/** Event names of the gossip protocol (the GenServer handler names). */
export const GossipEvent = {
  gossip: 'gossip', sync: 'sync', ping: 'ping', pingReq: 'ping-req', paxos: 'paxos', view: 'view', join: 'join', invite: 'invite',
} as const;
/** A value of {@link GossipEvent}. */
export type GossipEvent = (typeof GossipEvent)[keyof typeof GossipEvent];

/** A digest (no `members`) or a full table, with the sender's checksum. */
export interface GossipMessage {
  readonly ring: string;
  /** The sender's table checksum (after its own merge). */
  readonly sum: string;
  /** The sender's whole table; undefined for a digest. */
  readonly members: readonly MemberEntry[] | undefined;
  /** The sender wants our table back if it differs from `sum`. */
  readonly reply: boolean;
  /** Sent by `meet`: a node in no ring joins the sender's. */
  readonly meet: boolean;
}

/** The view a probe or its ack carries: the sender's cluster, view number, and whether it accepted a value for the next view. */
export interface ProbeView {
  readonly cluster: string;
  readonly view: number;
  readonly pending: boolean;
}

/**
 * A direct probe. Its ack is a {@link PingMessage} too (the acking ring's id). Both carry the
 * sender's view (when it has one): an ack "still on v, nothing pending" is what the ownership
 * lease counts, and a probe from an older view makes the receiver push its view.
 */
export interface PingMessage {
  readonly ring: string;
  readonly view: ProbeView | undefined;
}

/** An indirect probe request: probe `target` for me. */
export interface PingReqMessage {
  readonly ring: string;
  readonly target: NodeId;
}

/** The answer to a ping-req. */
export interface PingReqReply {
  readonly ok: boolean;
}

const sumPattern = /^[0-9a-f]{16}$/;

/** The body of a gossip message of `table`; `full` makes it the whole table rather than a digest. */
export function writeGossip(ring: string, table: Membership, full: boolean, reply: boolean, meet = false): unknown {
  return writeGossipMessage({ ring, sum: table.checksum(), members: full ? table.entries() : undefined, reply, meet });
}

/** The body of a gossip message (a `gossip` cast, a `sync` call or a `sync` reply); {@link readGossip}'s twin. */
export function writeGossipMessage(m: GossipMessage): unknown {
  const body: Record<string, unknown> = { ring: m.ring, sum: m.sum, reply: m.reply };
  if (m.meet) body['meet'] = true;
  if (m.members !== undefined) {
    body['members'] = m.members.map((e) =>
      [e.node.id, e.node.address, e.weight, e.admin, e.version, e.writer, e.incarnation, e.liveness]);
  }
  return body;
}

/** Reads a gossip body (a `gossip` cast, a `sync` call or a `sync` reply). */
export function readGossip(data: unknown): GossipMessage | Error {
  const m = ringMessage(data);
  if (m instanceof Error) return m;
  const { o, ring } = m;
  const sum = o['sum'];
  if (typeof sum !== 'string' || !sumPattern.test(sum)) return bad('sum', sum);
  const reply = o['reply'];
  if (typeof reply !== 'boolean') return bad('reply', reply);
  const meet = o['meet'] ?? false;
  if (typeof meet !== 'boolean') return bad('meet', meet);
  const list = o['members'];
  if (list === undefined) return { ring, sum, members: undefined, reply, meet };
  const members = readMembers(list);
  return members instanceof Error ? members : { ring, sum, members, reply, meet };
}

function readMembers(list: unknown): MemberEntry[] | Error {
  if (!Array.isArray(list) || list.length > membersMax) return bad('members', list);
  const seen = new Set<string>();
  const out: MemberEntry[] = [];
  for (const [i, item] of list.entries()) {
    if (!Array.isArray(item) || item.length !== 8) return bad(`members[${i}]`, item);
    const [id, address, weight, admin, version, writer, incarnation, liveness] = item as unknown[];
    let entry: MemberEntry;
    try {
      entry = parseMemberEntry({ node: { id, address }, weight, admin, version, writer, incarnation, liveness }, `members[${i}]`);
    } catch (err) {
      return err instanceof Error ? err : bad(`members[${i}]`, item);
    }
    if (seen.has(entry.node.id)) return bad(`members[${i}].id`, entry.node.id);
    seen.add(entry.node.id);
    out.push(entry);
  }
  return out;
}

/** Reads a ping or an ack. */
export function readPing(data: unknown): PingMessage | Error {
  const m = ringMessage(data);
  if (m instanceof Error) return m;
  const { o, ring } = m;
  const cluster = o['cluster'];
  if (cluster === undefined) return { ring, view: undefined };
  const view = o['view'];
  const pending = o['pending'];
  if (typeof cluster !== 'string' || cluster.length === 0 || cluster.length > 256) return bad('cluster', cluster);
  if (typeof view !== 'number' || !Number.isSafeInteger(view) || view < 1) return bad('view', view);
  if (typeof pending !== 'boolean') return bad('pending', pending);
  return { ring, view: { cluster, view, pending } };
}

/** The body of a ping or an ack. */
export function writePing(ring: string, view: ProbeView | undefined): unknown {
  return view === undefined ? { ring } : { ring, cluster: view.cluster, view: view.view, pending: view.pending };
}

/**
 * The body of a ping-req; {@link readPingReq}'s twin. `ring` is undefined when this node left its
 * ring while the probe was in flight: the relay then refuses the request (so the probe fails).
 */
export function writePingReq(ring: string | undefined, target: NodeId): unknown {
  return { ring, target };
}

/** Reads a ping-req. */
export function readPingReq(data: unknown): PingReqMessage | Error {
  const m = ringMessage(data);
  if (m instanceof Error) return m;
  const { o, ring } = m;
  try {
    return { ring, target: parseNodeId(o['target'], 'target') };
  } catch (err) {
    return err instanceof Error ? err : bad('target', o['target']);
  }
}

/** A ping-req's reply; {@link readPingReqReply}'s twin. */
export function writePingReqReply(m: PingReqReply): unknown {
  return { ok: m.ok };
}

/** Reads a ping-req's reply. */
export function readPingReqReply(data: unknown): PingReqReply | Error {
  const o = object(data);
  if (o instanceof Error) return o;
  return typeof o['ok'] === 'boolean' ? { ok: o['ok'] } : bad('ok', o['ok']);
}
