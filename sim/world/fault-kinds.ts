// The faults a run can inject (a file of its own: events, the nemesis and the CLI all name them).

/** Faults the nemesis can inject. */
export const faultKinds = ['partition', 'long-partition', 'one-way', 'clog', 'crash', 'wipe', 'leave', 'remove', 'join', 'pause', 'drift', 'jump'] as const;
/** One of {@link faultKinds}. */
export type FaultKind = (typeof faultKinds)[number];
