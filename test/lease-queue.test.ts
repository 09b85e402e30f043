// The FIFO waiter queue of the pure semaphore state machine (lib/core/semaphore.ts) under random
// commands (acquire, renew, release, seed-API post/close, create/destroy, handoff, callers leaving,
// mayGrant switched off and on, time moving on in jumps, lazily or timer by timer), against a
// reference model written from the spec. After every command:
//   1. no semaphore has more than n slots held (a lease of k permits takes k), and its holders
//      (entries, tokens, expiries, permits) are exactly the model's;
//   2. its waiters are exactly the model's queue, in order;
//   3. the outcomes told through onWaiter are exactly the model's, per semaphore and in order: a
//      grant goes only to the head of the queue, exactly when it fits and mayGrant allows, and
//      after any change that frees room no head that fits is left waiting while mayGrant allows;
//   4. every outcome is for a queued request, and at most one per request; at the end (mayGrant on
//      everywhere, time run on past every lease and deadline) every request has had its outcome;
//   5. the fencing tokens of a semaphore's fresh grants strictly increase;
//   6. nextExpiry() is the earliest live lease expiry or finite queued deadline.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Semaphores, type Lease, type SemaphoreSnapshot, type WaiterOutcome } from '../lib/core/semaphore.js';
import { isClusterluckError } from '../lib/env/errors.js';

const ids = ['a', 'b'];
const keys = ['k1', 'k2', 'k3', 'k4', 'k5', 'k6'];
const callers = ['c1', 'c2', 'c3'];
const seedHolders = ['h1', 'h2'];
const stretch = 1.0201;
const waitersMax = 3;

const id = fc.constantFrom(...ids);
const command = fc.oneof(
  { weight: 2, arbitrary: fc.record({ op: fc.constant('create' as const), id, n: fc.integer({ min: 1, max: 3 }) }) },
  {
    weight: 10,
    arbitrary: fc.record({
      op: fc.constant('acquire' as const),
      id,
      key: fc.constantFrom(...keys),
      caller: fc.constantFrom(...callers),
      permits: fc.constantFrom(1, 1, 1, 1, 1, 2, 2, 2, 3, 0),
      leaseMs: fc.integer({ min: 1, max: 100 }),
      wait: fc.oneof(fc.integer({ min: 1, max: 200 }), fc.constant(Infinity)),
      ifAvailable: fc.constantFrom(false, false, false, true),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('renew' as const), id, key: fc.constantFrom(...keys), leaseMs: fc.integer({ min: 1, max: 100 }) }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('release' as const), id, key: fc.constantFrom(...keys) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('post' as const), id, holder: fc.constantFrom(...seedHolders), timeout: fc.integer({ min: 1, max: 100 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('close' as const), id, holder: fc.constantFrom(...seedHolders) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('destroy' as const), id }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 60 }), mode: fc.constantFrom('jump' as const, 'lazy' as const, 'step' as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('drop' as const), caller: fc.constantFrom(...callers) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('mayGrant' as const), id, on: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('handedOver' as const), id }) },
);
type Command = typeof command extends fc.Arbitrary<infer C> ? C : never;

interface ModelWaiter {
  key: string;
  caller: string;
  permits: number;
  leaseMs: number;
  deadline: number;
}

/** A lease as the model keeps it and compares it. */
interface Slot {
  token: number;
  expiresAt: number;
  permits: number;
}

interface ModelSem {
  n: number;
  lastToken: number;
  /** Lease key or seed holder → its lease. */
  holders: Map<string, Slot>;
  queue: ModelWaiter[];
}

/** Slots held. */
function used(s: ModelSem): number {
  let sum = 0;
  for (const l of s.holders.values()) sum += l.permits;
  return sum;
}

/** A machine lease in the model's terms (its permits may be left out when 1). */
function slot(lease: Lease): Slot {
  return { token: lease.token, expiresAt: lease.expiresAt, permits: lease.permits ?? 1 };
}

/** The spec, kept as plainly as possible: every step at `now` first lets what is over go, then acts, then serves the heads. */
class Model {
  now = 0;
  readonly sems = new Map<string, ModelSem>();
  /** mayGrant per id (absent: true). */
  readonly may = new Map<string, boolean>();
  /** The outcomes the machine should tell during the current command, in order. */
  told: WaiterOutcome[] = [];

  mayGrant(id: string): boolean {
    return this.may.get(id) ?? true;
  }

  /** Leases over at `now` go, then waits over at `now` end (timeout), then the heads are served. */
  tick(): void {
    for (const s of this.sems.values()) for (const [h, l] of s.holders) if (l.expiresAt <= this.now) s.holders.delete(h);
    for (const [id, s] of this.sems) {
      for (const w of s.queue.filter((q) => q.deadline <= this.now)) this.end(id, s, w, 'timeout');
    }
    this.serve();
  }

  /** Every head that fits goes, in order, where mayGrant allows. */
  serve(): void {
    for (const [id, s] of this.sems) {
      if (!this.mayGrant(id)) continue;
      for (let head = s.queue[0]; head !== undefined && used(s) + head.permits <= s.n; head = s.queue[0]) {
        s.queue.shift();
        this.told.push({ type: 'granted', id, key: head.key, lease: this.grant(s, head.key, head.permits, head.leaseMs) });
      }
    }
  }

  grant(s: ModelSem, key: string, permits: number, leaseMs: number): Slot {
    s.lastToken += 1; // base is 0: the counter alone
    const lease = { token: s.lastToken, expiresAt: this.now + leaseMs * stretch, permits };
    s.holders.set(key, lease);
    return { ...lease };
  }

  end(id: string, s: ModelSem, w: ModelWaiter, reason: 'timeout' | 'cancelled' | 'destroyed' | 'moved' | 'left'): void {
    s.queue.splice(s.queue.indexOf(w), 1);
    this.told.push({ type: 'ended', id, key: w.key, reason });
  }

  /** Removes the sem, ending its waiters. */
  drop(id: string, reason: 'destroyed' | 'moved'): void {
    const s = this.sems.get(id);
    if (s === undefined) return;
    for (const w of [...s.queue]) this.end(id, s, w, reason);
    this.sems.delete(id);
  }

  nextExpiry(): number | undefined {
    let next = Infinity;
    for (const s of this.sems.values()) {
      for (const l of s.holders.values()) next = Math.min(next, l.expiresAt);
      for (const w of s.queue) next = Math.min(next, w.deadline);
    }
    return next === Infinity ? undefined : next;
  }

  /** Some head fits but mayGrant holds it back. */
  stalled(): boolean {
    for (const [id, s] of this.sems) {
      const head = s.queue[0];
      if (!this.mayGrant(id) && head !== undefined && used(s) + head.permits <= s.n) return true;
    }
    return false;
  }
}

/** Outcomes per semaphore, in order; a run of consecutive ends is sorted (which of several waiters that end at once is told first is not specified). */
function perSemaphore(outcomes: readonly WaiterOutcome[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const id of ids) {
    const seq: string[] = [];
    let run: string[] = [];
    for (const o of outcomes.filter((x) => x.id === id)) {
      if (o.type === 'ended') {
        run.push(`ended ${o.key} ${o.reason}`);
        continue;
      }
      seq.push(...run.sort(), `granted ${o.key} ${JSON.stringify(slot(o.lease))}`);
      run = [];
    }
    seq.push(...run.sort());
    out[id] = seq;
  }
  return out;
}

function attempt<T>(f: () => T): { value?: T; error?: unknown } {
  try {
    return { value: f() };
  } catch (error) {
    return { error };
  }
}

/** Runs `commands` against the machine and the model, checking the six rules after each. */
function runCommands(commands: readonly Command[]): void {
  const model = new Model();
  const log: WaiterOutcome[] = [];
  const m = new Semaphores({
    max: 100,
    stretch,
    waitersMax,
    base: () => 0,
    mayGrant: (id) => model.mayGrant(id),
    onWaiter: (o) => log.push(o),
  });
  /** `id/key` of every request queued and not yet told its outcome. */
  const pending = new Set<string>();
  /** The largest token granted per semaphore since it was created. */
  const top = new Map<string, number>();
  /** What the machine told during the current command. */
  let seen: WaiterOutcome[] = [];

  const fresh = (id: string, lease: Lease): void => {
    expect(lease.token, `token of a fresh grant of ${id}`).toBeGreaterThan(top.get(id) ?? 0);
    top.set(id, lease.token);
  };
  /** Takes what the machine told since the last call (rule 4: one outcome per queued request). */
  const drain = (): void => {
    for (const o of log.splice(0)) {
      const k = `${o.id}/${o.key}`;
      expect(pending.has(k), `outcome ${JSON.stringify(o)} for a request that is not waiting`).toBe(true);
      pending.delete(k);
      if (o.type === 'granted') fresh(o.id, o.lease);
      seen.push(o);
    }
  };
  const notFound = (f: () => unknown): void => {
    const r = attempt(f);
    expect(isClusterluckError(r.error, 'NOT_FOUND'), `expected NOT_FOUND, got ${String(r.error)}`).toBe(true);
  };

  /** The six rules; `lazy`: time moved on and nobody looked yet, so only the next expiry is read. */
  const check = (lazy = false): void => {
    // 6, before anything is let go: past-due items still count.
    expect(m.nextExpiry(), 'nextExpiry').toBe(model.nextExpiry());
    if (!lazy) {
      model.tick();
      for (const id of ids) {
        const s = model.sems.get(id);
        if (s === undefined) {
          notFound(() => m.holders(id, model.now));
          notFound(() => m.waiters(id, model.now));
          continue;
        }
        // 1
        const hs = [...m.holders(id, model.now)].map(([h, l]) => [h, slot(l)] as const).sort(([x], [y]) => (x < y ? -1 : 1));
        expect(hs, `holders of ${id}`).toEqual([...s.holders].sort(([x], [y]) => (x < y ? -1 : 1)));
        const slots = hs.reduce((sum, [, l]) => sum + l.permits, 0);
        expect(slots, `slots held of ${id}`).toBeLessThanOrEqual(s.n);
        expect(m.read(id, model.now)).toEqual({ n: s.n, active: slots });
        // 2
        const ws = m.waiters(id, model.now);
        expect(ws, `waiters of ${id}`).toEqual(s.queue.map(({ key, caller, permits, deadline }) => ({ key, caller, permits, deadline })));
        // 3, on the machine's own state: no head that fits waits while mayGrant allows.
        const head = ws[0];
        if (model.mayGrant(id) && head !== undefined) expect(slots + head.permits, `head ${head.key} of ${id} fits but waits`).toBeGreaterThan(s.n);
      }
      expect(m.nextExpiry(), 'nextExpiry after expiring').toBe(model.nextExpiry());
      if (model.stalled()) expect(m.stalled, 'a head held back by mayGrant is not reported stalled').toBe(true);
    }
    drain();
    // 3
    expect(perSemaphore(seen), 'outcomes told').toEqual(perSemaphore(model.told));
    seen = [];
    model.told = [];
  };

  /** Moves time to `target` one timer at a time, as an owner arming nextExpiry() would. */
  const stepTo = (target: number): void => {
    for (let t = model.nextExpiry(); t !== undefined && t <= target; t = model.nextExpiry()) {
      expect(m.nextExpiry()).toBe(t);
      model.now = Math.max(model.now, t);
      m.expire(model.now);
      model.tick();
    }
    model.now = target;
    m.expire(model.now);
    model.tick();
  };

  for (const c of commands) {
    const now = model.now;
    let lazy = false;
    switch (c.op) {
      case 'create': {
        model.tick();
        const s = model.sems.get(c.id);
        const r = attempt(() => m.create(c.id, c.n, now));
        if (s !== undefined && s.n !== c.n) expect(isClusterluckError(r.error, 'ALREADY_EXISTS')).toBe(true);
        else expect(r.error).toBeUndefined();
        if (s === undefined) {
          model.sems.set(c.id, { n: c.n, lastToken: 0, holders: new Map(), queue: [] });
          top.delete(c.id);
        }
        break;
      }
      case 'acquire': {
        model.tick();
        const deadline = now + c.wait;
        const req = { key: c.key, caller: c.caller, permits: c.permits, leaseMs: c.leaseMs, deadline };
        const r = attempt(() => m.acquire(c.id, req, now, c.ifAvailable));
        drain(); // before a new request of this key counts as waiting
        const s = model.sems.get(c.id);
        if (s === undefined) {
          expect(isClusterluckError(r.error, 'NOT_FOUND')).toBe(true);
          break;
        }
        const held = s.holders.get(c.key);
        const at = s.queue.findIndex((w) => w.key === c.key);
        const got = r.value?.state === 'granted' ? { state: 'granted', lease: slot(r.value.lease) } : r.value;
        if (held !== undefined) {
          expect(got).toEqual({ state: 'granted', lease: held });
        } else if (c.permits < 1 || c.permits > s.n) {
          expect(isClusterluckError(r.error, 'INVALID_ARGUMENT'), `permits ${c.permits} of n=${s.n}: ${String(r.error)}`).toBe(true);
        } else if (at >= 0) {
          (s.queue[at] as ModelWaiter).deadline = deadline;
          expect(r.value).toEqual({ state: 'queued', position: at });
        } else if (s.queue.length === 0 && used(s) + c.permits <= s.n && model.mayGrant(c.id)) {
          const lease = model.grant(s, c.key, c.permits, c.leaseMs);
          expect(got).toEqual({ state: 'granted', lease });
          if (r.value?.state === 'granted') fresh(c.id, r.value.lease);
        } else if (c.ifAvailable) {
          expect(r.value).toEqual({ state: 'unavailable' });
        } else if (s.queue.length >= waitersMax) {
          expect(isClusterluckError(r.error, 'QUEUE_FULL'), `queue of ${s.queue.length}: ${String(r.error)}`).toBe(true);
        } else {
          s.queue.push({ ...req });
          expect(r.value).toEqual({ state: 'queued', position: s.queue.length - 1 });
        }
        if (r.value?.state === 'queued') pending.add(`${c.id}/${c.key}`);
        model.serve();
        break;
      }
      case 'renew': {
        model.tick();
        const s = model.sems.get(c.id);
        if (s === undefined) {
          notFound(() => m.renew(c.id, c.key, c.leaseMs, now));
          break;
        }
        const lease = m.renew(c.id, c.key, c.leaseMs, now);
        const held = s.holders.get(c.key);
        if (held === undefined) {
          expect(lease).toBeUndefined();
          break;
        }
        held.expiresAt = now + c.leaseMs * stretch; // every permit, the same token
        expect(lease && slot(lease)).toEqual(held);
        break;
      }
      case 'release': {
        model.tick();
        const s = model.sems.get(c.id);
        if (s === undefined) {
          notFound(() => m.release(c.id, c.key, now));
          break;
        }
        const ended = m.release(c.id, c.key, now);
        const waiter = s.queue.find((w) => w.key === c.key);
        if (waiter !== undefined) model.end(c.id, s, waiter, 'cancelled');
        const released = s.holders.delete(c.key);
        model.serve();
        expect(ended).toBe(waiter !== undefined || released);
        break;
      }
      case 'post': {
        model.tick();
        const s = model.sems.get(c.id);
        if (s === undefined) {
          notFound(() => m.post(c.id, c.holder, c.timeout, now, 0));
          break;
        }
        const lease = m.post(c.id, c.holder, c.timeout, now, 0);
        drain(); // waiters served as it first let what was over go were granted before this post
        const held = s.holders.get(c.holder);
        // The seed API never overtakes a waiter; a holder's refresh is not a new slot.
        if (held === undefined && (used(s) >= s.n || s.queue.length > 0)) {
          expect(lease).toBeUndefined();
          break;
        }
        if (held === undefined) s.lastToken += 1;
        const want = { token: held?.token ?? s.lastToken, expiresAt: now + c.timeout * stretch, permits: 1 };
        s.holders.set(c.holder, want);
        expect(lease && slot(lease)).toEqual(want);
        if (held === undefined && lease !== undefined) fresh(c.id, lease);
        break;
      }
      case 'close': {
        model.tick();
        const s = model.sems.get(c.id);
        if (s === undefined) {
          notFound(() => m.close(c.id, c.holder, now));
          break;
        }
        expect(m.close(c.id, c.holder, now)).toBe(s.holders.delete(c.holder));
        model.serve();
        break;
      }
      case 'destroy':
        model.tick();
        m.destroy(c.id, now);
        model.drop(c.id, 'destroyed');
        model.serve();
        break;
      case 'handedOver':
        // No expiry first: the semaphore leaves as it is.
        m.handedOver(c.id);
        model.drop(c.id, 'moved');
        break;
      case 'drop': {
        model.tick();
        m.dropCallers((caller) => caller !== c.caller, now);
        for (const [id, s] of model.sems) for (const w of s.queue.filter((q) => q.caller === c.caller)) model.end(id, s, w, 'left');
        model.serve();
        break;
      }
      case 'mayGrant':
        model.may.set(c.id, c.on);
        if (c.on) {
          m.pump(now);
          model.tick();
        }
        break;
      case 'advance':
        if (c.mode === 'step') stepTo(now + c.ms);
        else {
          model.now = now + c.ms;
          if (c.mode === 'jump') {
            m.expire(model.now);
            model.tick();
          } else lazy = true; // left for the next command to see
        }
        break;
    }
    check(lazy);
  }

  // The end: mayGrant on everywhere, time run on timer by timer until nothing is left.
  for (const id of ids) model.may.set(id, true);
  m.pump(model.now);
  model.tick();
  check();
  for (let i = 0; model.nextExpiry() !== undefined; i++) {
    expect(i).toBeLessThan(1000);
    stepTo(model.nextExpiry() as number);
    check();
  }
  expect(m.nextExpiry()).toBeUndefined();
  for (const s of model.sems.values()) expect(s.queue).toEqual([]);
  expect([...pending], 'requests never told their outcome').toEqual([]);
}

describe('the waiter queue of the semaphore state machine', () => {
  it('property: holders ≤ n, waiters served FIFO as soon as they fit, one outcome per request, tokens grow, next expiry right', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.array(command, { minLength: 1, maxLength: 60, size: 'max' }), (na, nb, commands) => {
        // Both semaphores exist at first (a run spent on NOT_FOUND proves little); later commands destroy and re-create them.
        runCommands([{ op: 'create', id: 'a', n: na }, { op: 'create', id: 'b', n: nb }, ...commands]);
      }),
      { numRuns: 500 },
    );
  });

  /** A machine on n=`n` with its outcomes collected. */
  function machine(n: number): { m: Semaphores; told: WaiterOutcome[] } {
    const told: WaiterOutcome[] = [];
    const m = new Semaphores({ max: 10, base: () => 0, onWaiter: (o) => told.push(o) });
    m.create('s', n, 0);
    return { m, told };
  }
  const req = (key: string, permits = 1, deadline = Infinity): { key: string; caller: string; permits: number; leaseMs: number; deadline: number } =>
    ({ key, caller: 'c1', permits, leaseMs: 100, deadline });

  it('three acquires on n=1 are granted in arrival order as the holder releases', () => {
    const { m, told } = machine(1);
    expect(m.acquire('s', req('k1'), 0)).toEqual({ state: 'granted', lease: { token: 1, expiresAt: 100 } });
    expect(m.acquire('s', req('k2'), 1)).toEqual({ state: 'queued', position: 0 });
    expect(m.acquire('s', req('k3'), 2)).toEqual({ state: 'queued', position: 1 });
    expect(m.release('s', 'k1', 3)).toBe(true);
    expect(told).toEqual([{ type: 'granted', id: 's', key: 'k2', lease: { token: 2, expiresAt: 103 } }]);
    expect(m.waiters('s', 3).map((w) => w.key)).toEqual(['k3']);
    expect(m.release('s', 'k2', 4)).toBe(true);
    expect(told.slice(1)).toEqual([{ type: 'granted', id: 's', key: 'k3', lease: { token: 3, expiresAt: 104 } }]);
    expect([...m.holders('s', 4).keys()]).toEqual(['k3']);
  });

  it('a 2-permit head is overtaken neither by a later 1-permit waiter nor by a seed post', () => {
    const { m, told } = machine(2);
    expect(m.post('s', 'h1', 100, 0, 0)).toEqual({ token: 1, expiresAt: 100 });
    expect(m.acquire('s', req('k1', 2), 0)).toEqual({ state: 'queued', position: 0 });
    // One slot is free, but the head needs two.
    expect(m.acquire('s', req('k2', 1), 0)).toEqual({ state: 'queued', position: 1 });
    expect(m.acquire('s', req('k3', 1), 0, true)).toEqual({ state: 'unavailable' });
    expect(m.post('s', 'h2', 100, 0, 0)).toBeUndefined();
    expect(m.read('s', 0)).toEqual({ n: 2, active: 1 });
    expect(told).toEqual([]);
    // The seed holder goes: the head takes both slots, the 1-permit waiter still waits.
    expect(m.close('s', 'h1', 5)).toBe(true);
    expect(told).toEqual([{ type: 'granted', id: 's', key: 'k1', lease: { token: 2, expiresAt: 105, permits: 2 } }]);
    expect([...m.holders('s', 5)]).toEqual([['k1', { token: 2, expiresAt: 105, permits: 2 }]]);
    expect(m.read('s', 5)).toEqual({ n: 2, active: 2 });
    expect(m.waiters('s', 5).map((w) => w.key)).toEqual(['k2']);
    m.release('s', 'k1', 6);
    expect(told.slice(1)).toEqual([{ type: 'granted', id: 's', key: 'k2', lease: { token: 3, expiresAt: 106 } }]);
  });

  it('a waiter whose deadline passes ends with timeout and leaves nothing behind', () => {
    const { m, told } = machine(1);
    m.acquire('s', req('k1'), 0); // holds until 100
    expect(m.acquire('s', req('k2', 1, 50), 0)).toEqual({ state: 'queued', position: 0 });
    expect(m.nextExpiry()).toBe(50);
    m.expire(50);
    expect(told).toEqual([{ type: 'ended', id: 's', key: 'k2', reason: 'timeout' }]);
    expect(m.waiters('s', 50)).toEqual([]);
    expect(m.nextExpiry()).toBe(100); // only the lease
    // Its slot never comes: the holder's release and expiry tell it nothing more.
    expect(m.release('s', 'k2', 60)).toBe(false);
    m.release('s', 'k1', 60);
    m.expire(200);
    expect(told).toHaveLength(1);
    expect(m.read('s', 200)).toEqual({ n: 1, active: 0 });
    expect(m.nextExpiry()).toBeUndefined();
  });

  it('releasing a queued key cancels its wait; the waiters behind it move up', () => {
    const { m, told } = machine(1);
    m.acquire('s', req('k1'), 0);
    m.acquire('s', req('k2'), 0);
    m.acquire('s', req('k3'), 0);
    expect(m.release('s', 'k2', 1)).toBe(true);
    expect(told).toEqual([{ type: 'ended', id: 's', key: 'k2', reason: 'cancelled' }]);
    expect(m.waiters('s', 1).map((w) => w.key)).toEqual(['k3']);
    expect(m.release('s', 'k2', 1)).toBe(false);
    m.release('s', 'k1', 2);
    expect(told.slice(1)).toEqual([{ type: 'granted', id: 's', key: 'k3', lease: { token: 2, expiresAt: 102 } }]);
  });

  it('a merge that replaces our copy gives the slots it freed to the waiters at once', () => {
    const { m, told } = machine(1);
    m.acquire('s', req('k1'), 0);
    m.acquire('s', req('k2'), 0);
    m.merge('s', { n: 1, lastToken: 50, holders: [] }, 1);
    expect(told).toEqual([{ type: 'granted', id: 's', key: 'k2', lease: { token: 51, expiresAt: 101 } }]);
    expect(m.nextExpiry()).toBe(101);
  });

  it('a merge under another n ends the waiters for more permits than it has, and serves the rest', () => {
    const { m, told } = machine(3);
    m.acquire('s', req('a'), 0);
    m.acquire('s', req('b', 3), 0);
    m.acquire('s', req('c'), 0);
    m.merge('s', { n: 2, lastToken: 50, holders: [] }, 1);
    expect(told).toEqual([
      { type: 'ended', id: 's', key: 'b', reason: 'moved' },
      { type: 'granted', id: 's', key: 'c', lease: { token: 51, expiresAt: 101 } },
    ]);
    expect(m.waiters('s', 1)).toEqual([]);
  });

  it('setLimit: raising n lets waiters in; lowering it revokes nobody, grants wait until fewer than n hold, and a waiter for more than n ends', () => {
    const { m, told } = machine(2);
    m.acquire('s', req('a'), 0);
    m.acquire('s', req('b'), 0);
    m.acquire('s', req('c'), 0);
    m.setLimit('s', 4, 1); // c fits (the change took token 3)
    expect(told).toEqual([{ type: 'granted', id: 's', key: 'c', lease: { token: 4, expiresAt: 101 } }]);
    expect(m.acquire('s', req('big', 3), 1)).toEqual({ state: 'queued', position: 0 });
    m.setLimit('s', 1, 2); // 3 hold, nobody is revoked; big can never fit n=1
    expect(told.slice(1)).toEqual([{ type: 'ended', id: 's', key: 'big', reason: 'limit' }]);
    expect(m.read('s', 2)).toEqual({ n: 1, active: 3 });
    expect(m.renew('s', 'a', 100, 2)).toBeDefined(); // a holder keeps renewing above the new n
    m.acquire('s', req('d'), 3);
    m.release('s', 'a', 4);
    m.release('s', 'b', 4);
    expect(told.length).toBe(2); // one still holds: d waits for fewer than 1
    // A handoff and a restore carry the slots held above the lowered n.
    const state = m.snapshot('s', 4);
    expect(state).toEqual({ n: 1, lastToken: 5, holders: [['c', 97, 4]], waiters: [['d', 'c1', 1, 100, null]] });
    m.release('s', 'c', 5);
    expect(told.slice(2)).toEqual([{ type: 'granted', id: 's', key: 'd', lease: { token: 6, expiresAt: 105 } }]);
    const next = new Semaphores({ max: 10 });
    next.merge('s', { n: 1, lastToken: 9, holders: [['x', 50, 8], ['y', 50, 9]], cap: 2 }, 0);
    expect(next.read('s', 0)).toEqual({ n: 1, active: 2 });
    expect(() => new Semaphores({ max: 10 }).merge('s', { n: 1, lastToken: 9, holders: [['x', 50, 8], ['y', 50, 9]] }, 0)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    const restored = new Semaphores({ max: 10 });
    restored.restore('s', { n: 1, lastToken: 9, cap: 2, leases: [['x', 50, 8], ['y', 50, 9]] }, 0);
    expect(restored.post('s', 'z', 10, 0, 0)).toBeUndefined();
  });

  it('a handoff carries the queue: the new owner keeps its order, and a waiter asking again there keeps its place', () => {
    const { m, told } = machine(1);
    m.acquire('s', req('h'), 0);
    m.acquire('s', req('w1'), 0);
    m.acquire('s', req('w2', 1, 50), 0);
    const state = m.snapshot('s', 10);
    expect(state?.waiters).toEqual([['w1', 'c1', 1, 100, null], ['w2', 'c1', 1, 100, 40]]);
    m.handedOver('s');
    expect(told.map((o) => (o.type === 'ended' ? `${o.key} ${o.reason}` : o.key))).toEqual(['w1 moved', 'w2 moved']);
    const heirTold: WaiterOutcome[] = [];
    const next = new Semaphores({ max: 10, base: () => 0, onWaiter: (o) => heirTold.push(o) });
    next.merge('s', state as SemaphoreSnapshot, 0);
    // w2 asks again first; it keeps its place behind w1, with its new deadline.
    expect(next.acquire('s', req('w2', 1, 500), 1)).toEqual({ state: 'queued', position: 1 });
    expect(next.acquire('s', req('w1'), 2)).toEqual({ state: 'queued', position: 0 });
    expect(next.acquire('s', req('w3'), 3)).toEqual({ state: 'queued', position: 2 });
    next.release('s', 'h', 4);
    expect(heirTold.map((o) => (o.type === 'granted' ? o.key : ''))).toEqual(['w1']);
  });
});
