// `npm start` (and `npm run demo`): the demo page served by Vite, a PeerJS server and one Node
// member of the live cluster, all in this process. Ctrl-C stops the three and exits 0.
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createServer, type Plugin, type ViteDevServer } from 'vite';
import { startLiveCluster, type LiveCluster } from './live-cluster.js';
import type { LiveServerInfo } from './live-config.js';

const help = `usage: npm start [-- --host ADDRESS] [--port N] [--peer-port N] [--log-level warn]
       (npm run demo is the same; the local 3-node TCP cluster with the CLI is npm run cluster)

Serves the demo page and starts a live cluster for it: a PeerJS server and one Node member
(WebRTC, node-datachannel). Prints the page's URL. In the page:
  Simulator  the simulator run in the tab, drawn live (seeds, faults, Clusterluck mode)
  Live       the tab joins the cluster as a member; open the URL in more tabs to grow it
Ctrl-C stops the page server, the Node member and the PeerJS server.

  --host ADDRESS   where the page, the PeerJS server and WebRTC listen (default 127.0.0.1);
                   a LAN address (or 0.0.0.0) lets other machines open the page and join
  --port N         the page's port (default 5173, or the next free one; 0: any free port)
  --peer-port N    the PeerJS server's port (default: a free one)
  --log-level L    the Node member's log level: debug, info, warn (default) or error
  --help           this text

Exit code: 0, 1 when a server could not start, 128 for bad usage.`;

const levels = ['debug', 'info', 'warn', 'error'] as const;
type Level = (typeof levels)[number];

interface Flags { help: boolean; host: string; port: number; peerPort: number; level: Level }

function port(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n > 65_535) throw new Error(`${name} must be a port number (0 to 65535), got ${JSON.stringify(text)}`);
  return n;
}

/** The flags, parsed strictly (an unknown flag or a stray word is an error). */
function flags(argv: string[]): Flags {
  const { values } = parseArgs({
    args: argv, strict: true, allowPositionals: false,
    options: {
      help: { type: 'boolean', short: 'h' }, host: { type: 'string' }, port: { type: 'string' },
      'peer-port': { type: 'string' }, 'log-level': { type: 'string' },
    },
  });
  const level = values['log-level'] ?? 'warn';
  if (!(levels as readonly string[]).includes(level)) throw new Error(`--log-level must be debug, info, warn or error, got ${JSON.stringify(level)}`);
  const host = values.host ?? '127.0.0.1';
  if (host === '') throw new Error('--host must name an address, got ""');
  return { help: values.help === true, host, port: port('--port', values.port, 5173), peerPort: port('--peer-port', values['peer-port'], 0), level: level as Level };
}

/** Serves `/live.json`: where the page finds the PeerJS server and the member to join through. */
function liveInfo(info: LiveServerInfo): Plugin {
  return {
    name: 'clusterluck-live-info',
    configureServer(server) {
      server.middlewares.use('/live.json', (_req: unknown, res: ServerResponse) => {
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(info));
      });
    },
  };
}

async function main(argv: string[]): Promise<void> {
  let o: Flags;
  try {
    o = flags(argv);
  } catch (err) {
    console.error(`npm start: ${(err as Error).message}\n\n${help}`);
    process.exitCode = 128;
    return;
  }
  if (o.help) return void console.log(help);
  let cluster: LiveCluster | undefined;
  let vite: ViteDevServer | undefined;
  // Vite's dependency cache of this run, its own: two runs (or a run and the tests) never share one.
  const cacheDir = await mkdtemp(join(tmpdir(), 'clusterluck-demo-vite-'));
  // Removed after the stop, and once more at exit: a dependency optimisation still running when
  // the server closed (Vite's bundler writes from threads of its own) may write into it during
  // and after the first removal, which then meets a directory that is not empty: retried, as
  // Node's rm can.
  const removal = { recursive: true, force: true, maxRetries: 10, retryDelay: 20 } as const;
  process.once('exit', () => {
    try {
      rmSync(cacheDir, removal);
    } catch {
      // Exiting anyway: a temporary directory left behind is not worth a failed exit.
    }
  });
  let stopping: Promise<void> | undefined;
  const stopAll = (): Promise<void> => (stopping ??= (async () => {
    console.log('\nstopping the page server, the Node member and the PeerJS server …');
    try {
      await vite?.close();
      await cluster?.stop();
    } finally {
      await rm(cacheDir, removal);
    }
    console.log('stopped.');
  })());
  // Ctrl-C in a terminal reaches every process of the group, and npm passes it on once more: a
  // second SIGINT joins the stop under way (`on`, not `once`: with no listener left it would kill
  // this process mid-stop, and npm would report the signal).
  const onSignal = (): void => void stopAll().then(() => process.exit(0), (err: unknown) => {
    console.error(`npm start: stopping failed: ${String(err)}`);
    process.exit(1);
  });
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    cluster = await startLiveCluster({ host: o.host, peerPort: o.peerPort, logLevel: o.level });
    vite = await createServer({
      configFile: join(import.meta.dirname, 'vite.config.ts'), cacheDir,
      server: { host: o.host, port: o.port },
      plugins: [liveInfo(cluster.info)],
    });
    await vite.listen();
  } catch (err) {
    console.error(`npm start: ${(err as Error).message}`);
    await stopAll();
    process.exitCode = 1;
    return;
  }
  const urls = [...(vite.resolvedUrls?.local ?? []), ...(vite.resolvedUrls?.network ?? [])];
  const url = urls[0] ?? `http://${o.host}:${o.port}/`;
  console.log(`clusterluck demo: ${url}`);
  console.log(`  live cluster:  ${url}?mode=live   (open it in two or more tabs)`);
  console.log(`  simulator:     ${url}`);
  for (const other of urls.slice(1)) console.log(`  also at        ${other}`);
  console.log(`PeerJS server on ${o.host}:${cluster.info.port}, Node member "${cluster.info.seed}" joined to it. Ctrl-C stops everything.`);
}

await main(process.argv.slice(2));
