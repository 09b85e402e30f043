// Injected faults as one shell-safe word, for `npm run sim -- --inject …` and the demo page's URL:
// `kind@atMs:node,node:ms[:amount]`, faults joined by `+`, e.g.
// `partition@12000:n0,n1:20000+crash@30000:n2:5000+drift@4000:n1:0:1.01`.
import { invalidArgument } from '../../lib/env/errors.js';
import { faultKinds, type FaultKind, type ScheduledFault } from './faults.js';

/** Injected faults at most, in one run. */
export const injectedFaultsMax = 100;

/** The one-word form of `faults` (see {@link parseInjection}). */
export function formatInjection(faults: readonly ScheduledFault[]): string {
  return faults.map((f) => `${f.kind}@${Math.round(f.at)}:${f.nodes.join(',')}:${Math.round(f.ms)}${f.amount === undefined ? '' : `:${f.amount}`}`).join('+');
}

/** Reads the form {@link formatInjection} writes; INVALID_ARGUMENT names the part that is wrong. */
export function parseInjection(text: string): ScheduledFault[] {
  if (text.trim() === '') return [];
  const parts = text.split('+');
  if (parts.length > injectedFaultsMax) throw invalidArgument('inject', text, `at most ${injectedFaultsMax} faults`);
  return parts.map((part) => {
    const m = /^([a-z-]+)@(\d+):([\w,.-]*):(\d+)(?::(-?\d+(?:\.\d+)?))?$/.exec(part);
    if (m === null) throw invalidArgument('inject', part, 'kind@atMs:node,node:ms[:amount]');
    const kind = m[1] as string;
    if (!(faultKinds as readonly string[]).includes(kind)) throw invalidArgument('inject', part, `a fault kind of ${faultKinds.join(', ')}`);
    const nodes = (m[3] as string).split(',').filter((n) => n !== '');
    return { at: Number(m[2]), kind: kind as FaultKind, nodes, ms: Number(m[4]), ...(m[5] === undefined ? {} : { amount: Number(m[5]) }) };
  });
}
