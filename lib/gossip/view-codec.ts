// The decided-view messages of a gossip ring (paxos, view, join, invite, and the view reply): pure
// write/read pairs, no I/O, as in gossip-codec.ts. Every `read*` returns an Error (never throws)
// for anything malformed; test/gossip-codec.test.ts checks read(write(x)) = x through JSON.
import { parseView, parseViewMember, type View, type ViewMember } from '../core/view.js';
import { readPaxosRequest, writePaxosRequest, type PaxosRequest } from '../core/view-paxos.js';
import { ClusterluckError } from '../env/errors.js';
import { bad, object, ringMessage } from './wire-fields.js';

/** A `paxos` call: the ring id and a Paxos request. */
export type PaxosMessage = PaxosRequest & { readonly ring: string };

/** A `view` message: a decided view pushed, or (null) a request for the receiver's newer one. */
export interface ViewMessage {
  readonly ring: string;
  readonly view: View | undefined;
  /** The view just before `view`, when the sender knows it. */
  readonly previous: View | undefined;
}

/** A `join` call: add this member to your view. */
export interface JoinMessage {
  readonly ring: string;
  readonly member: ViewMember;
  /** A removed member asking back into its cluster: only that cluster may take it. */
  readonly cluster?: string;
}

/** An `invite` cast: join my cluster (through me) with this weight; `alone`: I am alone in mine. */
export interface InviteMessage {
  readonly ring: string;
  readonly weight: number;
  readonly alone: boolean;
}

/** The answer to a `view` or `join` message: a decided view, with the one before it when the sender knows it. */
export interface ViewReply {
  readonly view: View;
  readonly previous: View | undefined;
}

/** The body of a `paxos` call; {@link readPaxos}'s twin. `ring` undefined (this node left meanwhile): the receiver refuses it. */
export function writePaxos(ring: string | undefined, req: PaxosRequest): unknown {
  return { ring, ...writePaxosRequest(req) };
}

/** Reads a `paxos` call. */
export function readPaxos(data: unknown): PaxosMessage | Error {
  const m = ringMessage(data);
  if (m instanceof Error) return m;
  const { o, ring } = m;
  const req = readPaxosRequest(o);
  return req instanceof Error ? bad('paxos', req.message) : { ...req, ring };
}

/** The body of a `view` message; {@link readViewMessage}'s twin. */
export function writeViewMessage(m: ViewMessage): unknown {
  return { ring: m.ring, view: m.view ?? null, ...(m.previous === undefined ? {} : { previous: m.previous }) };
}

/** Reads a `view` message. */
export function readViewMessage(data: unknown): ViewMessage | Error {
  return withRing(data, (o) => ({
    view: o['view'] === null || o['view'] === undefined ? undefined : parseView(o['view']),
    previous: o['previous'] === null || o['previous'] === undefined ? undefined : parseView(o['previous'], 'previous'),
  }));
}

/** The answer to a `view` or `join` message; {@link readViewReply}'s twin. */
export function writeViewReply(m: ViewReply): unknown {
  return m.previous === undefined ? { view: m.view } : { view: m.view, previous: m.previous };
}

/** Reads the answer to a `view` or `join` message (null, the answer "nothing newer", is an Error too). */
export function readViewReply(data: unknown): ViewReply | Error {
  const o = object(data);
  if (o instanceof Error) return o;
  try {
    return { view: parseView(o['view']), previous: o['previous'] === undefined ? undefined : parseView(o['previous'], 'previous') };
  } catch (err) {
    return err instanceof ClusterluckError ? new ClusterluckError('BAD_MESSAGE', err.message) : bad('data', data);
  }
}

/** The body of a `join` call; {@link readJoin}'s twin. */
export function writeJoin(m: JoinMessage): unknown {
  return { ring: m.ring, member: m.member, ...(m.cluster === undefined ? {} : { cluster: m.cluster }) };
}

/** Reads a `join` call. */
export function readJoin(data: unknown): JoinMessage | Error {
  return withRing(data, (o) => {
    const cluster = o['cluster'];
    if (cluster !== undefined && (typeof cluster !== 'string' || cluster.length === 0 || cluster.length > 256)) throw bad('cluster', cluster);
    return { member: parseViewMember(o['member']), ...(cluster === undefined ? {} : { cluster }) };
  });
}

/** The body of an `invite` cast; {@link readInvite}'s twin. */
export function writeInvite(m: InviteMessage): unknown {
  return { ring: m.ring, weight: m.weight, alone: m.alone };
}

/** Reads an `invite` cast. */
export function readInvite(data: unknown): InviteMessage | Error {
  return withRing(data, (o) => {
    const weight = o['weight'];
    if (typeof weight !== 'number' || !Number.isSafeInteger(weight) || weight < 1 || weight > 64) throw bad('weight', weight);
    const alone = o['alone'] ?? false;
    if (typeof alone !== 'boolean') throw bad('alone', alone);
    return { weight, alone };
  });
}

function withRing<T>(data: unknown, read: (o: Record<string, unknown>) => T): (T & { ring: string }) | Error {
  const m = ringMessage(data);
  if (m instanceof Error) return m;
  const { o, ring } = m;
  try {
    return { ...read(o), ring };
  } catch (err) {
    return err instanceof ClusterluckError ? new ClusterluckError('BAD_MESSAGE', err.message) : bad('data', data);
  }
}
