// Real pages in Debian's Chromium, reloaded: the DSMServer's table comes back from IndexedDB, and
// a member started without an id comes back as the same member.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright';
import { createServer, type ViteDevServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
let server: ViteDevServer;
let context: BrowserContext;
let profile: string;

beforeAll(async () => {
  server = await createServer({ root, configFile: false, logLevel: 'error', server: { host: '127.0.0.1', port: 0, strictPort: false } });
  await server.listen();
  profile = await mkdtemp(join(tmpdir(), 'clusterluck-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}, 60_000);

afterAll(async () => {
  await context?.close();
  await server?.close();
  await rm(profile, { recursive: true, force: true });
});

async function ready(page: Page): Promise<void> {
  await page.waitForFunction(() => document.title === 'ready', undefined, { timeout: 30_000 });
}

describe('DSMServer in Chromium with IndexedDB', () => {
  it('semaphores and live holders survive a page reload with the lease time that remains', async () => {
    const page = await context.newPage();
    const url = server.resolvedUrls?.local[0] ?? '';
    await page.goto(`${url}test/pages/reload.html`);
    await ready(page);
    await page.evaluate(async () => {
      const c = (globalThis as unknown as { clusterluck: { create(i: string, n: number): Promise<void>; post(i: string, h: string, ms: number): Promise<void> } }).clusterluck;
      await c.create('tabs', 2);
      await c.post('tabs', 'short', 1500);
      await c.post('tabs', 'long', 60_000);
    });
    await page.reload();
    await ready(page);
    const read = () => page.evaluate(() => (globalThis as unknown as { clusterluck: { read(i: string): Promise<unknown> } }).clusterluck.read('tabs'));
    expect(await read()).toEqual({ n: 2, active: 2 });
    await page.waitForTimeout(1600);
    expect(await read()).toEqual({ n: 2, active: 1 });
    await page.close();
  }, 60_000);

  it('a tab started without an id comes back as the same member after a reload, and a second tab of the page is another member', async () => {
    const url = `${server.resolvedUrls?.local[0] ?? ''}test/pages/identity.html`;
    const idOf = (page: Page): Promise<string> => page.evaluate(() => (globalThis as unknown as { identity: { id: string } }).identity.id);
    const first = await context.newPage();
    await first.goto(url);
    await ready(first);
    const a = await idOf(first);
    const second = await context.newPage();
    await second.goto(url);
    await ready(second);
    const b = await idOf(second);
    expect(b).not.toBe(a); // its own database (the next free one): never the same member twice
    await first.reload();
    await ready(first);
    expect(await idOf(first)).toBe(a);
    await second.close();
    const third = await context.newPage();
    await third.goto(url);
    await ready(third);
    expect(await idOf(third)).toBe(b); // the second tab's database was free again
    await third.close();
    await first.close();
  }, 60_000);
});

