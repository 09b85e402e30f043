// Single-decree Paxos (Lamport, "Paxos Made Simple"), one instance per view number: the members
// of view v are the acceptors of instance v+1, whose value is the whole next view. Pure
// transitions, no I/O and no timers, so property tests drive them under any message schedule
// (test/view-paxos.test.ts) and the gossip ring only carries their messages.
//
// Why a minority cannot act: deciding v+1 needs accepts from a majority of v; two majorities of
// one view intersect, and an acceptor that promised ballot b never accepts below b, so once a
// value is chosen every higher ballot's phase 1 sees it and proposes it again.
import { invalidArgument } from '../env/errors.js';
import { isVoter, majority, parseView, sameView, type View } from './view.js';

/** A ballot: `(round, proposer)`, ordered by round, then proposer id. */
export interface Ballot {
  readonly round: number;
  readonly proposer: string;
}

/** A value an acceptor accepted, with the ballot it came in. */
export interface Accepted {
  readonly ballot: Ballot;
  readonly value: View;
}

/**
 * What an acceptor must never forget (with a disk, it is on storage before the acceptor answers):
 * the view it adopted, and for instance `view.number + 1` its promise and its acceptance.
 */
export interface AcceptorState {
  readonly view: View;
  readonly promised: Ballot | undefined;
  readonly accepted: Accepted | undefined;
}

/** The two requests of a proposer. `number` is the instance, the view being decided. */
export type PaxosRequest =
  | { readonly type: 'prepare'; readonly cluster: string; readonly number: number; readonly ballot: Ballot }
  | { readonly type: 'accept'; readonly cluster: string; readonly number: number; readonly ballot: Ballot; readonly value: View };

/** An acceptor's answer. */
export type PaxosReply =
  | { readonly type: 'promise'; readonly number: number; readonly ballot: Ballot; readonly accepted: Accepted | undefined }
  | { readonly type: 'accepted'; readonly number: number; readonly ballot: Ballot }
  /** It promised a higher ballot: try again above it. */
  | { readonly type: 'reject'; readonly number: number; readonly promised: Ballot }
  /** It is already on `view` (number ≥ the instance): that view was decided; adopt it. */
  | { readonly type: 'decided'; readonly view: View }
  /** It is on an older view (`number`) and cannot vote yet; send it the view it missed. */
  | { readonly type: 'behind'; readonly number: number }
  /** It is not a voter of the instance (another cluster, or not a member at this incarnation). */
  | { readonly type: 'not-voter' };

/** Total order of ballots. */
export function compareBallots(a: Ballot, b: Ballot): number {
  return a.round - b.round || (a.proposer < b.proposer ? -1 : a.proposer > b.proposer ? 1 : 0);
}

/** A fresh acceptor on `view`. */
export function acceptorOn(view: View): AcceptorState {
  return { view, promised: undefined, accepted: undefined };
}

/**
 * The acceptor's step. `changed` says the state moved: it must reach storage before `reply`
 * leaves (a forgotten promise is how two values get chosen).
 */
export function acceptorStep(
  state: AcceptorState, self: { readonly id: string; readonly incarnation: string }, req: PaxosRequest,
): { state: AcceptorState; reply: PaxosReply; changed: boolean } {
  const same = { state, changed: false };
  if (req.cluster !== state.view.cluster) return { ...same, reply: { type: 'not-voter' } };
  if (req.number <= state.view.number) return { ...same, reply: { type: 'decided', view: state.view } };
  if (req.number > state.view.number + 1) return { ...same, reply: { type: 'behind', number: state.view.number } };
  if (!isVoter(state.view, self.id, self.incarnation)) return { ...same, reply: { type: 'not-voter' } };
  const promised = state.promised;
  if (promised !== undefined && compareBallots(req.ballot, promised) < 0) {
    return { ...same, reply: { type: 'reject', number: req.number, promised } };
  }
  if (req.type === 'prepare') {
    const changed = promised === undefined || compareBallots(req.ballot, promised) > 0;
    return { state: { ...state, promised: req.ballot }, changed, reply: { type: 'promise', number: req.number, ballot: req.ballot, accepted: state.accepted } };
  }
  if (req.value.cluster !== state.view.cluster || req.value.number !== req.number) return { ...same, reply: { type: 'not-voter' } };
  const accepted = { ballot: req.ballot, value: req.value };
  const changed = state.accepted === undefined || compareBallots(state.accepted.ballot, req.ballot) !== 0 || promised === undefined ||
    compareBallots(promised, req.ballot) !== 0;
  return { state: { ...state, promised: req.ballot, accepted }, changed, reply: { type: 'accepted', number: req.number, ballot: req.ballot } };
}

/**
 * Adopts a decided view later than the current one (jumping over any missed in between is safe:
 * the acceptor state for the new instance starts empty, since this member could not have voted in
 * it before being on its base view). Anything else leaves the state as it is.
 */
export function adoptView(state: AcceptorState, view: View): AcceptorState {
  if (view.cluster !== state.view.cluster || view.number <= state.view.number) return state;
  return acceptorOn(view);
}

/** True once this acceptor accepted a value for the next view: it then stops confirming (and serving in) its view. */
export function changePending(state: AcceptorState): boolean {
  return state.accepted !== undefined;
}

/** A proposer's round for instance `base.number + 1`. */
export interface Proposal {
  /** The view whose members vote. */
  readonly base: View;
  readonly ballot: Ballot;
  /** The value this proposer wants, used when no voter has accepted anything. */
  readonly own: View;
  readonly phase: 'prepare' | 'accept' | 'done';
  readonly promises: ReadonlyMap<string, Accepted | undefined>;
  readonly accepts: ReadonlySet<string>;
  /** The value of phase 2. */
  readonly value: View | undefined;
  /** The highest round a voter said it promised, to start the next ballot above it. */
  readonly highestSeen: number;
}

/** What a proposer's step asks of its caller. */
export interface ProposalStep {
  readonly proposal: Proposal;
  /** Send this to every member of `base`. */
  readonly broadcast?: PaxosRequest;
  /** Chosen: spread it and adopt it. */
  readonly decided?: View;
  /** A voter was already past the instance: adopt this decided view and drop the proposal. */
  readonly adopt?: View;
  /** A voter is on an older view: send it `base` (it was decided). */
  readonly catchUp?: string;
}

/** Starts phase 1 of ballot `ballot` for the view after `base`, wanting `own`. */
export function propose(base: View, ballot: Ballot, own: View): ProposalStep {
  if (own.cluster !== base.cluster || own.number !== base.number + 1) throw invalidArgument('own.number', own.number, `view ${base.number + 1}`);
  const proposal: Proposal = { base, ballot, own, phase: 'prepare', promises: new Map(), accepts: new Set(), value: undefined, highestSeen: ballot.round };
  return { proposal, broadcast: { type: 'prepare', cluster: base.cluster, number: base.number + 1, ballot } };
}

/** Feeds one voter's reply (`from` is the id of the member it came from) into the proposal. */
export function onReply(p: Proposal, from: string, reply: PaxosReply): ProposalStep {
  if (p.phase === 'done' || !p.base.members.some((m) => m.id === from)) return { proposal: p };
  const number = p.base.number + 1;
  switch (reply.type) {
    case 'decided':
      return reply.view.cluster === p.base.cluster && reply.view.number > p.base.number ? { proposal: { ...p, phase: 'done' }, adopt: reply.view } : { proposal: p };
    case 'behind':
      return { proposal: p, catchUp: from };
    case 'reject':
      return reply.number === number ? { proposal: { ...p, highestSeen: Math.max(p.highestSeen, reply.promised.round) } } : { proposal: p };
    case 'not-voter':
      return { proposal: p };
    case 'promise': {
      if (p.phase !== 'prepare' || reply.number !== number || compareBallots(reply.ballot, p.ballot) !== 0) return { proposal: p };
      const promises = new Map(p.promises).set(from, reply.accepted);
      if (promises.size < majority(p.base)) return { proposal: { ...p, promises } };
      // The value of the highest-ballot acceptance among the promises, else our own.
      let best: Accepted | undefined;
      for (const a of promises.values()) if (a !== undefined && (best === undefined || compareBallots(a.ballot, best.ballot) > 0)) best = a;
      const value = best?.value ?? p.own;
      return {
        proposal: { ...p, promises, phase: 'accept', value },
        broadcast: { type: 'accept', cluster: p.base.cluster, number, ballot: p.ballot, value },
      };
    }
    case 'accepted': {
      if (p.phase !== 'accept' || reply.number !== number || compareBallots(reply.ballot, p.ballot) !== 0) return { proposal: p };
      const accepts = new Set(p.accepts).add(from);
      if (accepts.size < majority(p.base)) return { proposal: { ...p, accepts } };
      return { proposal: { ...p, accepts, phase: 'done' }, decided: p.value as View };
    }
  }
}

/** True when the decided value was this proposer's own (else its changes must be proposed again). */
export function wonOwn(p: Proposal, decided: View): boolean {
  return sameView(p.own, decided);
}

/**
 * The wire form of a {@link PaxosRequest}: the request itself, a plain JSON value (a View is plain
 * data); {@link readPaxosRequest}'s twin.
 */
export function writePaxosRequest(req: PaxosRequest): PaxosRequest {
  return req;
}

/** The wire form of a {@link PaxosReply}: the reply itself (an `accepted` left undefined is not written); {@link readPaxosReply}'s twin. */
export function writePaxosReply(reply: PaxosReply): PaxosReply {
  return reply;
}

/** Reads a {@link PaxosRequest} from the wire; an Error (never a throw) when malformed. */
export function readPaxosRequest(data: unknown): PaxosRequest | Error {
  try {
    const o = obj(data);
    const type = o['type'];
    const cluster = o['cluster'];
    if (typeof cluster !== 'string' || cluster.length === 0 || cluster.length > 256) throw invalidArgument('cluster', cluster, 'a cluster id');
    const number = posInt(o['number'], 'number');
    const ballot = readBallot(o['ballot'], 'ballot');
    if (type === 'prepare') return { type, cluster, number, ballot };
    if (type === 'accept') return { type, cluster, number, ballot, value: parseView(o['value'], 'value') };
    throw invalidArgument('type', type, "'prepare' or 'accept'");
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

/** Reads a {@link PaxosReply}; an Error when malformed. */
export function readPaxosReply(data: unknown): PaxosReply | Error {
  try {
    const o = obj(data);
    switch (o['type']) {
      case 'promise': {
        const a = o['accepted'];
        const accepted = a === undefined || a === null ? undefined : readAccepted(a, 'accepted');
        return { type: 'promise', number: posInt(o['number'], 'number'), ballot: readBallot(o['ballot'], 'ballot'), accepted };
      }
      case 'accepted': return { type: 'accepted', number: posInt(o['number'], 'number'), ballot: readBallot(o['ballot'], 'ballot') };
      case 'reject': return { type: 'reject', number: posInt(o['number'], 'number'), promised: readBallot(o['promised'], 'promised') };
      case 'decided': return { type: 'decided', view: parseView(o['view'], 'view') };
      case 'behind': return { type: 'behind', number: posInt(o['number'], 'number') };
      case 'not-voter': return { type: 'not-voter' };
      default: throw invalidArgument('type', o['type'], 'a Paxos reply type');
    }
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

/** Reads stored {@link AcceptorState}; throws INVALID_ARGUMENT naming the bad field. */
export function parseAcceptorState(data: unknown): AcceptorState {
  const o = obj(data);
  const view = parseView(o['view'], 'view');
  const p = o['promised'];
  const a = o['accepted'];
  return { view, promised: p === undefined || p === null ? undefined : readBallot(p, 'promised'), accepted: a === undefined || a === null ? undefined : readAccepted(a, 'accepted') };
}

function readAccepted(value: unknown, field: string): Accepted {
  const o = obj(value, field);
  return { ballot: readBallot(o['ballot'], `${field}.ballot`), value: parseView(o['value'], `${field}.value`) };
}

function readBallot(value: unknown, field: string): Ballot {
  const o = obj(value, field);
  const round = o['round'];
  if (typeof round !== 'number' || !Number.isSafeInteger(round) || round < 0) throw invalidArgument(`${field}.round`, round, 'an integer ≥ 0');
  const proposer = o['proposer'];
  if (typeof proposer !== 'string' || proposer.length === 0 || proposer.length > 256) throw invalidArgument(`${field}.proposer`, proposer, 'a node id');
  return { round, proposer };
}

function obj(value: unknown, field = 'data'): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidArgument(field, value, 'an object');
  return value as Record<string, unknown>;
}

function posInt(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) throw invalidArgument(field, value, 'an integer ≥ 1');
  return value;
}
