// A member's stored view state (its Paxos acceptor, the incarnation it votes as, the lock-delays it
// still owes): a pure encode/decode pair, no I/O. The keeper writes it before it answers a Paxos
// request, so a restart never votes against what it promised.
import type { PendingDelay } from '../core/ownership-lease.js';
import { parseView, sameView } from '../core/view.js';
import { compareBallots, parseAcceptorState, type AcceptorState, type Ballot } from '../core/view-paxos.js';
import { assert } from '../env/assert.js';
import { fromUtf8, utf8 } from '../env/bytes.js';
import { ClusterluckError, show } from '../env/errors.js';

/** The storage key of a member's acceptor state. */
export const viewStateKey = 'view.state';

/**
 * What a member keeps under {@link viewStateKey}: its acceptor, the incarnation it votes as, and
 * the delays it still owes; a process that has not heard a view yet keeps only its incarnation.
 */
export interface StoredViewState {
  readonly state: AcceptorState | undefined;
  readonly incarnation: string;
  readonly delays: readonly PendingDelay[];
}

/** The bytes of a {@link StoredViewState} (UTF-8 JSON); {@link decodeViewState}'s twin. Without an acceptor, only the incarnation is kept. */
export function encodeViewState(s: StoredViewState): Uint8Array {
  const a = s.state;
  const body = a === undefined ? { incarnation: s.incarnation, view: null } : {
    incarnation: s.incarnation, view: a.view, promised: a.promised ?? null, accepted: a.accepted ?? null, delays: s.delays,
  };
  return utf8(JSON.stringify(body));
}

/** Reads a stored {@link StoredViewState}; STORAGE_CORRUPT when the bytes are not one. */
export function decodeViewState(bytes: Uint8Array): StoredViewState {
  try {
    const json = JSON.parse(fromUtf8(bytes)) as Record<string, unknown>;
    const incarnation = json['incarnation'];
    if (typeof incarnation !== 'string' || incarnation.length === 0) throw new Error('no incarnation');
    if (json['view'] === null) return { state: undefined, incarnation, delays: [] };
    const state = parseAcceptorState(json);
    const list = json['delays'] ?? [];
    if (!Array.isArray(list)) throw new Error('delays is not an array');
    const delays = list.map((d: unknown, i): PendingDelay => {
      const o = (typeof d === 'object' && d !== null ? d : {}) as Record<string, unknown>;
      const view = o['view'];
      if (typeof view !== 'number' || !Number.isSafeInteger(view)) throw new Error(`delays[${i}].view is not a view number`);
      return { view, previous: o['previous'] === null || o['previous'] === undefined ? null : parseView(o['previous'], `delays[${i}].previous`) };
    });
    return { state, incarnation, delays };
  } catch (err) {
    throw new ClusterluckError('STORAGE_CORRUPT', `stored view state ${show(viewStateKey)} is unreadable: ${String(err)}`, { cause: err });
  }
}

/**
 * Asserts that `bytes` decode to `s` (encode-then-decode at the storage boundary; on when the
 * kernel's `checkCodecs` is). A restart reads what this wrote, so a field the pair loses would
 * make a member vote against its own promise.
 */
export function checkViewState(s: StoredViewState, bytes: Uint8Array): void {
  const back = decodeViewState(bytes);
  assert(back.incarnation === s.incarnation, 'a stored view state keeps its incarnation');
  const a = s.state;
  const b = back.state;
  assert((a === undefined) === (b === undefined), 'a stored view state keeps its acceptor');
  if (a === undefined || b === undefined) return;
  assert(sameView(a.view, b.view), 'a stored acceptor keeps its view');
  assert(sameBallot(a.promised, b.promised), 'a stored acceptor keeps its promise');
  assert(sameBallot(a.accepted?.ballot, b.accepted?.ballot) && (a.accepted === undefined || sameView(a.accepted.value, (b.accepted as NonNullable<typeof b.accepted>).value)),
    'a stored acceptor keeps what it accepted');
  assert(back.delays.length === s.delays.length && s.delays.every((d, i) => {
    const e = back.delays[i];
    return e !== undefined && e.view === d.view && (d.previous === null ? e.previous === null : e.previous !== null && sameView(d.previous, e.previous));
  }), 'a stored view state keeps the delays it owes');
}

function sameBallot(a: Ballot | undefined, b: Ballot | undefined): boolean {
  return a === undefined || b === undefined ? a === b : compareBallots(a, b) === 0;
}
