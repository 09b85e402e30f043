// Browser tabs as cluster members: three pages of Debian's Chromium, each in its own browser
// context (own IndexedDB, own WebRTC stack), and one Node member form one cluster over WebRTC,
// introduced by a PeerJS server on 127.0.0.1 that the test starts and, later, stops. The page is
// test/pages/mesh.ts (createBrowserNode from the browser entry), built once and served statically.
import type { Browser, Page } from 'playwright';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { HashRing } from '../lib/core/hash-ring.js';
import { detectionBoundMs } from '../lib/gossip/failure-detector.js';
import { createWebRtcCluster, type WebRtcClusterNode } from '../lib/node.js';
import type { WebSocketLike } from '../lib/transports/webrtc/signal-peerjs.js';
import { buildPages, launchChromium, openPage, startPeerServer, type BuiltPages, type PeerjsServer } from './support/chromium-pages.js';
import { nodeWrtc } from './webrtc-node.js';

/** Short timings, so crash detection takes seconds: the bound below is computed from them. */
const gossip = { intervalMs: 150, probeIntervalMs: 300, suspicionMult: 2, autoRemoveAfterMs: 600 };
/** Time the test's own polling (page round trips every 100 ms) may add to a measured bound. */
const pollSlackMs = 500;

let pages: BuiltPages;
let peerjs: PeerjsServer;
let browser: Browser;
let n: WebRtcClusterNode;

type Mesh = Record<string, (...args: unknown[]) => unknown>;
/** Calls `window.mesh[method](...args)` in a page. */
function call<T = unknown>(page: Page, method: string, ...args: unknown[]): Promise<T> {
  return page.evaluate(([m, a]) => (globalThis as unknown as { mesh: Mesh }).mesh[m as string]?.(...(a as unknown[])), [method, args] as const) as Promise<T>;
}

const tab = (id: string): Promise<Page> => openPage(browser, pages.url('test/pages/mesh.html'), id);

/** A key whose owner on the ring is `owner` (and on `also`, when given). */
function keyOwnedBy(owner: string, prefix: string, also?: HashRing): string {
  for (let i = 0; i < 1000; i++) {
    const key = `${prefix}${i}`;
    if (n.gossip.find(key).id === owner && (also === undefined || also.find(key).id === owner)) return key;
  }
  throw new Error(`no key of ${owner}`);
}

/** The Node member posts as holder 'n': 'granted', or the error code. */
const nodePost = (id: string, retries: number): Promise<string> =>
  (n.dsm.post(id, 'n', 60_000, undefined, 5000, retries) as Promise<number>).then(() => 'granted', (e: { code: string }) => e.code);

const ringOf = (node: WebRtcClusterNode): string[] => node.gossip.ring().nodes().map((m) => m.id).sort();

beforeAll(async () => {
  pages = await buildPages(['test/pages/mesh.html']);
  peerjs = await startPeerServer();
  browser = await launchChromium();
  n = await createWebRtcCluster({
    id: 'n', cookie: 'mesh', wrtc: nodeWrtc, gossip, logLevel: 'error', dsm: { minWaitTimeout: 20, maxWaitTimeout: 100 },
    signaling: { host: '127.0.0.1', port: peerjs.port, path: '/', WebSocket: WebSocket as unknown as new (url: string) => WebSocketLike },
  });
}, 60_000);

afterAll(async () => {
  await n?.stop({ leave: false });
  await browser?.close();
  if (peerjs?.running) await peerjs.stop();
  await pages?.close();
}, 30_000); // a Node member, a browser with four contexts and a PeerJS server: more than the default 10 s under load

describe('three Chromium tabs and a Node process in one cluster over WebRTC', () => {
  const tabs = new Map<string, Page>();
  const page = (id: string): Page => tabs.get(id) as Page;
  /** The ring once all four have met (t3 is still on it). */
  let formed: HashRing | undefined;

  it('form one ring through the PeerJS server, and of four racing posts on n = 2 exactly two win; a close lets a waiter in', async () => {
    const ids = ['t1', 't2', 't3'];
    for (const id of ids) tabs.set(id, await tab(id));
    await Promise.all(ids.map((id) => call(page(id), 'start', { id, port: peerjs.port, seed: 'n', gossip })));
    const all = ['n', 't1', 't2', 't3'];
    await expect.poll(async () => [ringOf(n), ...await Promise.all(ids.map((id) => call(page(id), 'ring')))], { timeout: 15_000 })
      .toEqual([all, all, all, all]);
    formed = n.gossip.ring();

    await n.dsm.create('race', 2, undefined, 5000);
    const posts = await Promise.all([
      nodePost('race', 0),
      ...ids.map((id) => call<string>(page(id), 'post', 'race', id, 60_000, 0)),
    ]);
    const holders = all.filter((_, i) => posts[i] === 'granted');
    expect(holders).toHaveLength(2);
    expect(posts.filter((p) => p !== 'granted')).toEqual(['SEMAPHORE_FULL', 'SEMAPHORE_FULL']);
    expect(await n.dsm.read('race', undefined, 5000)).toEqual({ n: 2, active: 2 });

    const waiter = all.find((id) => !holders.includes(id)) as string;
    const waiting = waiter === 'n'
      ? nodePost('race', 200)
      : call<string>(page(waiter), 'post', 'race', waiter, 60_000, 200);
    const [first] = holders as [string];
    if (first === 'n') await n.dsm.close('race', 'n', undefined, 5000);
    else await call(page(first), 'close', 'race', first);
    expect(await waiting).toBe('granted');
    expect(await n.dsm.read('race', undefined, 5000)).toEqual({ n: 2, active: 2 });
  }, 40_000);

  it('a tab closed abruptly loses its lease when it expires on the owner, and leaves every ring within the detection bound', async () => {
    const leaseMs = 3000;
    const lease = keyOwnedBy('n', 'lease-');
    await n.dsm.create(lease, 1, undefined, 5000);
    expect(await call(page('t3'), 'post', lease, 't3', leaseMs, 0)).toBe('granted');
    const granted = performance.now();
    // Crash the renderer: no pagehide, no leave, no close of anything.
    const cdp = await page('t3').context().newCDPSession(page('t3'));
    void cdp.send('Page.crash').catch(() => undefined);
    const crashed = performance.now();
    expect(await n.dsm.read(lease, undefined, 5000)).toEqual({ n: 1, active: 1 });

    const bound = detectionBoundMs(4, gossip.suspicionMult, gossip.probeIntervalMs) + gossip.autoRemoveAfterMs;
    const rest = ['n', 't1', 't2'];
    let leaseGone: number | undefined;
    let removed: number | undefined;
    while ((leaseGone === undefined || removed === undefined) && performance.now() - crashed < bound + leaseMs + 5000) {
      if (leaseGone === undefined && (await n.dsm.read(lease, undefined, 5000))?.active === 0) leaseGone = performance.now();
      const rings = [ringOf(n), await call<string[]>(page('t1'), 'ring'), await call<string[]>(page('t2'), 'ring')];
      if (removed === undefined && rings.every((r) => r.join() === rest.join())) removed = performance.now();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(leaseGone, 'the lease expired').toBeDefined();
    expect((leaseGone as number) - granted).toBeLessThan(leaseMs + pollSlackMs);
    expect(removed, 'the crashed tab left every ring').toBeDefined();
    expect((removed as number) - crashed).toBeLessThan(bound + pollSlackMs);
    await page('t3').context().close();
    tabs.delete('t3');
  }, 40_000);

  it('a tab leaves the view on pagehide, and once reloaded rejoins through a member and serves its semaphore table from IndexedDB', async () => {
    const kept = keyOwnedBy('t1', 'kept-');
    await call(page('t1'), 'create', kept, 3);
    expect(await call(page('t1'), 'post', kept, 'holder', 60_000, 0)).toBe('granted');
    // The page hides (as when it is closed or navigated away): the node leaves the ring, and the
    // others see `left` (a vanished tab would read suspect or down first). Dispatched here rather
    // than left to the reload, where the leave notices may or may not get out before the page dies.
    const before = n.gossip.view()?.number ?? 0;
    await page('t1').evaluate(() => globalThis.dispatchEvent(new PageTransitionEvent('pagehide')));
    await expect.poll(() => [n.gossip.inspect().members.find((m) => m.node.id === 't1')?.status], { timeout: 3000 }).toEqual(['left']);
    // One view change, decided by a majority (the leaver's vote counts), and the others agree on it.
    expect(ringOf(n)).not.toContain('t1');
    expect(n.gossip.view()?.number).toBe(before + 1);
    await expect.poll(() => call(page('t2'), 'view'), { timeout: 3000 }).toEqual({ number: before + 1, members: ['n', 't2'] });
    await page('t1').reload();
    await page('t1').waitForFunction(() => document.title === 'ready', undefined, { timeout: 20_000 });
    // Its stored view no longer holds it, so it serves nothing alone: it rejoins through a member
    // (a view change adds it back), owns `kept` again, and what it reads is what IndexedDB kept.
    await call(page('t1'), 'start', { id: 't1', port: peerjs.port, gossip, seed: 'n' });
    expect(await call(page('t1'), 'ring')).toContain('t1');
    // The members that owned its keys meanwhile hand them back (over links the reloaded tab is
    // still making); until then it waits rather than serve what it may not have.
    const rejoined = performance.now();
    await expect.poll(() => call(page('t1'), 'read', kept).catch((e: Error) => e.message), { timeout: 15_000, interval: 200 }).toEqual({ n: 3, active: 1 });
    console.log(`reloaded tab served its semaphore ${Math.round(performance.now() - rejoined)} ms after rejoining`);
  }, 40_000);

  it('after the PeerJS server stops, a member linked to one other links to the rest through the cluster, and re-makes a broken link the same way', async () => {
    const t4 = await tab('t4');
    tabs.set('t4', t4);
    await call(t4, 'start', { id: 't4', port: peerjs.port, gossip });
    const seed = await call(t4, 'connect', 'n');
    await peerjs.stop();
    expect(await call(t4, 'linked')).toEqual(['n']);
    await call(t4, 'meet', seed);
    // t1 rejoined in the test before, so the view is n, t1, t2 when t4 meets it.
    await expect.poll(() => call(t4, 'linked'), { timeout: 15_000 }).toEqual(['n', 't1', 't2']);
    const members = ['n', 't1', 't2', 't4'];
    await expect.poll(async () => [ringOf(n), await call(page('t2'), 'ring'), await call(t4, 'ring')], { timeout: 15_000 })
      .toEqual([members, members, members]);
    const before = await call<{ delivered: number; sentViaCluster: number }>(t4, 'stats');
    expect(before.delivered).toBeGreaterThan(0);
    expect(before.sentViaCluster).toBeGreaterThan(0);
    // Traffic over the new link: a semaphore t2 owns, created and held from t4.
    const id = keyOwnedBy('t2', 'grown-');
    await call(t4, 'create', id, 1);
    expect(await call(t4, 'post', id, 't4', 60_000, 0)).toBe('granted');
    expect(await call(page('t2'), 'read', id)).toEqual({ n: 1, active: 1 });

    // Break the link t4–t2: it comes back, and with the PeerJS server gone only the cluster can signal it.
    const delivered = async (): Promise<number> =>
      (await call<{ delivered: number }>(t4, 'stats')).delivered + (await call<{ delivered: number }>(page('t2'), 'stats')).delivered;
    const deliveredBefore = await delivered();
    await call(t4, 'disconnect', 't2');
    await expect.poll(async () => (await call<string[]>(t4, 'linked')).includes('t2') && await delivered() > deliveredBefore, { timeout: 15_000 })
      .toBe(true);
    await call(t4, 'close', id, 't4');
    expect(await call(page('t2'), 'read', id)).toEqual({ n: 1, active: 0 });
  }, 40_000);

  // Last: it closes t2 for good. The members are n, t1, t2 and t4 from the test before.
  it('the owner tab closes while another tab holds an n=1 slot: the holder keeps it, nobody else gets it until it is released', async () => {
    const [owner, holder, other] = ['t2', 't1', 't4'] as const;
    const leaseMs = 20_000; // within leaseMsMax (60 s by default), and longer than this test needs
    // A key the owner has had since the cluster formed: a key the crashed t3 left it would still
    // be waiting out its lock-delay (about 63 s), and would be refused as not served yet.
    const id = keyOwnedBy(owner, 'closed-owner-', formed);
    await call(page(holder), 'create', id, 1);
    expect(await call(page(holder), 'post', id, 'hB', leaseMs, 0)).toBe('granted');
    const granted = performance.now();
    expect(await call(page(owner), 'read', id)).toEqual({ n: 1, active: 1 });

    // The owner's tab closes as a user closes it: pagehide, so its node leaves and hands its
    // semaphores to their new owners. The page itself goes once those are acknowledged and the node
    // has stopped (a page that dies before its handoff is out is the crash case, where the new
    // owner waits the lock-delay).
    const before = n.gossip.view()?.number ?? 0;
    await page(owner).evaluate(() => globalThis.dispatchEvent(new PageTransitionEvent('pagehide')));
    const rest = ['n', holder, other].sort();
    const view = { number: before + 1, members: rest };
    const nodeView = (): unknown => {
      const v = n.gossip.view();
      return { number: v?.number, members: v?.members.map((m) => m.id).sort() };
    };
    await expect.poll(async () => [nodeView(), ...await Promise.all([holder, other].map((t) => call(page(t), 'view')))], { timeout: 5000 })
      .toEqual([view, view, view]);
    expect(n.gossip.inspect().members.find((m) => m.node.id === owner)?.status, 'left, not removed as failed').toBe('left');
    // It handed everything over and stopped (its links closed) before the tab goes.
    await expect.poll(() => call(page(owner), 'owned'), { timeout: 10_000 }).toBe(0);
    await expect.poll(() => call(page(owner), 'running'), { timeout: 10_000 }).toBe(false);
    await page(owner).context().close();
    tabs.delete(owner);
    const heir = n.gossip.find(id).id;
    expect(rest).toContain(heir);

    // For a few seconds, single attempts by another tab and by the Node member all find it full,
    // and every remaining member reads the one holder.
    const posts: { who: string; atMs: number; result: string }[] = [];
    const reads: { who: string; info: unknown }[] = [];
    const readers: [string, () => Promise<unknown>][] = [
      ['n', () => n.dsm.read(id, undefined, 5000) as Promise<unknown>], [holder, () => call(page(holder), 'read', id)], [other, () => call(page(other), 'read', id)],
    ];
    const watchMs = 3000;
    const watching = performance.now();
    for (let i = 0; performance.now() - watching < watchMs; i++) {
      const atMs = Math.round(performance.now() - granted);
      posts.push({ who: other, atMs, result: await call<string>(page(other), 'post', id, 'hC', leaseMs, 0) });
      posts.push({ who: 'n', atMs, result: await nodePost(id, 0) });
      const [who, read] = readers[i % readers.length] as [string, () => Promise<unknown>];
      reads.push({ who, info: await read().catch((e: { code?: string }) => e.code) });
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(posts.length).toBeGreaterThanOrEqual(10);
    expect(posts.filter((p) => p.result !== 'SEMAPHORE_FULL'), 'posts that were not refused as full').toEqual([]);
    expect(reads.filter((r) => JSON.stringify(r.info) !== JSON.stringify({ n: 1, active: 1 })), 'reads that were not { n: 1, active: 1 }').toEqual([]);
    // hB's lease has not run out yet, so it is B's close below that frees the slot.
    expect(performance.now() - granted).toBeLessThan(leaseMs);

    await call(page(holder), 'close', id, 'hB');
    expect(await n.dsm.read(id, undefined, 5000)).toEqual({ n: 1, active: 0 });
    expect(await call(page(other), 'post', id, 'hC', leaseMs, 0)).toBe('granted');
    expect(await call(page(holder), 'read', id)).toEqual({ n: 1, active: 1 });
    console.log(`${owner} left; ${heir} took over ${id}; ${posts.length} posts refused as full over ${watchMs} ms`);
    await call(page(other), 'close', id, 'hC');
  }, 40_000);

  it('a tab whose JavaScript stops (as a hidden tab Chrome throttles or freezes) is removed, nobody grants its semaphore while that could double it, and it rejoins', async () => {
    // Headless Chromium does not freeze a visible page (CDP's Page.setWebLifecycleState 'frozen'
    // left its timers running), so the tab's event loop is held by a busy wait instead: no timer,
    // no message, no probe answer runs, as in a frozen tab.
    const [frozen, holder] = ['t4', 't1'] as const;
    const id = keyOwnedBy(frozen, 'frozen-');
    // t4 joined while the others still waited out the lock-delay of the crashed t3, and a release
    // passes the sender's remaining delay on for every key it hands over: wait until t4 serves it.
    await expect.poll(() => call(page(frozen), 'ownership', id), { timeout: 70_000, interval: 500 }).toBe('owner');
    await call(page(holder), 'create', id, 1);
    expect(await call(page(holder), 'post', id, 'h1', 30_000, 0)).toBe('granted');
    const members = (): string[] => n.gossip.view()?.members.map((m) => m.id) ?? [];
    const stallMs = 8000;
    const frozenAt = performance.now();
    const stalled = call(page(frozen), 'stall', stallMs);
    // Its probes go unanswered: the others remove it (a decided view without it).
    await expect.poll(members, { timeout: stallMs - 1000 }).not.toContain(frozen);
    const removedMs = Math.round(performance.now() - frozenAt);
    // Its semaphore's new owner got no handoff: it waits the lock-delay, so nobody else gets the slot.
    const tries = [await nodePost(id, 0), await call<string>(page(holder), 'post', id, 'h2', 30_000, 0)];
    expect(tries.filter((r) => r === 'granted')).toEqual([]);
    await stalled;
    // Awake, it does not grant either (its ownership lease ran out while it was stalled)...
    const woke = await call<string>(page(frozen), 'post', id, 'h4', 30_000, 0);
    expect(woke).not.toBe('granted');
    // ...and it asks back in.
    await expect.poll(members, { timeout: 20_000 }).toContain(frozen);
    console.log(`stalled ${frozen} removed after ${removedMs} ms; refused meanwhile: ${tries.join(', ')}; after waking: ${woke}; back in the view ${Math.round(performance.now() - frozenAt)} ms after it stalled`);
  }, 120_000);
});

describe('two Chromium tabs in one room', () => {
  // Its own PeerJS server: the one above was stopped by an earlier test.
  let server: PeerjsServer | undefined;
  afterAll(async () => {
    if (server?.running) await server.stop();
  });

  it('both started at once without a seed form one cluster (not two), and an n = 1 semaphore has one holder', async () => {
    server = await startPeerServer();
    const { port } = server;
    const [r1, r2] = await Promise.all([tab('r1'), tab('r2')]);
    // Each tab's view as its start resolved: the one that did not hold the room had joined the other's.
    const views = await Promise.all([r1, r2].map(async (p, i) => {
      await call(p, 'start', { id: `r${i + 1}`, port, room: 'two-tabs', gossip });
      return call<{ members: string[] }>(p, 'view');
    }));
    const holding = await Promise.all([r1, r2].map((p) => call<boolean>(p, 'holding')));
    expect(holding.filter(Boolean)).toHaveLength(1);
    expect(views[holding.indexOf(false)]?.members.sort()).toEqual(['r1', 'r2']);
    await expect.poll(async () => Promise.all([r1, r2].map((p) => call(p, 'ring'))), { timeout: 15_000 }).toEqual([['r1', 'r2'], ['r1', 'r2']]);
    await call(r1, 'create', 'room-printer', 1);
    const posts = await Promise.all([call<string>(r1, 'post', 'room-printer', 'h1', 30_000, 0), call<string>(r2, 'post', 'room-printer', 'h2', 30_000, 0)]);
    expect(posts.sort()).toEqual(['SEMAPHORE_FULL', 'granted']);
  }, 40_000);
});
