// What the browser mesh test and the tab bench share: a PeerJS server on 127.0.0.1 that can be
// stopped like a dying one, a test page built by Vite and served statically (no dev server, so no
// dependency re-optimisation reloads a page mid-test), and Debian's Chromium with loopback WebRTC.
import { gzipSync } from 'node:zlib';
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
  /** Rendered bytes of the pages' JavaScript by npm package ('.' for the pages' own code), before minification. */
  readonly bytesByPackage: Readonly<Record<string, number>>;
  /** Bytes of JavaScript emitted, and gzipped. */
  readonly jsBytes: number;
  readonly jsGzipBytes: number;
  /** The URL of a page, e.g. `test/pages/mesh.html`. */
  url(page: string): string;
  close(): Promise<void>;
}

/**
 * Builds `pages` (paths from `base`, the repository root by default) with Vite and serves the
 * result; `minify` as a production build would. `isolated` serves them cross-origin isolated
 * (COOP and COEP), so that a page's `performance.now()` reads to 5 µs rather than 100 µs.
 */
export async function buildPages(pages: readonly string[], base = root, minify = false, isolated = false): Promise<BuiltPages> {
  const outDir = await mkdtemp(join(tmpdir(), 'clusterluck-pages-'));
  const result = await build({
    root: base, configFile: false, logLevel: 'error',
    build: { outDir, emptyOutDir: true, target: 'esnext', minify, rollupOptions: { input: pages.map((p) => join(base, p)) } },
  });
  // Rendered bytes of the JavaScript by package (the page's own code under '.'), before
  // minification; and what was emitted, as is and gzipped.
  const bytesByPackage: Record<string, number> = {};
  let jsBytes = 0;
  let jsGzipBytes = 0;
  for (const output of Array.isArray(result) ? result : [result]) {
    if (!('output' in output)) continue;
    for (const chunk of output.output) {
      if (chunk.type !== 'chunk') continue;
      jsBytes += Buffer.byteLength(chunk.code);
      jsGzipBytes += gzipSync(chunk.code).byteLength;
      for (const [id, m] of Object.entries(chunk.modules)) {
        const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(id)?.[1] ?? '.';
        bytesByPackage[pkg] = (bytesByPackage[pkg] ?? 0) + m.renderedLength;
      }
    }
  }
  const types: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' };
  const isolation = isolated ? { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' } : {};
  const server = createServer((req, res) => {
    const path = normalize(join(outDir, new URL(req.url ?? '/', 'http://x').pathname));
    if (!path.startsWith(outDir)) return void res.writeHead(403).end();
    readFile(path).then(
      (body) => res.writeHead(200, { 'content-type': types[extname(path)] ?? 'application/octet-stream', ...isolation }).end(body),
      () => res.writeHead(404).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    bytesByPackage, jsBytes, jsGzipBytes,
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
