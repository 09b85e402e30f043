// What a run tells its listeners, typed: every world, client, owner, fault, network and checker
// event, in virtual-time order. The trace (and so the trace hash), the checkers, the CLI's text
// trace and the demo page all read these; nothing parses trace lines back.
import type { View } from '../../lib/core/view.js';
import type { Violation } from '../checkers/checker.js';
import type { FaultKind } from './fault-kinds.js';
import { formatSimNetworkEvent, type SimNetworkEvent } from '../network/sim-net-event.js';

/** A process's life on a host: boot, crash, leave, pause, clock faults. `host` is the machine (`n0`). */
export interface ProcessEvent {
  readonly type: 'process';
  readonly at: number;
  readonly what: 'join' | 'crash' | 'wipe' | 'leave' | 'exit' | 'restart' | 'up' | 'boot-failed' | 'pause' | 'resume' | 'drift' | 'jump';
  readonly host: string;
  /** `up`: the node id when it differs from the host's (browser preset). */
  readonly nodeId?: string;
  /** `pause`: ms; `drift`: the rate; `jump`: ms the wall clock moved. */
  readonly amount?: number;
  /** `boot-failed`: the error code. */
  readonly reason?: string;
}

/** What an operator did: remove, insert, force out lost voters, or find a view's quorum lost. */
export interface OperatorEvent {
  readonly type: 'operator';
  readonly at: number;
  readonly what: 'remove' | 'insert' | 'force-remove' | 'quorum-lost';
  /** The node ids acted on. */
  readonly nodes: readonly string[];
  /** The serving node that took the command (absent for `quorum-lost`). */
  readonly by?: string;
  /** `force-remove` / `quorum-lost`: the view, its voters, and how many were lost. */
  readonly view?: number;
  readonly voters?: number;
}

/** A process adopted a decided view. */
export interface ViewEvent {
  readonly type: 'view';
  readonly at: number;
  readonly host: string;
  /** `host#epoch`: one process of the host. */
  readonly process: string;
  readonly nodeId: string;
  readonly view: View;
}

/** A process's failure detector changed its mind about a member. */
export interface MemberEvent {
  readonly type: 'member';
  readonly at: number;
  /** The observing host. */
  readonly host: string;
  readonly member: string;
  readonly status: string;
}

/** How a client asked: the seed API's `post`, an `acquire` lease, or a `node.locks` request. */
export type ClientKind = 'post' | 'acquire' | 'lock';

/** A client got a grant and believes it holds from now until `until` (unless it releases first). */
export interface GrantEvent {
  readonly type: 'grant';
  readonly at: number;
  readonly kind: ClientKind;
  readonly semaphore: string;
  readonly holder: string;
  /** The host the client runs on. */
  readonly host: string;
  readonly token: number;
  /** When it asked. */
  readonly sentAt: number;
  readonly until: number;
  /** Slots it believes it holds. @default 1 */
  readonly permits?: number;
  readonly mode?: 'shared' | 'exclusive';
}

/** A lease renewed: its holder believes until `until` now (never earlier than before). */
export interface RenewEvent {
  readonly type: 'renew';
  readonly at: number;
  readonly semaphore: string;
  readonly holder: string;
  readonly until: number;
}

/** A holder stops believing: it closed a post, released a lease, or learnt the lease was lost. */
export interface ReleaseEvent {
  readonly type: 'release';
  readonly at: number;
  readonly how: 'close' | 'release' | 'lost';
  readonly kind: ClientKind;
  readonly semaphore: string;
  readonly holder: string;
  /** `lost`: why; `release` of a lock: set when the lease was no longer held. */
  readonly reason?: string;
}

/** A request ended without a grant (full, timed out, aborted, failed). */
export interface RefuseEvent {
  readonly type: 'refuse';
  readonly at: number;
  readonly semaphore: string;
  readonly holder: string;
  readonly reason: string;
}

/** A step of the churn client (create, post, destroy of a fresh semaphore) failed. */
export interface ChurnEvent {
  readonly type: 'churn';
  readonly at: number;
  readonly what: string;
  readonly semaphore: string;
  readonly host: string;
  readonly reason: string;
}

/** What an owner's DSMServer did, at that instant: granted, queued a waiter, or a waiter left the queue. */
export interface OwnerEvent {
  readonly type: 'owner';
  readonly at: number;
  readonly what: 'grant' | 'waiting' | 'wait-ended';
  readonly host: string;
  readonly process: string;
  readonly semaphore: string;
  readonly holder: string;
  readonly token?: number;
  readonly permits?: number;
}

/** A fault of the nemesis or of the schedule begins, or ends (when its end is a planned step: heal, restart, re-insert). */
export interface FaultEvent {
  readonly type: 'fault';
  readonly at: number;
  readonly phase: 'begin' | 'end';
  readonly kind: FaultKind;
  /** The host, or the two sides of a partition (`a,b|c,d`). */
  readonly target: string;
  /** `begin`: how long it was meant to last, ms. */
  readonly ms?: number;
}

/** The simulated network: a frame sent, delivered, dropped; connections and network faults. */
export interface NetEvent {
  readonly type: 'net';
  readonly at: number;
  readonly event: SimNetworkEvent;
}

/** A checker (or a user's invariant) found a violation, at the step it was seen. */
export interface ViolationEvent {
  readonly type: 'violation';
  readonly at: number;
  readonly violation: Violation;
}

/** A run's phases: the cluster is up and the workload starts; the faults stop and it heals; the checkers ran. */
export interface RunEvent {
  readonly type: 'run';
  readonly at: number;
  readonly phase: 'workload' | 'healing' | 'end';
}

/** Everything a run reports. */
export type SimEvent = RunEvent | ProcessEvent | OperatorEvent | ViewEvent | MemberEvent | GrantEvent | RenewEvent | ReleaseEvent | RefuseEvent | ChurnEvent | OwnerEvent | FaultEvent | NetEvent | ViolationEvent;

/** A receiver of {@link SimEvent}s; it must not throw nor touch the world. */
export type SimEventListener = (event: SimEvent) => void;

/** The kinds of process events that are faults (or their ends) in a violation's story. */
const faultStory = new Set(['crash', 'wipe', 'restart', 'up', 'boot-failed', 'leave', 'exit', 'join', 'pause', 'resume', 'drift', 'jump']);
const netFaults = new Set(['partition', 'partition-one-way', 'isolate', 'heal', 'clog', 'reset', 'break']);

/** Whether an event belongs to every violation's story (a fault or a process coming and going). */
export function isFaultStory(e: SimEvent): boolean {
  if (e.type === 'process') return faultStory.has(e.what);
  if (e.type === 'operator') return e.what === 'remove' || e.what === 'insert';
  if (e.type === 'net') return netFaults.has(e.event.kind);
  return false;
}

/** The semaphore an event is about, if any. */
export function semaphoreOf(e: SimEvent): string | undefined {
  return e.type === 'grant' || e.type === 'release' || e.type === 'refuse' || e.type === 'renew' || e.type === 'owner' || e.type === 'churn' ? e.semaphore : undefined;
}

/** The trace line of an event (what the trace hash is taken over), or undefined for events the trace leaves out. */
export function formatSimEvent(e: SimEvent): string | undefined {
  if (e.type === 'net') return e.event.kind === 'deliver' || e.event.kind === 'send' ? undefined : formatSimNetworkEvent(e.event);
  const text = eventText(e);
  return text === undefined ? undefined : `${e.at.toFixed(3)} ${text}`;
}

function eventText(e: SimEvent): string | undefined {
  switch (e.type) {
    case 'process':
      if (e.what === 'pause' || e.what === 'jump') return `${e.what} ${e.host} ${e.amount ?? 0}`;
      if (e.what === 'drift') return `drift ${e.host} ${(e.amount ?? 1).toFixed(4)}`;
      if (e.what === 'boot-failed') return `boot-failed ${e.host} ${e.reason ?? ''}`;
      if (e.what === 'up') return `up ${e.host}${e.nodeId === undefined ? '' : ` as ${e.nodeId}`}`;
      return `${e.what} ${e.host}`;
    case 'operator':
      if (e.what === 'quorum-lost') return `view ${e.view} lost ${e.nodes.length} of ${e.voters} voters and no member of it survives`;
      if (e.what === 'force-remove') return `force-remove ${e.nodes.join(',')} by ${e.by} (view ${e.view} lost ${e.nodes.length} of ${e.voters} voters)`;
      return `${e.what} ${e.nodes.join(',')} by ${e.by}`;
    case 'view':
      return `view ${e.nodeId} ${e.view.number} ${e.view.members.map((m) => m.id).join(',')}`;
    case 'grant': {
      const tail = e.kind === 'lock' ? ` ${e.mode}` : (e.permits ?? 1) > 1 ? ` permits ${e.permits}` : '';
      return `grant ${e.semaphore} ${e.holder} via ${e.host} until ${e.until.toFixed(1)} token ${e.token}${tail}`;
    }
    case 'release':
      if (e.how === 'lost') return `lost ${e.semaphore} ${e.holder}: ${e.reason ?? 'error'}`;
      return `${e.how} ${e.semaphore} ${e.holder}${e.reason === undefined ? '' : ` (${e.reason})`}`;
    case 'refuse':
      return `no ${e.semaphore} ${e.holder}: ${e.reason}`;
    case 'churn':
      return `churn ${e.what} ${e.semaphore} via ${e.host}: ${e.reason}`;
    default:
      return undefined; // member, renew, owner, fault and violation events are not in the trace
  }
}
