// The demo page's live mode in Debian's Chromium: three tabs (each its own browser context, so its
// own IndexedDB and WebRTC stack) join the cluster of the Node member and PeerJS server that
// `npm start` runs (demo/live-cluster.ts, started here on 127.0.0.1), take the `lock` semaphore
// in turn (every tab shows the same holder and waiter), and when one tab closes the others show
// the new view. The page is built by Vite (minified) and served statically. Screenshots go to
// test/.screenshots/live/ (git-ignored). No console error is allowed.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLiveCluster, type LiveCluster } from '../demo/live-cluster.js';
import { buildPages, launchChromium, type BuiltPages } from './support/chromium-pages.js';

const shots = join(import.meta.dirname, '.screenshots', 'live');

interface Probe {
  status: string;
  self?: string;
  view: number;
  members: string[];
  holders: Record<string, string[]>;
  waiting: Record<string, string[]>;
  mine: Record<string, string>;
}

let built: BuiltPages;
let browser: Browser;
let cluster: LiveCluster;
const errors: string[] = [];

beforeAll(async () => {
  await mkdir(shots, { recursive: true });
  [built, browser, cluster] = await Promise.all([
    buildPages(['index.html'], join(import.meta.dirname, '..', 'demo'), true), launchChromium(), startLiveCluster({ host: '127.0.0.1' }),
  ]);
}, 60_000);

afterAll(async () => {
  await cluster?.stop(); // first: the Node member leaves through the tabs still there
  await browser?.close();
  await built?.close();
}, 30_000);

async function tab(label: string): Promise<Page> {
  const context = await browser.newContext({ permissions: ['microphone'], viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`${label}: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`${label}: ${e.message}`));
  await page.goto(built.url(`index.html?mode=live&peer=127.0.0.1:${cluster.info.port}&seed=${cluster.info.seed}`));
  await page.waitForFunction(() => (globalThis as unknown as { clusterluckLive?: Probe }).clusterluckLive?.status === 'member', undefined, { timeout: 20_000 });
  return page;
}

const probe = (page: Page): Promise<Probe> => page.evaluate(() => structuredClone((globalThis as unknown as { clusterluckLive: Probe }).clusterluckLive));

/** What each tab shows of `lock`: its holders and waiters (probe), and its lane's head (the DOM). */
async function lockShown(page: Page): Promise<{ holders: string[]; waiting: string[]; head: string }> {
  const p = await probe(page);
  const head = await page.locator('#live-lanes .lane-head').first().innerText();
  return { holders: p.holders['lock'] ?? [], waiting: p.waiting['lock'] ?? [], head: head.replace(/\s+/g, ' ') };
}

const click = (page: Page, semaphore: string, button: 'Acquire' | 'Release' | 'Stop waiting'): Promise<void> =>
  page.locator(`[data-semaphore="${semaphore}"] button`, { hasText: button }).click();

describe('the demo page in live mode', () => {
  it('three tabs join one cluster, take the lock in turn (every tab shows the same holder), and a closed tab leaves the others\' view', async () => {
    const opened = [await tab('a'), await tab('b'), await tab('c')];
    const openedIds = await Promise.all(opened.map(async (p) => (await probe(p)).self as string));
    expect(new Set(openedIds).size).toBe(3);
    const everyone = ['node', ...openedIds].sort();
    // One ring: every tab's view has the Node member and the three tabs, at the same view number.
    await expect.poll(async () => (await Promise.all(opened.map(probe))).map((p) => [p.members, p.view]), { timeout: 15_000 })
      .toSatisfy((seen: [string[], number][]) => seen.every(([m, v]) => m.join() === everyone.join() && v === seen[0]?.[1] && v > 0));
    // Every tab names the same owners of lock and pool. The tab that will close must own neither lock nor
    // pool: an owner that vanishes without handing its semaphores off makes their next owner wait
    // out the lock-delay (about 8 s here) before it answers, too long for this test (a CI run
    // failed so: t3 owned pool, and t2's acquire of pool was not granted within 5 s). So the
    // owner of lock, if a tab, goes first, and the tab that closes is one that owns neither.
    let shownOwners: string[] = [];
    await expect.poll(async () => {
      const seen = await Promise.all(opened.map(async (p) => Promise.all([0, 1].map(async (lane) =>
        /owner (\S+)/.exec(await p.locator('#live-lanes .lane-head').nth(lane).innerText())?.[1]))));
      shownOwners = seen[0] as string[];
      return new Set(seen.map((o) => o.join())).size === 1 && shownOwners.every((o) => o !== undefined);
    }, { timeout: 5000 }).toBe(true);
    const [lockOwner, poolOwner] = shownOwners;
    const rank = (i: number): number => (openedIds[i] === lockOwner ? 0 : openedIds[i] === poolOwner ? 1 : 2);
    const order = [0, 1, 2].sort((x, y) => rank(x) - rank(y));
    expect([lockOwner, poolOwner]).not.toContain(openedIds[order[2] as number]);
    const tabs = order.map((i) => opened[i] as Page);
    const [t1, t2, t3] = tabs as [Page, Page, Page];
    const [id1, id2, id3] = order.map((i) => openedIds[i] as string) as [string, string, string];
    const formed = (await probe(t1)).view;
    expect(cluster.node.gossip.ring().nodes().map((m) => m.id).length).toBe(4);
    await t1.screenshot({ path: join(shots, 'three-tabs.png') });

    /**
     * `page`'s own acquire of lock has resolved. The owner's view can show a tab holding before the
     * grant has reached the tab (it is in flight), so this waits for it, as `allShow` does.
     */
    const holds = (page: Page): Promise<void> => expect.poll(async () => (await probe(page)).mine['lock'], { timeout: 5000 }).toBe('holding');
    /** Every tab shows `holders` holding the lock and `waiting` in its queue (lock has n = 1). */
    const allShow = (holders: string[], waiting: string[]): Promise<void> => expect.poll(() => Promise.all(tabs.map(lockShown)), { timeout: 10_000 })
      .toEqual(tabs.map(() => ({ holders, waiting, head: expect.stringContaining(`${holders.length} / 1 held ${waiting.length} waiting`) as unknown as string })));

    await click(t1, 'lock', 'Acquire');
    await allShow([id1], []);
    await holds(t1);
    await click(t2, 'lock', 'Acquire');
    await allShow([id1], [id2]);
    expect((await probe(t2)).mine['lock']).toBe('waiting');
    await t2.screenshot({ path: join(shots, 'one-holds-one-waits.png') });
    await click(t1, 'lock', 'Release');
    await allShow([id2], []);
    await holds(t2);
    await click(t3, 'lock', 'Acquire');
    await allShow([id2], [id3]);
    await click(t2, 'lock', 'Release');
    await allShow([id3], []);
    // The lane heads name the same owner in every tab.
    const owners = await Promise.all(tabs.map(async (p) => /owner (\S+)/.exec((await lockShown(p)).head)?.[1]));
    expect(new Set(owners).size).toBe(1);
    await t3.screenshot({ path: join(shots, 'lock-passed-on.png') });

    // t3 closes as a user closes a tab. The others see a view without it; its lease ends at the
    // latest when it runs out (its pagehide tries to give it back first), and t1, queued, gets it.
    await click(t1, 'lock', 'Acquire');
    await allShow([id3], [id1]);
    await t3.close({ runBeforeUnload: true });
    tabs.pop();
    const rest = ['node', id1, id2].sort();
    await expect.poll(async () => (await Promise.all([t1, t2].map(probe))).map((p) => [p.members, p.view > formed]), { timeout: 15_000 })
      .toEqual([[rest, true], [rest, true]]);
    await allShow([id1], []);
    await holds(t1);
    expect((await probe(t1)).view).toBe((await probe(t2)).view);
    // The drawn ring says the same view number as the probe.
    expect(await t1.locator('#live-ring').textContent()).toContain(`view ${(await probe(t1)).view}`);
    await t1.screenshot({ path: join(shots, 'after-close.png') });

    // Leave by the button, holding pool: t2 gives its lease back (well before its 6 s would run
    // out) and leaves, t1's view drops it; "Join again" comes back as the same member (its id is
    // kept in the tab's IndexedDB).
    await click(t2, 'pool', 'Acquire');
    await expect.poll(async () => (await probe(t1)).holders['pool'], { timeout: 5000 }).toEqual([id2]);
    const before = (await probe(t1)).view;
    await t2.getByRole('button', { name: 'Leave the cluster' }).click();
    await expect.poll(async () => (await probe(t1)).holders['pool'], { timeout: 2500 }).toEqual([]);
    await expect.poll(async () => (await probe(t2)).status, { timeout: 10_000 }).toBe('left');
    await expect.poll(async () => [(await probe(t1)).members, (await probe(t1)).view > before], { timeout: 10_000 }).toEqual([['node', id1].sort(), true]);
    await expect.poll(() => t2.locator('#live-ring g.node').count(), { timeout: 2000 }).toBe(0);
    await t2.screenshot({ path: join(shots, 'left.png') });
    await t2.getByRole('button', { name: 'Join again' }).click();
    await expect.poll(async () => Promise.all([t1, t2].map(async (p) => (await probe(p)).members)), { timeout: 15_000 }).toEqual([rest, rest]);
    expect((await probe(t2)).self).toBe(id2);
    await t1.setViewportSize({ width: 390, height: 844 });
    await t1.waitForTimeout(400); // a redraw at the new width (the lanes' canvases size to it)
    await t1.screenshot({ path: join(shots, 'after-close-phone.png'), fullPage: true });
  }, 40_000);

  it('logged no console error', () => {
    expect(errors).toEqual([]);
  });
});
