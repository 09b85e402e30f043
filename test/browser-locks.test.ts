// node.locks across three Chromium tabs, against navigator.locks across three tabs of one browser
// context (which share their origin's lock manager): the same requests, made from the same tabs
// in the same order, give the same holders at every step. The cluster is three tabs and a Node
// member over WebRTC, introduced by a PeerJS server on 127.0.0.1 that the test starts.
import type { Browser, Page } from 'playwright';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createWebRtcCluster, type WebRtcClusterNode } from '../lib/node.js';
import type { WebSocketLike } from '../lib/transports/webrtc/signal-peerjs.js';
import { buildPages, launchChromium, openPage, startPeerServer, type BuiltPages, type PeerjsServer } from './support/chromium-pages.js';
import { nodeWrtc } from './webrtc-node.js';

const gossip = { intervalMs: 150, probeIntervalMs: 300, suspicionMult: 2, autoRemoveAfterMs: 600 };

let pages: BuiltPages;
let peerjs: PeerjsServer;
let browser: Browser;
let n: WebRtcClusterNode;

type Mesh = Record<string, (...args: unknown[]) => unknown>;
function call<T = unknown>(page: Page, method: string, ...args: unknown[]): Promise<T> {
  return page.evaluate(([m, a]) => (globalThis as unknown as { mesh: Mesh }).mesh[m as string]?.(...(a as unknown[])), [method, args] as const) as Promise<T>;
}

beforeAll(async () => {
  pages = await buildPages(['test/pages/mesh.html']);
  peerjs = await startPeerServer();
  browser = await launchChromium();
  n = await createWebRtcCluster({
    id: 'n', cookie: 'mesh', wrtc: nodeWrtc, gossip, logLevel: 'error',
    signaling: { host: '127.0.0.1', port: peerjs.port, path: '/', WebSocket: WebSocket as unknown as new (url: string) => WebSocketLike },
  });
}, 60_000);

afterAll(async () => {
  await n?.stop({ leave: false });
  await browser?.close();
  if (peerjs?.running) await peerjs.stop();
  await pages?.close();
}, 30_000);

/**
 * The scenario, from tabs t1, t2, t3: t1 takes `x` exclusively; t2 and t3 ask for it shared, t1
 * exclusively again, t2 shared again, and t3 `ifAvailable`; then each holder lets go in turn.
 * @returns the labels holding after each step, and every tab's log
 */
async function scenario(tabs: Page[], which: 'cluster' | 'navigator', name: string, settleMs: number): Promise<{ steps: string[][]; logs: string[][] }> {
  const [t1, t2, t3] = tabs as [Page, Page, Page];
  const settle = (): Promise<void> => new Promise((r) => setTimeout(r, settleMs));
  const holding = async (): Promise<string[]> => {
    const logs = await Promise.all(tabs.map((t) => call<string[]>(t, 'lockLog')));
    const held = new Set<string>();
    for (const line of logs.flat()) {
      const m = /^(\w)([+-]) (\w+)?/.exec(`${line} `);
      if (m === null || m[3] === 'null') continue;
      if (m[2] === '+') held.add(m[1] as string);
      else held.delete(m[1] as string);
    }
    return [...held].sort();
  };
  // Each request is made once the one before it holds or waits where the lock is kept (its owner's
  // queue, or the browser's), so they arrive in this order however slow the machine is.
  const requested = async (count: number): Promise<void> => {
    await expect.poll(() => call<number>(t1, 'lockCount', which, name), { timeout: 10_000 }).toBe(count);
  };
  const steps: string[][] = [];
  await call(t1, 'lock', which, 'A', name, {});
  await requested(1);
  await call(t2, 'lock', which, 'B', name, { mode: 'shared' });
  await requested(2);
  await call(t3, 'lock', which, 'C', name, { mode: 'shared' });
  await requested(3);
  await call(t1, 'lock', which, 'D', name, {});
  await requested(4);
  await call(t2, 'lock', which, 'E', name, { mode: 'shared' });
  await requested(5);
  await call(t3, 'lock', which, 'F', name, { ifAvailable: true });
  await expect.poll(() => call<string[]>(t3, 'lockLog'), { timeout: 10_000 }).toContain('F=none');
  steps.push(await holding());
  // After each release, the holders it lets in (polled: the cluster takes a round trip or two),
  // then the same holders a moment later: nobody else came in meanwhile.
  for (const [tab, label, next] of [[t1, 'A', ['B', 'C']], [t2, 'B', ['C']], [t3, 'C', ['D']], [t1, 'D', ['E']], [t2, 'E', []]] as const) {
    await call(tab, 'openLock', label);
    await expect.poll(holding, { timeout: 10_000 }).toEqual(next);
    await settle();
    steps.push(await holding());
  }
  return { steps, logs: await Promise.all(tabs.map((t) => call<string[]>(t, 'lockLog'))) };
}

/** What both APIs must show. */
const expectedSteps = [['A'], ['B', 'C'], ['C'], ['D'], ['E'], []];
const expectedLogs = [
  ['A+ exclusive', 'A-', 'A=done', 'D+ exclusive', 'D-', 'D=done'],
  ['B+ shared', 'B-', 'B=done', 'E+ shared', 'E-', 'E=done'],
  ['F+ null', 'F=none', 'C+ shared', 'C-', 'C=done'],
];

describe('the Web Locks API across three tabs', () => {
  it('navigator.locks: three tabs of one browser context', async () => {
    const context = await browser.newContext();
    const tabs: Page[] = [];
    for (const id of ['t1', 't2', 't3']) {
      const page = await context.newPage();
      await page.goto(pages.url('test/pages/mesh.html'));
      await page.waitForFunction(() => document.title === 'ready');
      void id;
      tabs.push(page);
    }
    const { steps, logs } = await scenario(tabs, 'navigator', `nav-${Date.now()}`, 100);
    expect(steps).toEqual(expectedSteps);
    expect(logs).toEqual(expectedLogs);
    await context.close();
  }, 30_000);

  it('node.locks: three tabs, each its own cluster member, with a Node member', async () => {
    const tabs: Page[] = [];
    for (const id of ['t1', 't2', 't3']) tabs.push(await openPage(browser, pages.url('test/pages/mesh.html'), id));
    await Promise.all(tabs.map((t, i) => call(t, 'start', { id: `t${i + 1}`, port: peerjs.port, seed: 'n', gossip })));
    const all = ['n', 't1', 't2', 't3'];
    await expect.poll(async () => [n.gossip.ring().nodes().map((m) => m.id).sort(), ...await Promise.all(tabs.map((t) => call(t, 'ring')))], { timeout: 15_000 })
      .toEqual([all, all, all, all]);
    // A lock whose semaphore a tab owns, so the queue is in a browser too.
    let name = '';
    for (let i = 0; name === ''; i++) if (n.gossip.find(`locks/x${i}`).id.startsWith('t')) name = `x${i}`;
    const { steps, logs } = await scenario(tabs, 'cluster', name, 400);
    expect(steps).toEqual(expectedSteps);
    expect(logs).toEqual(expectedLogs);
  }, 60_000);
});
