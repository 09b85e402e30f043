// A real page in Debian's Chromium, reloaded: the DSMServer's table comes back from IndexedDB.
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
});
