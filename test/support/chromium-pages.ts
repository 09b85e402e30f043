// What the browser mesh test and the tab bench share: a PeerJS server on 127.0.0.1 that can be
// stopped like a dying one, a test page built by Vite and served statically (no dev server, so no
// dependency re-optimisation reloads a page mid-test), and Debian's Chromium with loopback WebRTC.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { PeerServer } from 'peer';
import { chromium, type Browser, type Page } from 'playwright';
import { build } from 'vite';

const root = join(import.meta.dirname, '..', '..');

/** A PeerJS server on 127.0.0.1. */
export interface PeerjsServer {
  readonly port: number;
  readonly running: boolean;
  /** Ends every client's WebSocket too, as a server that dies would. */
  stop(): Promise<void>;
}

export async function startPeerServer(): Promise<PeerjsServer> {
  const server = await new Promise<Server>((resolve) => {
    PeerServer({ host: '127.0.0.1', port: 0, path: '/', expire_timeout: 1000 }, (s) => resolve(s as Server));
  });
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  return {
    port: (server.address() as AddressInfo).port,
    get running() {
      return server.listening;
    },
    async stop() {
      // Upgraded WebSockets are no longer the HTTP server's: end them here.
      for (const socket of sockets) socket.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Test pages built into a temporary directory and served on 127.0.0.1. */
export interface BuiltPages {
  /** The URL of a page, e.g. `test/pages/mesh.html`. */
  url(page: string): string;
  close(): Promise<void>;
}

/** Builds `pages` (paths from the repository root) with Vite and serves the result. */
export async function buildPages(pages: readonly string[]): Promise<BuiltPages> {
  const outDir = await mkdtemp(join(tmpdir(), 'clusterluck-pages-'));
  await build({
    root, configFile: false, logLevel: 'error',
    build: { outDir, emptyOutDir: true, target: 'esnext', minify: false, rollupOptions: { input: pages.map((p) => join(root, p)) } },
  });
  const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript' };
  const server = createServer((req, res) => {
    const path = normalize(join(outDir, new URL(req.url ?? '/', 'http://x').pathname));
    if (!path.startsWith(outDir)) return void res.writeHead(403).end();
    readFile(path).then(
      (body) => res.writeHead(200, { 'content-type': types[extname(path)] ?? 'application/octet-stream' }).end(body),
      () => res.writeHead(404).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: (page) => `http://127.0.0.1:${port}/${page}`,
    async close() {
      await new Promise((resolve) => server.close(resolve));
      await rm(outDir, { recursive: true, force: true });
    },
  };
}

/** Debian's Chromium, offering 127.0.0.1 candidates to pages granted the microphone (see {@link openPage}). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--allow-loopback-in-peer-connection'],
  });
}

/** A page in a fresh browser context (own storage, own WebRTC stack), once its title says `ready`. */
export async function openPage(browser: Browser, url: string, label: string): Promise<Page> {
  const context = await browser.newContext({ permissions: ['microphone'] });
  const page = await context.newPage();
  page.on('pageerror', (err) => console.error(`[${label}] ${err.message}`));
  await page.goto(url);
  await page.waitForFunction(() => document.title === 'ready', undefined, { timeout: 20_000 });
  return page;
}
