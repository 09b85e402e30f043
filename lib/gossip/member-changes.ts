import { inRing, memberStatus, type MemberEntry, type MembershipChange } from '../core/membership.js';
import type { MemberEventDetail } from './gossip-options.js';

/** What a batch of table changes means for listeners: the status events and whether the ring moved. */
export interface ChangeSummary {
  /** True when a member joined or left the ring, or changed weight or address on it. */
  readonly ringChanged: boolean;
  /** One event per member whose status changed, in the order of the changes. */
  readonly events: readonly MemberEventDetail[];
}

/** Summarises membership changes (pure). */
export function summarizeChanges(changes: readonly MembershipChange[]): ChangeSummary {
  let ringChanged = false;
  const events: MemberEventDetail[] = [];
  for (const c of changes) {
    const wasIn = c.before !== undefined && inRing(c.before);
    const isIn = c.after !== undefined && inRing(c.after);
    if (wasIn !== isIn || (isIn && (c.before?.weight !== c.after?.weight || c.before?.node.address !== c.after?.node.address))) {
      ringChanged = true;
    }
    const previous = c.before === undefined ? undefined : memberStatus(c.before);
    const status = c.after === undefined ? undefined : memberStatus(c.after);
    if (previous !== status) {
      events.push({ id: c.id, node: (c.after ?? (c.before as MemberEntry)).node, previous, status, entry: c.after });
    }
  }
  return { ringChanged, events };
}
