// The package as a user meets it: `npm pack` builds the tarball, a scratch app installs it with
// `npm ci --offline` (the test runs without a network: the app's lock file is cut from ours, so npm
// takes every tarball from its content cache by integrity and never asks for a packument), type-checks a consumer of `clusterluck/node` as a
// Node-only project (`--strict`, no DOM lib, skipLibCheck off) and runs it; then a Vite page of
// the same app imports `clusterluck` and runs in Chromium.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { buildPages, launchChromium, openPage } from './support/chromium-pages.js';

const exec = promisify(execFile);
const root = join(import.meta.dirname, '..');
const tsc = join(root, 'node_modules', '.bin', 'tsc');
let scratch: string | undefined;

afterAll(async () => {
  if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
});

const consumer = `import { createCluster } from 'clusterluck/node';
import { ClusterluckError } from 'clusterluck';

const node = await createCluster({ id: 'solo', cookie: 'package-test', port: 0, logLevel: 'error' });
await node.dsm.create('jobs', 1);
const token: number = await node.dsm.post('jobs', 'me', 10_000);
const read = await node.dsm.read('jobs');
const full = await node.dsm.post('jobs', 'you', 10_000, undefined, 2000, 0).catch((e: unknown) => (e instanceof ClusterluckError ? e.code : String(e)));
node.dsm.events.addEventListener('grant', (e) => void e.detail.token);
await node.stop();
console.log(JSON.stringify({ token: typeof token, read, full }));
`;

const simConsumer = `import { simulate, type SimEvent } from 'clusterluck/sim';

let steps = 0;
const kinds = new Set<SimEvent['type']>();
const s = await simulate({ seed: 'package', durationMs: 3000, clients: 3, invariants: [() => (steps++, [])], onEvent: (e) => void kinds.add(e.type) });
console.log(JSON.stringify({ traceHash: s.traceHash, steps, kinds: [...kinds].sort() }));
`;

interface LockEntry { version?: string; resolved?: string; integrity?: string; dev?: boolean; devOptional?: boolean; dependencies?: Record<string, string>; [k: string]: unknown }

/**
 * The scratch app's package.json and package-lock.json: it depends on the tarball and on the
 * `@types/node` we build with; the lock holds the tarball (with its sha512) and, copied from our own
 * lock, every package our runtime dependencies and `@types/node` pull in.
 */
async function writeLockedApp(app: string, tarball: string, bytes: Buffer): Promise<void> {
  const ours = JSON.parse(await readFile(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const pkg = ours.packages[''] as LockEntry & { name: string; peerDependencies?: Record<string, string>; peerDependenciesMeta?: unknown };
  const typesVersion = ours.packages['node_modules/@types/node']?.version as string;
  const packages: Record<string, LockEntry> = {};
  // Node's resolution over the lock's paths: from `from`, the nearest node_modules/<name>.
  const visit = (from: string, name: string): void => {
    for (let dir = from; ; dir = dir.slice(0, Math.max(0, dir.lastIndexOf('/node_modules/')))) {
      const path = `${dir === '' ? '' : `${dir}/`}node_modules/${name}`;
      const entry = ours.packages[path];
      if (entry !== undefined) {
        if (packages[path] !== undefined) return;
        const { dev: _dev, devOptional: _devOptional, ...kept } = entry;
        packages[path] = kept;
        for (const dep of Object.keys(entry.dependencies ?? {})) visit(path, dep);
        return;
      }
      if (dir === '') throw new Error(`package-lock.json has no ${name} reachable from ${from || 'the root'}`);
    }
  };
  for (const dep of Object.keys(pkg.dependencies ?? {})) visit('', dep);
  visit('', '@types/node');
  const dependencies = { clusterluck: `file:${tarball}`, '@types/node': typesVersion };
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies }));
  await writeFile(join(app, 'package-lock.json'), JSON.stringify({
    name: 'consumer', lockfileVersion: 3, requires: true,
    packages: {
      '': { name: 'consumer', dependencies },
      'node_modules/clusterluck': {
        version: pkg.version, resolved: `file:${tarball}`, integrity: `sha512-${createHash('sha512').update(bytes).digest('base64')}`,
        dependencies: pkg.dependencies, peerDependencies: pkg.peerDependencies, peerDependenciesMeta: pkg.peerDependenciesMeta,
      },
      ...packages,
    },
  }, null, 2));
}

describe('the npm package', () => {
  it('packs, installs into a scratch app, type-checks under --strict without the DOM lib, and runs', async () => {
    scratch = await mkdtemp(join(tmpdir(), 'clusterluck-package-'));
    await exec('npm', ['pack', '--pack-destination', scratch], { cwd: root });
    const tarball = (await readdir(scratch)).find((f) => f.endsWith('.tgz'));
    expect(tarball).toBeDefined();
    const app = join(scratch, 'app');
    await mkdir(join(app, 'src'), { recursive: true });
    await writeLockedApp(app, join('..', tarball as string), await readFile(join(scratch, tarball as string)));
    await writeFile(join(app, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { target: 'ES2023', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2023'], types: ['node'], strict: true, skipLibCheck: false, rootDir: 'src', outDir: 'out' },
      include: ['src'],
    }));
    await writeFile(join(app, 'src', 'main.ts'), consumer);
    await writeFile(join(app, 'src', 'sim.ts'), simConsumer);
    await exec('npm', ['ci', '--offline', '--no-audit', '--no-fund'], { cwd: app });
    const checked = await exec(tsc, ['-p', 'tsconfig.json'], { cwd: app }).then(() => '', (e: { stdout?: string }) => e.stdout ?? String(e));
    expect(checked).toBe('');
    const { stdout } = await exec(process.execPath, [join(app, 'out', 'main.js')], { cwd: app, timeout: 30_000 });
    expect(JSON.parse(stdout)).toEqual({ token: 'number', read: { n: 1, active: 1 }, full: 'SEMAPHORE_FULL' });
    // clusterluck/sim from the tarball gives the trace the source gives, and calls a user's invariant.
    const sim = JSON.parse((await exec(process.execPath, [join(app, 'out', 'sim.js')], { cwd: app, timeout: 60_000 })).stdout) as { traceHash: string; steps: number };
    const { simulate } = await import('../sim/index.js');
    expect(sim.traceHash).toBe((await simulate({ seed: 'package', durationMs: 3000, clients: 3 })).traceHash);
    expect(sim.steps).toBeGreaterThan(100);
  }, 180_000);

  it('a Vite page of the same app imports clusterluck, bundles, and runs in Chromium', async () => {
    const app = join(scratch as string, 'app');
    await writeFile(join(app, 'index.html'), '<!doctype html><title>loading</title><script type="module" src="./page.ts"></script>');
    await writeFile(join(app, 'page.ts'), page);
    const built = await buildPages(['index.html'], app, true);
    const browser = await launchChromium();
    try {
      const tab = await openPage(browser, built.url('index.html'), 'package');
      expect(await tab.evaluate(() => (globalThis as { result?: unknown }).result)).toEqual({ reply: 'hello, a', browserNode: 'function', storage: 'function' });
      const total = Object.values(built.bytesByPackage).reduce((a, b) => a + b, 0);
      const share = Object.entries(built.bytesByPackage).sort((a, b) => b[1] - a[1]).map(([p, n]) => `${p} ${(n / 1024).toFixed(1)} kB (${Math.round((100 * n) / total)} %)`);
      console.log(`page bundle: ${(built.jsBytes / 1024).toFixed(1)} kB minified, ${(built.jsGzipBytes / 1024).toFixed(1)} kB gzipped; before minification by package: ${share.join(', ')}`);
      expect(built.bytesByPackage['clusterluck']).toBeGreaterThan(0);
    } finally {
      await browser.close();
      await built.close();
    }
  }, 120_000);
});

/** The page: two kernels on a MemoryNetwork in the tab, one calling the other's actor; createBrowserNode is bundled too. */
const page = `import { createBrowserNode, GenServer, idbStorage, MemoryNetwork, NetKernel, cryptoRandom, silentLogger, systemClock } from 'clusterluck';

const network = new MemoryNetwork();
const env = () => ({ clock: systemClock(), random: cryptoRandom(), transport: network.transport(), logger: silentLogger });
const a = new NetKernel({ env: env(), id: 'a', address: 'a', cookie: 'a cookie of enough length' });
const b = new NetKernel({ env: env(), id: 'b', address: 'b', cookie: 'a cookie of enough length' });
await Promise.all([a.start(), b.start()]);
a.connect(b.self);
class Greeter extends GenServer {
  constructor(kernel: NetKernel) {
    super(kernel);
    this.handle('hello', (name) => 'hello, ' + String(name));
  }
}
new Greeter(b).start('greeter');
const reply = await a.call({ node: 'b', name: 'greeter' }, 'hello', 'a', { timeoutMs: 5000 });
Object.assign(globalThis, { result: { reply, browserNode: typeof createBrowserNode, storage: typeof idbStorage } });
document.title = 'ready';
`;
