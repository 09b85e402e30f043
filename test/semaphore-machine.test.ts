// The pure semaphore state machine (lib/core/semaphore.ts) under random commands, against a
// reference model, across a chain of owners: handoffs (snapshot → merge into the next view's
// owner), takeovers without state (the next view's owner after the lock-delay), and restarts from
// what the journal wrote. After every command: no semaphore has more than n holders, the machine
// agrees with the model, the next expiry is the earliest live lease, and every fresh token of a
// semaphore is larger than all its earlier ones, whichever owner granted them.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Semaphores, tokenBase, tokenSpan, type SemaphoreChange, type SemaphoreSnapshot, type StoredSemaphoreState } from '../lib/core/semaphore.js';
import { isClusterluckError } from '../lib/env/errors.js';

const ids = ['a', 'b'];
const holders = ['h1', 'h2', 'h3', 'h4'];
const stretch = 1.0201;

const command = fc.oneof(
  { weight: 2, arbitrary: fc.record({ op: fc.constant('create' as const), id: fc.constantFrom(...ids), n: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 5, arbitrary: fc.record({ op: fc.constant('post' as const), id: fc.constantFrom(...ids), holder: fc.constantFrom(...holders), timeout: fc.integer({ min: 1, max: 100 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('close' as const), id: fc.constantFrom(...ids), holder: fc.constantFrom(...holders) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('destroy' as const), id: fc.constantFrom(...ids) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 60 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('handoff' as const), views: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('takeover' as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('restart' as const) }) },
);
type Command = typeof command extends fc.Arbitrary<infer C> ? C : never;

interface ModelSem {
  n: number;
  holders: Map<string, { until: number; token: number }>;
}

/** One owner: the machine, its view, and what its journal holds (as DsmJournal keeps it). */
interface Owner {
  machine: Semaphores;
  view: number;
  journal: Map<string, { n: number; lastToken: number; leases: Map<string, [number, number]> }>;
}

/** An owner in `view`; a restarted one keeps its journal (storage outlives the process). */
function owner(view: number, journal: Owner['journal'] = new Map()): Owner {
  const onChange = (c: SemaphoreChange): void => {
    switch (c.type) {
      case 'created': journal.set(c.id, { n: c.n, lastToken: c.lastToken, leases: journal.get(c.id)?.leases ?? new Map() }); break;
      case 'granted': {
        const j = journal.get(c.id);
        if (j === undefined) throw new Error(`grant journaled for ${c.id} before its create`);
        if (c.fresh) j.lastToken = c.lease.token;
        j.leases.set(c.holder, [c.lease.expiresAt, c.lease.token]);
        break;
      }
      case 'released': journal.get(c.id)?.leases.delete(c.holder); break;
      case 'destroyed': journal.delete(c.id); break;
    }
  };
  return { machine: new Semaphores({ max: 100, stretch, onChange }), view, journal };
}

describe('the semaphore state machine', () => {
  it('property: holders never exceed n, it agrees with a model across handoffs, takeovers and restarts, and tokens only grow', () => {
    fc.assert(
      fc.property(fc.array(command, { minLength: 1, maxLength: 60, size: 'max' }), (commands) => {
        let now = 0;
        let o = owner(1);
        const model = new Map<string, ModelSem>();
        /** The largest token granted per semaphore since it was created. */
        const top = new Map<string, number>();
        const expire = (): void => {
          for (const s of model.values()) for (const [h, l] of s.holders) if (l.until <= now) s.holders.delete(h);
        };
        for (const c of commands) {
          switch (c.op) {
            case 'create': {
              expire();
              const s = model.get(c.id);
              let err: unknown;
              try {
                o.machine.create(c.id, c.n, now);
              } catch (e) {
                err = e;
              }
              if (s !== undefined && s.n !== c.n) expect(isClusterluckError(err, 'ALREADY_EXISTS')).toBe(true);
              else expect(err).toBeUndefined();
              if (s === undefined) {
                model.set(c.id, { n: c.n, holders: new Map() });
                top.set(c.id, 0);
              }
              break;
            }
            case 'post': {
              expire();
              const s = model.get(c.id);
              if (s === undefined) {
                expect(() => o.machine.post(c.id, c.holder, c.timeout, now, tokenBase(o.view))).toThrow(/does not exist/);
                break;
              }
              const lease = o.machine.post(c.id, c.holder, c.timeout, now, tokenBase(o.view));
              const held = s.holders.get(c.holder);
              if (held === undefined && s.holders.size >= s.n) {
                expect(lease).toBeUndefined();
                break;
              }
              expect(lease).toBeDefined();
              if (lease === undefined) break;
              expect(lease.expiresAt).toBe(now + c.timeout * stretch);
              if (held !== undefined) expect(lease.token).toBe(held.token);
              else {
                expect(lease.token).toBeGreaterThan(top.get(c.id) ?? 0);
                expect(lease.token).toBeGreaterThanOrEqual(tokenBase(o.view));
                expect(lease.token).toBeLessThan(tokenBase(o.view) + tokenSpan);
                top.set(c.id, lease.token);
              }
              s.holders.set(c.holder, { until: lease.expiresAt, token: lease.token });
              break;
            }
            case 'close': {
              expire();
              const s = model.get(c.id);
              if (s === undefined) expect(() => o.machine.close(c.id, c.holder, now)).toThrow(/does not exist/);
              else expect(o.machine.close(c.id, c.holder, now)).toBe(s.holders.delete(c.holder));
              break;
            }
            case 'destroy':
              o.machine.destroy(c.id, now);
              model.delete(c.id);
              top.delete(c.id);
              break;
            case 'advance':
              now += c.ms;
              if (c.ms % 2 === 0) o.machine.expire(now); // or left for the next command to see
              break;
            case 'handoff': {
              // The next owner, some views later, merges every semaphore's state; the old one forgets it.
              const next = owner(o.view + c.views);
              for (const id of [...o.machine.ids()]) {
                const snap = o.machine.snapshot(id, now);
                if (snap === undefined) continue;
                expect(snap.holders.length).toBeLessThanOrEqual(snap.n);
                next.machine.merge(id, snap, now);
                o.machine.handedOver(id);
              }
              expect(o.machine.size).toBe(0);
              // The receiver keeps each slot remaining·stretch.
              for (const s of model.values()) for (const l of s.holders.values()) if (l.until > now) l.until = now + (l.until - now) * stretch;
              o = next;
              break;
            }
            case 'takeover': {
              // No state: the next view's owner waits out every lease (the lock-delay) and starts empty.
              let last = now;
              for (const s of model.values()) for (const l of s.holders.values()) last = Math.max(last, l.until);
              now = last;
              o = owner(o.view + 1);
              model.clear(); // top stays: tokens of a re-created semaphore must still grow
              break;
            }
            case 'restart': {
              // The same owner, restarted from what its journal holds.
              const next = owner(o.view, o.journal);
              for (const [id, j] of [...o.journal]) {
                const state: StoredSemaphoreState = { n: j.n, lastToken: j.lastToken, leases: [...j.leases].map(([h, [at, token]]) => [h, at, token] as const) };
                next.machine.restore(id, state, now);
              }
              o = next;
              break;
            }
          }
          // After every command: the machine agrees with the model, holders ≤ n, the next expiry is right.
          expire();
          let soonest = Infinity;
          for (const id of ids) {
            const s = model.get(id);
            if (s === undefined) {
              expect(() => o.machine.read(id, now)).toThrow(/does not exist/);
              continue;
            }
            const info = o.machine.read(id, now);
            expect(info).toEqual({ n: s.n, active: s.holders.size });
            expect(info.active).toBeLessThanOrEqual(info.n);
            const hs = o.machine.holders(id, now);
            for (const [h, l] of s.holders) {
              expect(hs.get(h)).toEqual({ token: l.token, expiresAt: l.until });
              soonest = Math.min(soonest, l.until);
            }
          }
          expect(o.machine.nextExpiry() ?? Infinity).toBe(soonest);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('a restore or merge with more holders than n is refused, and nothing is installed', () => {
    const m = new Semaphores({ max: 10 });
    expect(() => m.restore('s', { n: 1, lastToken: 2, leases: [['a', 100, 1], ['b', 100, 2]] }, 0)).toThrow(expect.objectContaining({ code: 'STORAGE_CORRUPT' }));
    expect(() => m.merge('s', { n: 1, lastToken: 2, holders: [['a', 100, 1], ['b', 100, 2]] }, 0)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => m.read('s', 0)).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
    // A stored token above the stored counter cannot come from this machine either.
    expect(() => m.restore('s', { n: 2, lastToken: 1, leases: [['a', 100, 5]] }, 0)).toThrow(expect.objectContaining({ code: 'STORAGE_CORRUPT' }));
  });

  it('a lease of several permits counts them all: in a handoff, a restore and the checks of both', () => {
    const m = new Semaphores({ max: 10 });
    m.create('s', 3, 0);
    const w = { key: 'k', caller: 'c', permits: 2, leaseMs: 100, deadline: Infinity };
    expect(m.acquire('s', w, 0)).toMatchObject({ state: 'granted', lease: { permits: 2 } });
    expect(m.read('s', 0)).toEqual({ n: 3, active: 2 });
    const state = m.snapshot('s', 10);
    expect(state?.holders).toEqual([['k', 90, 1, 2]]);
    const next = new Semaphores({ max: 10 });
    next.merge('s', state as SemaphoreSnapshot, 0);
    expect(next.read('s', 0)).toEqual({ n: 3, active: 2 });
    expect(next.post('s', 'p', 100, 0, 0)).toBeDefined();
    expect(next.post('s', 'q', 100, 0, 0)).toBeUndefined();
    const restored = new Semaphores({ max: 10 });
    restored.restore('s', { n: 3, lastToken: 2, leases: [['k', 100, 1, 2], ['p', 100, 2]] }, 0);
    expect(restored.read('s', 0)).toEqual({ n: 3, active: 3 });
    expect(() => new Semaphores({ max: 10 }).restore('s', { n: 3, lastToken: 2, leases: [['k', 100, 1, 3], ['p', 100, 2]] }, 0)).toThrow(expect.objectContaining({ code: 'STORAGE_CORRUPT' }));
    expect(() => new Semaphores({ max: 10 }).merge('s', { n: 2, lastToken: 1, holders: [['k', 100, 1, 3]] }, 0)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('a close naming a post attempt releases only the lease that attempt granted or last refreshed (fuzz seed 1638: a late defensive release took a later grant)', () => {
    const m = new Semaphores({ max: 10 });
    m.create('s', 1, 0);
    // Attempt A got no answer (or a full semaphore); attempt B of the same holder was granted.
    expect(m.post('s', 'h', 100, 0, tokenBase(1), 'B')).toBeDefined();
    expect(m.close('s', 'h', 1, 'A')).toBe(false); // A's undo arrives late: B's lease stays
    expect(m.read('s', 1)).toEqual({ n: 1, active: 1 });
    expect(m.post('s', 'other', 100, 1, tokenBase(1))).toBeUndefined();
    // A refresh by attempt C makes C's undo the one that counts, not B's.
    m.post('s', 'h', 100, 2, tokenBase(1), 'C');
    expect(m.close('s', 'h', 3, 'B')).toBe(false);
    expect(m.close('s', 'h', 3, 'C')).toBe(true);
    expect(m.read('s', 3)).toEqual({ n: 1, active: 0 });
    // A lease whose attempt is not known (handed over, restored, or posted without one) is released only by a plain close.
    m.merge('s', { n: 1, lastToken: tokenBase(2), holders: [['h', 50, tokenBase(2)]] }, 3);
    expect(m.close('s', 'h', 4, 'D')).toBe(false);
    expect(m.close('s', 'h', 4)).toBe(true);
  });

  it('a merge keeps the larger token counter: a stale handoff cannot make tokens go back', () => {
    const m = new Semaphores({ max: 10 });
    m.create('s', 1, 0);
    const first = m.post('s', 'a', 100, 0, tokenBase(3));
    m.close('s', 'a', 0);
    m.merge('s', { n: 1, lastToken: tokenBase(2) + 7, holders: [] }, 0);
    const second = m.post('s', 'b', 100, 0, tokenBase(3));
    expect(second?.token).toBe((first?.token ?? NaN) + 1);
  });

  it('a stale copy handed over after the fresh one (a former owner restored from its disk) changes nothing; with the same last grant each holder keeps its later deadline (fuzz seed 1898)', () => {
    const m = new Semaphores({ max: 10 });
    m.merge('s', { n: 2, lastToken: 12, holders: [['a', 1000, 11], ['b', 500, 12]] }, 0);
    m.merge('s', { n: 2, lastToken: 9, holders: [] }, 0);
    expect(m.read('s', 0)).toEqual({ n: 2, active: 2 });
    expect(m.post('s', 'c', 100, 0, 0)).toBeUndefined();
    m.merge('s', { n: 2, lastToken: 12, holders: [['b', 800, 12]] }, 0);
    expect(m.holders('s', 0).get('b')?.expiresAt).toBe(800);
    expect(m.holders('s', 0).get('a')?.expiresAt).toBe(1000);
    // A newer copy replaces ours.
    m.merge('s', { n: 2, lastToken: 13, holders: [['d', 300, 13]] }, 0);
    expect([...m.holders('s', 0).keys()]).toEqual(['d']);
  });

  it('a view that granted tokenSpan tokens of one semaphore grants no more (the next view\'s tokens stay larger)', () => {
    const m = new Semaphores({ max: 10 });
    m.merge('s', { n: 1, lastToken: tokenBase(5) + tokenSpan - 1, holders: [] }, 0);
    expect(() => m.post('s', 'a', 100, 0, tokenBase(5))).toThrow(expect.objectContaining({ code: 'INTERNAL' }));
    expect(m.post('s', 'a', 100, 0, tokenBase(6))?.token).toBe(tokenBase(6));
  });
});
