// The proposer side of a member's view changes: the changes asked for and not decided yet, the
// ballots it runs for them (single-decree Paxos per view number, core/view-paxos.ts), and the
// callers waiting for a view that holds their change. The keeper (view-keeper.ts) is the acceptor,
// adopts decided views and persists; this only asks.
import type { NodeId } from '../core/node-id.js';
import {
  admissibleChanges, applyChanges, describeChange, memberNode, memberOf, sameTarget, type RemovalReason, type View, type ViewChange,
} from '../core/view.js';
import {
  compareBallots, onReply, propose, readPaxosReply, type AcceptorState, type PaxosReply, type PaxosRequest, type Proposal, type ProposalStep,
} from '../core/view-paxos.js';
import type { TimerHandle } from '../env/clock.js';
import { ClusterluckError } from '../env/errors.js';
import type { NetKernel } from '../kernel/net-kernel.js';
import { GossipEvent } from './gossip-codec.js';
import type { GossipSender } from './gossip-sender.js';
import { writePaxos } from './view-codec.js';

/** What the proposer needs of its keeper. */
export interface ProposerHost {
  readonly kernel: NetKernel;
  readonly send: GossipSender;
  readonly options: { readonly viewChangeTimeoutMs: number };
  readonly stats: { proposals: number; decided: number };
  ringId(): string | undefined;
  /** True between the keeper's start and stop. */
  running(): boolean;
  view(): View | undefined;
  isMember(): boolean;
  acceptor(): AcceptorState | undefined;
  /** This member accepted a value for the next view and has not adopted a decision. */
  changePending(): boolean;
  /** True when failure detection holds `id` down or suspect. */
  unreachable(id: string): boolean;
  /** This member's own acceptor step. */
  onPaxos(req: PaxosRequest): Promise<PaxosReply>;
  adopt(view: View): void;
  /** Sends `view` to `nodes` (a catch-up, a decision). */
  push(nodes: readonly NodeId[], view: View): void;
}

interface Waiter {
  readonly done: (view: View) => boolean;
  readonly resolve: (view: View) => void;
}

/** The view changes one member proposes. */
export class ViewProposer {
  readonly #h: ProposerHost;
  #pending: ViewChange[] = [];
  #waiters: Waiter[] = [];
  #proposal: Proposal | undefined;
  #round = 0;
  #retry: TimerHandle | undefined;
  #attempt: TimerHandle | undefined;

  constructor(host: ProposerHost) {
    this.#h = host;
  }

  /** Changes asked for and not yet in a decided view. */
  get pending(): readonly ViewChange[] {
    return this.#pending;
  }

  /**
   * Asks for `change` and resolves with the first decided view that satisfies it; TIMEOUT after
   * `timeoutMs` (the change stays pending and is proposed again until it is decided or superseded,
   * unless `withdrawOnTimeout`).
   */
  change(change: ViewChange, timeoutMs: number, withdrawOnTimeout = false): Promise<View> {
    const current = this.#h.view();
    if (current === undefined || !this.#h.isMember()) return Promise.reject(new ClusterluckError('NOT_RUNNING', 'not a member of a view'));
    const done = (v: View): boolean => applyChanges(v, [change]) === undefined;
    if (done(current)) return Promise.resolve(current);
    this.#pending = this.#pending.filter((c) => !sameTarget(c, change)).concat([change]);
    return new Promise<View>((resolve, reject) => {
      const clock = this.#h.kernel.env.clock;
      const waiter: Waiter = { done, resolve: (v) => { clock.cancelTimer(timer); resolve(v); } };
      const timer = clock.setTimer(timeoutMs, () => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        if (withdrawOnTimeout) this.#pending = this.#pending.filter((c) => c !== change);
        reject(new ClusterluckError('TIMEOUT', `no view with ${describeChange(change)} decided within ${timeoutMs} ms`));
      });
      this.#waiters.push(waiter);
      this.drive();
    });
  }

  /** Drops a pending removal of `id` for `reason` (the member was heard from again). */
  forget(id: string, reason: RemovalReason): void {
    this.#pending = this.#pending.filter((c) => !(c.kind === 'remove' && c.id === id && c.reason === reason));
  }

  /** Starts a ballot when there is something to decide and none is running. */
  drive(recover = false): void {
    const v = this.#h.view();
    if (!this.#h.running() || this.#proposal !== undefined || this.#retry !== undefined || v === undefined || !this.#h.isMember()) return;
    const self = this.#h.kernel.self.id;
    // Additions that would leave the reachable members short of a majority wait (their joiners time out and retry).
    const admissible = admissibleChanges(v, this.#pending, (id) => id === self || !this.#h.unreachable(id));
    const own = applyChanges(v, admissible) ?? (recover ? this.#h.acceptor()?.accepted?.value : undefined);
    if (own === undefined) {
      if (admissible.length === this.#pending.length) this.#pending = [];
      return;
    }
    const promised = this.#h.acceptor()?.promised;
    this.#round = Math.max(this.#round, promised?.round ?? 0) + 1;
    this.#h.stats.proposals++;
    this.#step(propose(v, { round: this.#round, proposer: this.#h.kernel.self.id }, own));
    const clock = this.#h.kernel.env.clock;
    this.#attempt = clock.setTimer(this.#h.options.viewChangeTimeoutMs, () => {
      this.#attempt = undefined;
      if (this.#proposal === undefined) return;
      this.#round = Math.max(this.#round, this.#proposal.highestSeen);
      this.#proposal = undefined;
      this.#backoff();
    });
  }

  /** Waits a random time (so competing proposers stop duelling), then drives again. */
  #backoff(): void {
    const clock = this.#h.kernel.env.clock;
    const ms = this.#h.kernel.env.random.next() * this.#h.options.viewChangeTimeoutMs;
    this.#retry = clock.setTimer(ms, () => {
      this.#retry = undefined;
      this.drive(this.#h.changePending());
    });
  }

  #step(s: ProposalStep): void {
    this.#proposal = s.proposal;
    if (s.adopt !== undefined) {
      this.#endProposal();
      this.#h.adopt(s.adopt);
      this.drive();
      return;
    }
    if (s.catchUp !== undefined) {
      const m = memberOf(s.proposal.base, s.catchUp);
      if (m !== undefined) this.#h.push([memberNode(m)], s.proposal.base);
    }
    if (s.decided !== undefined) {
      this.#h.stats.decided++;
      this.#endProposal();
      const base = s.proposal.base;
      this.#h.adopt(s.decided);
      const to = new Map([...base.members, ...s.decided.members].map((m) => [m.id, m]));
      this.#h.push([...to.values()].filter((m) => m.id !== this.#h.kernel.self.id).map(memberNode), s.decided);
      if (this.#pending.length > 0) this.drive();
      return;
    }
    if (s.broadcast !== undefined) this.#broadcast(s.proposal, s.broadcast);
  }

  #endProposal(): void {
    this.#proposal = undefined;
    if (this.#attempt !== undefined) this.#h.kernel.env.clock.cancelTimer(this.#attempt);
    this.#attempt = undefined;
  }

  #broadcast(p: Proposal, req: PaxosRequest): void {
    const ring = this.#h.ringId();
    const selfId = this.#h.kernel.self.id;
    for (const m of p.base.members) {
      const answer = m.id === selfId ? this.#h.onPaxos(req)
        : this.#h.send.call(memberNode(m), GossipEvent.paxos, writePaxos(ring, req), this.#h.options.viewChangeTimeoutMs).then((r) => (r === undefined ? undefined : readPaxosReply(r)));
      void answer.then((reply) => {
        const current = this.#proposal;
        if (reply === undefined || reply instanceof Error || current === undefined || current.base !== p.base || compareBallots(current.ballot, p.ballot) !== 0) return;
        this.#step(onReply(current, m.id, reply));
      }, () => undefined);
    }
  }

  /** A view was adopted: changes it holds are no longer pending, and whoever waited for them hears. */
  settle(view: View): void {
    this.#pending = this.#pending.filter((c) => applyChanges(view, [c]) !== undefined);
    const ready = this.#waiters.filter((w) => w.done(view));
    this.#waiters = this.#waiters.filter((w) => !w.done(view));
    for (const w of ready) w.resolve(view);
  }

  /** Stops the ballot timers and forgets every waiter (the keeper stopped). */
  stop(): void {
    const clock = this.#h.kernel.env.clock;
    if (this.#retry !== undefined) clock.cancelTimer(this.#retry);
    if (this.#attempt !== undefined) clock.cancelTimer(this.#attempt);
    this.#retry = this.#attempt = undefined;
    this.#proposal = undefined;
    this.#waiters = [];
  }
}
