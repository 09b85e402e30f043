// The handoff's ordering rule: a release lifts the heir's lock-delay on every key the sender owned,
// so no message may carry a release while a state it covers is still on its way. Driven here with
// a fake kernel whose calls the test answers by hand, in the order fuzz seed 797 found: the leaver
// sends its states, its own delay is then cut short (which re-sends the release), and its ring is
// gone (it left) before anything is answered.
import { describe, expect, it } from 'vitest';
import type { View } from '../lib/core/view.js';
import { Handoff, handoffBatchBytesMax, parseHandoff, type HandoffHost, type HandoffMessage } from '../lib/dsm/handoff.js';
import { SemaphoreStore } from '../lib/dsm/semaphores.js';
import type { NetKernel } from '../lib/kernel/net-kernel.js';
import { VirtualClock } from '../sim/clock/virtual-clock.js';

interface Sent { to: string; body: HandoffMessage; answer: (reply: unknown) => void; fail: (err: Error) => void }

function member(id: string): View['members'][number] {
  return { id, address: `mem://${id}`, weight: 1, incarnation: `${id}-1` };
}

function world(ids: string[]) {
  const clock = new VirtualClock();
  const sent: Sent[] = [];
  const kernel = {
    self: { id: 'a', address: 'mem://a' },
    env: { clock },
    call: (to: { node: { id: string } }, _event: string, body: HandoffMessage) => new Promise((answer, fail) => sent.push({ to: to.node.id, body, answer, fail })),
  } as unknown as NetKernel;
  const store = new SemaphoreStore(clock);
  for (const id of ids) {
    store.create(id, 2);
    store.post(id, `c-${id}`, 5000, clock.now());
  }
  const state = { owner: 'b', delayMs: 60_000, released: [] as string[] };
  const view7: View = { cluster: 'k', number: 7, members: [member('b'), member('c')], removed: [] };
  const host: HandoffHost = {
    kernel, store, name: () => 'dsm', view: () => view7,
    owner: () => state.owner, serving: () => false,
    release: (from) => void state.released.push(from), releaseKey: () => undefined,
    heldMs: () => 0, remainingDelayMs: () => state.delayMs, synced: () => Promise.resolve(), settled: () => undefined, retryMs: 1000,
  };
  const handoff = new Handoff(host);
  const view6: View = { cluster: 'k', number: 6, members: [member('a'), member('b'), member('c')], removed: [] };
  return { clock, sent, store, state, host, handoff, view6, view7 };
}

/** Every id a message with `last` set must carry: what `a` still holds for `b`. */
function held(store: SemaphoreStore): string[] {
  return [...store.ids()].sort();
}

describe('handoff', () => {
  it('never lets a release overtake the states it covers (fuzz seed 797)', async () => {
    const w = world(['sem-0', 'sem-2']);
    w.handoff.onView(w.view7, w.view6); // `a` left: its keys go to `b`; `c` is owed a release
    const toB = w.sent.filter((s) => s.to === 'b');
    expect(toB).toHaveLength(1);
    expect(toB[0]?.body.last).toBe(true);
    expect(toB[0]?.body.items.map(([id]) => id).sort()).toEqual(['sem-0', 'sem-2']);
    // `c` took nothing from `a` but is owed a release; once it went through with a delay still to
    // run, nothing more goes to `c` until that delay is cut short.
    const toC = w.sent.filter((s) => s.to === 'c');
    expect(toC.map((s) => [s.body.last, s.body.remainingMs, s.body.items.length])).toEqual([[true, 60_000, 0]]);
    toC[0]?.answer({ taken: [] });
    await w.clock.advance(5000);
    expect(w.sent.filter((s) => s.to === 'c')).toHaveLength(1);
    // A release from elsewhere cuts `a`'s own delay: it must not send `b` a release that overtakes
    // the states still in flight, and its ring is gone (it left).
    w.state.delayMs = 0;
    w.state.owner = '';
    await w.handoff.receive({ cluster: 'k', number: 6, remainingMs: 0, last: true, items: [] }, 'c');
    expect(w.sent.filter((s) => s.to === 'b')).toHaveLength(1);
    // The first call times out: the retry still carries every state with its release.
    toB[0]?.fail(new Error('timed out'));
    await w.clock.advance(1000);
    const retry = w.sent.filter((s) => s.to === 'b')[1];
    expect(retry?.body.last).toBe(true);
    expect(retry?.body.remainingMs).toBe(0);
    expect(retry?.body.items.map(([id]) => id).sort()).toEqual(held(w.store));
    // ...and `c` hears the shorter delay.
    expect(w.sent.filter((s) => s.to === 'c').map((s) => s.body.remainingMs)).toEqual([60_000, 0]);
    // Taken: the states are handed over, and nothing more goes to `b`.
    retry?.answer({ taken: ['sem-0', 'sem-2'] });
    await w.clock.advance(5000);
    expect(held(w.store)).toEqual([]);
    expect(w.sent.filter((s) => s.to === 'b')).toHaveLength(2);
    expect(w.handoff.sending()).toBe(false);
  });

  it('sends more states than fit in one message with the release on the last only', async () => {
    const ids = Array.from({ length: 600 }, (_, i) => `s${i}`);
    const w = world(ids);
    w.state.delayMs = 0;
    w.handoff.onView(w.view7, w.view6);
    const first = w.sent.filter((s) => s.to === 'b');
    expect(first).toHaveLength(1);
    expect(first[0]?.body.last).toBe(false);
    expect(first[0]?.body.items).toHaveLength(512);
    first[0]?.answer({ taken: first[0].body.items.map(([id]) => id) });
    await w.clock.advance(1);
    const second = w.sent.filter((s) => s.to === 'b')[1];
    expect(second?.body.last).toBe(true);
    expect(second?.body.items).toHaveLength(88);
  });

  it('cuts a batch of big states short by its bytes, so no message outgrows a frame, and carries each queue with its semaphore', async () => {
    // 100 semaphores of 100 holders each: about 0.5 MB of states, more than a frame's 1 MiB would
    // take in one message with longer names, so they go in several.
    const ids = Array.from({ length: 100 }, (_, i) => `big${i}`);
    const w = world([]);
    const clock = w.clock;
    for (const id of ids) {
      w.store.create(id, 100);
      for (let h = 0; h < 100; h++) w.store.post(id, `holder-with-a-long-name-${h}`, 60_000, clock.now());
    }
    w.store.acquire('big0', { key: 'w1', caller: 'x', permits: 1, leaseMs: 1000, deadline: Infinity }, false);
    w.store.acquire('big0', { key: 'w2', caller: 'y', permits: 2, leaseMs: 1000, deadline: clock.now() + 5000 }, false);
    w.state.delayMs = 0;
    w.handoff.onView(w.view7, w.view6);
    const bodies: HandoffMessage[] = [];
    for (let round = 0; round < 10; round++) {
      const next = w.sent.filter((s) => s.to === 'b')[round];
      if (next === undefined) break;
      bodies.push(next.body);
      next.answer({ taken: next.body.items.map(([id]) => id) });
      await clock.advance(1);
    }
    expect(bodies.length).toBeGreaterThan(1);
    for (const b of bodies) expect(JSON.stringify(b).length).toBeLessThan(handoffBatchBytesMax + 8192);
    expect(bodies.flatMap((b) => b.items.map(([id]) => id)).sort()).toEqual([...ids].sort());
    expect(bodies.at(-1)?.last).toBe(true);
    const big0 = bodies.flatMap((b) => b.items).find(([id]) => id === 'big0')?.[1];
    expect(big0?.waiters).toEqual([['w1', 'x', 1, 1000, null], ['w2', 'y', 2, 1000, 5000]]);
    // The parsed message keeps them, and a new owner's queue takes them in order.
    const parsed = parseHandoff(JSON.parse(JSON.stringify(bodies.find((b) => b.items.some(([id]) => id === 'big0')))));
    const heir = new SemaphoreStore(new VirtualClock());
    for (const [id, state] of parsed.items) heir.install(id, state);
    expect(heir.waiters('big0').map((x) => [x.key, x.permits])).toEqual([['w1', 1], ['w2', 2]]);
  });

  it('a receiver lifts its delay only on a last message', async () => {
    const w = world([]);
    w.state.owner = 'a';
    await w.handoff.receive({ cluster: 'k', number: 7, remainingMs: 0, last: false, items: [] }, 'b');
    expect(w.state.released).toEqual([]);
    await w.handoff.receive({ cluster: 'k', number: 7, remainingMs: 0, last: true, items: [] }, 'b');
    expect(w.state.released).toEqual(['b']);
  });

  it('a receiver answers a last message only once its release is stored, and not at all when storing it failed', async () => {
    const w = world([]);
    w.state.owner = 'a';
    const saves: { done: () => void; fail: (e: Error) => void }[] = [];
    const stored = (): Promise<void> => new Promise((done, fail) => saves.push({ done, fail }));
    const handoff = new Handoff({ ...w.host, release: stored });
    const last: HandoffMessage = { cluster: 'k', number: 7, remainingMs: 0, last: true, items: [] };
    let answered = false;
    const first = handoff.receive(last, 'b').then((r) => { answered = true; return r; });
    await w.clock.advance(0);
    expect(saves).toHaveLength(1);
    expect(answered).toBe(false); // the sender would forget its release, which a crash now would lose
    saves[0]?.done();
    await expect(first).resolves.toEqual({ taken: [] });
    const second = handoff.receive(last, 'b');
    await w.clock.advance(0);
    saves[1]?.fail(new Error('disk full'));
    await expect(second).rejects.toThrow('disk full'); // unanswered: the sender sends it again
  });
});
