// One scenario of lock requests, written against the Web Locks API's shape only, so it runs
// unchanged on `navigator.locks` (one browser's locks) and on `node.locks` (the cluster's). Each
// step waits for `settle()` so a request has reached the lock's queue before the next is made:
// a macrotask for navigator.locks, a stretch of virtual time for the cluster.

/** The part of `navigator.locks` the scenario uses (both LockManager and DistributedLocks have it). */
export interface LockApi {
  request<T>(name: string, callback: (lock: { name: string; mode: string } | null) => T | PromiseLike<T>): Promise<Awaited<T>>;
  request<T>(name: string, options: { mode?: 'exclusive' | 'shared'; ifAvailable?: boolean; steal?: boolean; signal?: AbortSignal }, callback: (lock: { name: string; mode: string } | null) => T | PromiseLike<T>): Promise<Awaited<T>>;
  query(): Promise<{ held?: { name?: string; mode?: string }[]; pending?: { name?: string; mode?: string }[] }>;
}

/** What every implementation must log, in this order. */
export const expectedLockLog = [
  'A+ exclusive', 'F null', 'query held exclusive pending shared,shared,exclusive,shared',
  'A-', 'B+ shared', 'C+ shared', 'B-', 'C-', 'D+ exclusive', 'D-', 'E+ shared', 'E-',
  'A=a', 'B=b', 'C=c', 'D=d', 'E=e', 'F=f',
  'G+ exclusive', 'H rejected gave up', 'I+ exclusive', 'G rejected AbortError', 'I-', 'J rejected boom', 'K+ exclusive',
];

interface Gate {
  open(): void;
  readonly wait: Promise<void>;
}

function gate(): Gate {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { open, wait };
}

/** Runs the scenario on `locks` with lock names prefixed by `prefix`. @returns the log */
export async function lockScenario(locks: LockApi, prefix: string, settle: () => Promise<void>): Promise<string[]> {
  const log: string[] = [];
  const r = `${prefix}r`;
  const holder = (label: string, g: Gate, value: string) => async (lock: { mode: string } | null): Promise<string> => {
    log.push(`${label}+ ${lock?.mode ?? 'null'}`);
    await g.wait;
    log.push(`${label}-`);
    return value;
  };
  const gates = { A: gate(), B: gate(), C: gate(), D: gate(), E: gate() };
  // FIFO between modes: two shared requests behind an exclusive holder run together, an exclusive
  // one behind them waits for both, and a shared one behind it waits for it.
  const A = locks.request(r, holder('A', gates.A, 'a'));
  await settle();
  const B = locks.request(r, { mode: 'shared' }, holder('B', gates.B, 'b'));
  await settle();
  const C = locks.request(r, { mode: 'shared' }, holder('C', gates.C, 'c'));
  await settle();
  const D = locks.request(r, holder('D', gates.D, 'd'));
  await settle();
  const E = locks.request(r, { mode: 'shared' }, holder('E', gates.E, 'e'));
  await settle();
  const F = locks.request(r, { ifAvailable: true }, (lock) => {
    log.push(`F ${lock === null ? 'null' : 'lock'}`);
    return 'f';
  });
  await F;
  const q = await locks.query();
  const modes = (list: { name?: string; mode?: string }[] | undefined): string => (list ?? []).filter((l) => l.name === r).map((l) => l.mode).join(',');
  log.push(`query held ${modes(q.held)} pending ${modes(q.pending)}`);
  gates.A.open();
  await settle();
  await settle();
  gates.B.open();
  await settle();
  gates.C.open();
  await settle();
  await settle();
  gates.D.open();
  await settle();
  await settle();
  gates.E.open();
  const results = await Promise.all([A, B, C, D, E, F]);
  results.forEach((v, i) => log.push(`${'ABCDEF'[i]}=${v}`));

  // An aborted wait rejects with the signal's reason; a steal takes the lock from its holder, whose
  // request rejects with an AbortError; a callback that throws rejects its request and frees the lock.
  const s = `${prefix}s`;
  const g = gate();
  const G = locks.request(s, holder('G', g, 'g')).then(() => log.push('G resolved'), (e: Error) => log.push(`G rejected ${e.name}`));
  await settle();
  const controller = new AbortController();
  const H = locks.request(s, { signal: controller.signal }, () => log.push('H+')).then(() => log.push('H resolved'), (e: unknown) => log.push(`H rejected ${String(e)}`));
  await settle();
  controller.abort('gave up');
  await H;
  const gi = gate();
  const I = locks.request(s, { steal: true }, holder('I', gi, 'i'));
  await G;
  await settle();
  gi.open();
  await I;
  g.open(); // G's callback ends long after it lost the lock
  const J = locks.request(s, () => {
    throw new Error('boom');
  }).then(() => log.push('J resolved'), (e: Error) => log.push(`J rejected ${e.message}`));
  await J;
  await settle();
  await locks.request(s, { ifAvailable: true }, (lock) => log.push(`K+ ${lock?.mode ?? 'null'}`));
  // The stealer's callback and the stolen request's rejection are both queued at the steal: the
  // Web Locks spec orders neither before the other (Chromium runs either first), so they are
  // logged in one order.
  const out = log.filter((l) => l !== 'G-');
  const iAt = out.indexOf('I+ exclusive');
  const gAt = out.indexOf('G rejected AbortError');
  if (iAt >= 0 && gAt >= 0 && iAt - gAt === 1) [out[gAt], out[iAt]] = [out[iAt] as string, out[gAt] as string];
  return out;
}
