// The simulator page in Debian's Chromium: built by Vite (minified, as `npm run demo` would serve
// it) and served on 127.0.0.1. The page runs the real simulator: its trace hash must equal
// simulate()'s in Node; a partition cut by dragging across the ring must change the drawn views;
// Clusterluck mode must show a double grant and its replay line where the safe design shows none.
// Screenshots go to test/.screenshots/demo/ (git-ignored). No console error is allowed.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readState, replayLine, simulationOptionsOf } from '../demo/page-state.js';
import { simulate } from '../sim/world/simulation.js';
import { buildPages, launchChromium, type BuiltPages } from './support/chromium-pages.js';
import type { DemoProbe } from '../demo/probe.js';

/** The page's JavaScript, gzipped, at most (README: "The demo page"). */
const pageGzipBytesMax = 120 * 1024;
const shots = join(import.meta.dirname, '.screenshots', 'demo');

let built: BuiltPages;
let browser: Browser;
const errors: string[] = [];

beforeAll(async () => {
  await mkdir(shots, { recursive: true });
  [built, browser] = await Promise.all([buildPages(['index.html'], join(import.meta.dirname, '..', 'demo'), true), launchChromium()]);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await built?.close();
});

async function open(search: string, viewport = { width: 1280, height: 800 }): Promise<Page> {
  const page = await browser.newPage({ viewport });
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`${search}: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`${search}: ${e.message}`));
  await page.goto(built.url(`index.html${search}`));
  return page;
}

const probe = (page: Page): Promise<DemoProbe> => page.evaluate(() => (globalThis as unknown as { clusterluckDemo: DemoProbe }).clusterluckDemo);

async function until(page: Page, test: string, timeout = 30_000): Promise<DemoProbe> {
  await page.waitForFunction(`(() => { const p = globalThis.clusterluckDemo; return p !== undefined && (${test}); })()`, undefined, { timeout, polling: 50 });
  return probe(page);
}

describe('the simulator page', () => {
  it('bundles within its gzip budget', () => {
    console.log(`demo page: ${(built.jsBytes / 1024).toFixed(1)} kB minified, ${(built.jsGzipBytes / 1024).toFixed(1)} kB gzipped (budget ${pageGzipBytesMax / 1024} kB)`);
    expect(built.jsGzipBytes).toBeGreaterThan(10_000);
    expect(built.jsGzipBytes).toBeLessThanOrEqual(pageGzipBytesMax);
  });

  it('runs a seed to the same trace hash as simulate() in Node, and draws it', async () => {
    const search = '?seed=page-hash&nodes=5&clients=8&duration=12&speed=0&faults=partition,crash,pause';
    const page = await open(search);
    const shown = await until(page, 'p.status === "done" && p.shownAt > 12000', 40_000);
    const node = await simulate(simulationOptionsOf(readState(search)));
    expect(shown.traceHash).toBe(node.traceHash);
    expect(await page.locator('#ring g.node').count()).toBeGreaterThanOrEqual(5);
    expect(await page.locator('#verdict').textContent()).toMatch(/trace|violation/i);
    console.log(`demo page: first frame drawn ${shown.firstFrameMs?.toFixed(0)} ms after navigation`);
    await page.screenshot({ path: join(shots, 'run-done-1280.png') });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: join(shots, 'run-done-phone.png'), fullPage: true });
    await page.close();
  }, 60_000);

  it('a partition cut by dragging across the ring goes into the schedule and changes the drawn views', async () => {
    const base = '?seed=cut&nodes=5&clients=4&duration=40&faults=none';
    const plain = await open(`${base}&speed=0`);
    const before = await until(plain, 'p.status === "done" && p.shownAt > 40000', 40_000);
    await plain.close();
    // Opened paused 3 s into the workload (a link's `t`), where faults can be injected.
    const page = await open(`${base}&speed=1&t=${Math.round((before.workloadAt ?? 0) + 3000)}`);
    await until(page, `p.shownAt >= ${(before.workloadAt ?? 0) + 3000} && document.querySelectorAll("#ring g.node").length === 5`);
    await page.fill('#fault-seconds', '30');
    // Drag a line through the ring's centre, left to right: it splits the five nodes.
    const box = await page.locator('#ring').boundingBox();
    if (box === null) throw new Error('no ring');
    const y = box.y + box.height * 0.5;
    await page.mouse.move(box.x + 5, y + 3);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2, y, { steps: 4 });
    await page.mouse.move(box.x + box.width - 5, y - 3, { steps: 4 });
    await page.mouse.up();
    await page.waitForFunction(() => location.search.includes('inject=partition'));
    await page.waitForFunction(() => [...document.querySelectorAll('#ring g.node')].some((g) => (g.getAttribute('aria-label') ?? '').includes('partition side')), undefined, { timeout: 20_000 });
    await page.screenshot({ path: join(shots, 'partition-cut.png') });
    // The keyboard does the same: Tab to a node, Enter opens its menu, Escape closes it, and a menu
    // item chosen with Enter injects its fault.
    await page.focus('#ring g.node[data-host="n0"]');
    await page.keyboard.press('Enter');
    expect(await page.locator('#node-menu').isVisible()).toBe(true);
    await page.screenshot({ path: join(shots, 'node-menu.png') });
    await page.keyboard.press('Escape');
    expect(await page.locator('#node-menu').isVisible()).toBe(false);
    await page.focus('#ring g.node[data-host="n0"]');
    await page.keyboard.press('Enter');
    await page.keyboard.press('Enter'); // the first item, focused: crash
    await page.waitForFunction(() => new URL(location.href).searchParams.get('inject')?.includes('+crash@') === true);
    await page.selectOption('#speed', '0');
    const after = await until(page, 'p.status === "done" && p.shownAt > 40000', 40_000);
    await page.screenshot({ path: join(shots, 'partition-healed.png') });
    // Without the cut nothing changes the first view; with it, the far side is removed and comes back.
    expect(after.view).toBeGreaterThan(before.view);
    const injected = new URL(page.url()).searchParams.get('inject') ?? '';
    expect(injected).toMatch(/^partition@\d+:[n\d,]+:30000\+crash@\d+:n0:30000$/);
    // And the run the page drew is the run `simulate` gives for the page's URL, injection included.
    expect(after.traceHash).toBe((await simulate(simulationOptionsOf(readState(new URL(page.url()).search)))).traceHash);
    await page.close();
  }, 90_000);

  it('Clusterluck mode double-grants on a seed and the page stops there with the replay line; the safe design does not', async () => {
    const search = '?seed=1&scenario=handoff&duration=20&speed=0&clusterluck=1';
    const page = await open(search);
    const stopped = await until(page, 'p.stoppedAtViolation', 40_000);
    const first = stopped.violations[0];
    expect(first?.class).toBe('safety');
    expect(stopped.shownAt).toBe(first?.at);
    expect(await page.locator('#violation').isVisible()).toBe(true);
    const line = await page.locator('#replay-line').textContent();
    expect(line).toBe(replayLine(readState(search)));
    expect(line).toMatch(/^npm run sim -- --seed 1 --scenario handoff .*--clusterluck$/);
    expect(await page.locator('#violation-link').getAttribute('href')).toContain(`t=${Math.round(first?.at ?? -1)}`);
    await page.screenshot({ path: join(shots, 'clusterluck-violation.png') });
    // The replay line's run (what Node finds) has that violation first.
    const node = await simulate(simulationOptionsOf(readState(search)));
    expect(node.violations[0]?.at).toBe(first?.at);
    await page.close();

    const safe = await open(search.replace('&clusterluck=1', ''));
    const done = await until(safe, 'p.status === "done" && p.shownAt >= 20000', 40_000);
    expect(done.violations).toEqual([]);
    expect(done.stoppedAtViolation).toBe(false);
    expect(await safe.locator('#verdict').textContent()).toMatch(/^No violation/);
    await safe.screenshot({ path: join(shots, 'safe-design.png') });
    await safe.close();
  }, 90_000);

  it('measures simulated seconds per wall second in the page beside Node (5 nodes, 20 clients)', async () => {
    const search = '?seed=measure&nodes=5&clients=20&duration=30&speed=0';
    const page = await open(search);
    const done = await until(page, 'p.status === "done"', 60_000);
    await page.close();
    const started = performance.now();
    const node = await simulate(simulationOptionsOf(readState(search)));
    const nodeWallMs = performance.now() - started;
    expect(done.traceHash).toBe(node.traceHash);
    const pageRate = (done.simMs ?? 0) / (done.simWallMs ?? Infinity);
    const nodeRate = node.clockMs / nodeWallMs;
    console.log(`simulated s per wall s (5 nodes, 20 clients, a 30 s workload, ${(node.clockMs / 1000).toFixed(0)} simulated s): page ${pageRate.toFixed(1)}× (drawing as it goes), Node ${nodeRate.toFixed(1)}×`);
    expect(pageRate).toBeGreaterThan(1);
  }, 90_000);

  it('logged no console error', () => {
    expect(errors).toEqual([]);
  });
});
