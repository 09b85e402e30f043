// Semaphore holders across OS processes: three `clusterluck node` processes over TCP on 127.0.0.1
// and this test process as a fourth member, the client, whose DSMServer routes each request to the
// semaphore's owner on its ring. The owner leaves gracefully (SIGTERM: it hands its holders over)
// or is killed (SIGKILL: its successor waits out the lock-delay, and it comes back on its data
// dir). Every grant the client believes in is recorded; for n = 1 no two holders' may overlap.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ClusterNode } from '../lib/cluster/cluster-node.js';
import { driftMaxDefault, ownershipLeaseMsDefault, probeIntervalMsDefault, suspicionMultDefault } from '../lib/constants.js';
import type { HashRing } from '../lib/core/hash-ring.js';
import { isClusterluckError } from '../lib/env/errors.js';
import { detectionBoundMs } from '../lib/gossip/failure-detector.js';
import { openSession } from '../lib/cli/cli.js';
import { createCluster } from '../lib/node.js';
import { freePort, sleep, startNode, stopAll, until, type Proc } from './support/node-processes.js';

const cookie = 'multi-process-dsm-cookie';
const processIds = ['a', 'b', 'c'] as const;

/** What the client believed it held: from a successful post's send to send + timeout, or to the send of its close. */
interface Belief { readonly holder: string; readonly fromMs: number; untilMs: number }

/** Every grant the client believed in during a test. */
class Beliefs {
  readonly all: Belief[] = [];

  granted(holder: string, sentMs: number, timeoutMs: number): void {
    this.all.push({ holder, fromMs: sentMs, untilMs: sentMs + timeoutMs });
  }

  /** A close sent at `sentMs` ends `holder`'s beliefs there. */
  closed(holder: string, sentMs: number): void {
    for (const b of this.all) if (b.holder === holder && b.untilMs > sentMs) b.untilMs = Math.max(b.fromMs, sentMs);
  }

  /** When `holder`'s last belief ends (-Infinity when it never held). */
  endOf(holder: string): number {
    return Math.max(-Infinity, ...this.all.filter((b) => b.holder === holder).map((b) => b.untilMs));
  }

  /** Every two beliefs of different holders that overlap: with n = 1 there may be none. */
  overlaps(): string[] {
    const out: string[] = [];
    for (const [i, x] of this.all.entries()) {
      for (const y of this.all.slice(i + 1)) {
        if (x.holder !== y.holder && x.fromMs < y.untilMs && y.fromMs < x.untilMs) out.push(`${show(x)} overlaps ${show(y)}`);
      }
    }
    return out;
  }
}

const show = (b: Belief): string => `${b.holder} [${b.fromMs.toFixed(0)}, ${b.untilMs.toFixed(0)})`;

/** One post as the client saw it: when it was sent, and OK or the error code. */
interface Attempt { readonly holder: string; readonly sentMs: number; readonly code: string; readonly token?: number }

/** The README's example guard: a resource that refuses a fencing token older than the newest it has seen. */
function fencedResource(): { write: (token: number) => void } {
  let newest = 0;
  return {
    write(token) {
      if (token < newest) throw new Error(`stale fencing token ${token} (seen ${newest})`);
      newest = token;
    },
  };
}

/** Three `clusterluck node` processes (b and c join a) and the client member; `stop` undoes everything. */
class World {
  readonly procs: Proc[] = [];
  readonly ports = new Map<string, number>();
  readonly beliefs = new Beliefs();
  readonly attempts: Attempt[] = [];
  #client: ClusterNode | undefined;
  #dataRoot = '';

  /** `args`: more flags for every process; `leaseMsMax`/`autoRemoveAfterMs`: the same for the client. */
  constructor(readonly args: readonly string[], readonly leaseMsMax?: number, readonly autoRemoveAfterMs?: number) {}

  get client(): ClusterNode {
    if (this.#client === undefined) throw new Error('the client is not started');
    return this.#client;
  }

  async start(): Promise<void> {
    this.#dataRoot = await mkdtemp(join(tmpdir(), 'clusterluck-mp-dsm-'));
    for (const id of processIds) await this.startProc(id, id === 'a' ? undefined : 'a');
    // The client's DSMServer checks timeouts against its own leaseMsMax, and as a member it could
    // own keys: it gets the processes' settings. No data dir: it never owns the semaphores here.
    this.#client = await createCluster({
      id: 'client', cookie, join: `127.0.0.1:${this.ports.get('a')}`, logLevel: 'error',
      ...(this.leaseMsMax === undefined ? {} : { dsm: { leaseMsMax: this.leaseMsMax } }),
      ...(this.autoRemoveAfterMs === undefined ? {} : { gossip: { autoRemoveAfterMs: this.autoRemoveAfterMs } }),
    });
  }

  /** Starts process `id` (on its old port and data dir when it ran before). */
  async startProc(id: string, joinId?: string): Promise<Proc> {
    const port = this.ports.get(id) ?? await freePort();
    this.ports.set(id, port);
    return startNode({
      id, port, dataDir: join(this.#dataRoot, id), cookie, started: this.procs, args: this.args,
      ...(joinId === undefined ? {} : { join: `127.0.0.1:${this.ports.get(joinId)}` }),
    });
  }

  /** Starts everything and creates an n = 1 semaphore that `owner` owns (and whose next owner is a process, not the client). */
  async startWithSemaphore(prefix: string, owner: string): Promise<{ id: string; next: string }> {
    await this.start();
    const owned = idOwnedBy(this.client.gossip.ring(), prefix, owner);
    await until('the semaphore is created', async () => (await this.client.dsm.create(owned.id, 1, undefined, 3000), true));
    return owned;
  }

  /** The latest process started as `id`. */
  proc(id: string): Proc {
    const p = this.procs.findLast((x) => x.id === id);
    if (p === undefined) throw new Error(`no process ${id}`);
    return p;
  }

  /** Whether `id` is a member of the view the client is on. */
  inView(id: string): boolean {
    return this.client.gossip.view()?.members.some((m) => m.id === id) ?? false;
  }

  /** A post with retries 0, recorded: a success becomes a belief. */
  async post(id: string, holder: string, timeoutMs: number, reqTimeoutMs: number): Promise<Attempt> {
    const sentMs = performance.now();
    let code = 'OK';
    let token: number | undefined;
    try {
      token = await this.client.dsm.post(id, holder, timeoutMs, undefined, reqTimeoutMs, 0);
      this.beliefs.granted(holder, sentMs, timeoutMs);
    } catch (err) {
      code = isClusterluckError(err) ? err.code : String(err);
    }
    const a = { holder, sentMs, code, ...(token === undefined ? {} : { token }) };
    this.attempts.push(a);
    return a;
  }

  async close(id: string, holder: string): Promise<void> {
    this.beliefs.closed(holder, performance.now());
    await this.client.dsm.close(id, holder, undefined, 5000);
  }

  /** Every process's output, for a failure message. */
  logs(): string {
    return this.procs.map((p) => `--- ${p.id} (pid ${p.child.pid}) ---\n${p.output.text}`).join('\n');
  }

  async stop(): Promise<void> {
    // The client leaves no view behind: the processes go too.
    await this.#client?.stop({ leave: false }).catch(() => undefined);
    await stopAll(this.procs);
    if (this.#dataRoot !== '') await rm(this.#dataRoot, { recursive: true, force: true });
  }
}

/** A semaphore id `owner` owns on `ring` whose next owner without it is another process (not the client). */
function idOwnedBy(ring: HashRing, prefix: string, owner: string): { id: string; next: string } {
  const without = ring.clone().remove(owner);
  for (let i = 0; i < 10_000; i++) {
    const id = `${prefix}-${i}`;
    const next = without.find(id).id;
    if (ring.find(id).id === owner && next !== 'client') return { id, next };
  }
  throw new Error(`no id owned by ${owner} among 10000`);
}

describe('semaphore holders across processes: the owner leaves gracefully', () => {
  const world = new World([]);
  afterAll(() => world.stop(), 30_000);

  it('SIGTERM of the owner hands its holder to the next owner: the slot stays taken (SEMAPHORE_FULL) until the holder closes, then another holder gets it', async () => {
    const { id, next } = await world.startWithSemaphore('graceful', 'b');
    const { client, beliefs } = world;
    expect((await world.post(id, 'h1', 30_000, 5000)).code).toBe('OK');
    expect(await client.dsm.read(id, undefined, 5000)).toEqual({ n: 1, active: 1 });

    const b = world.proc('b');
    const exited = new Promise<number | null>((resolve) => b.child.once('exit', (code) => resolve(code)));
    b.child.kill('SIGTERM');
    await until('b leaves by a decided view without it', async () => (b.output.text.includes('(removed b: left)') ? true : undefined), 15_000);
    expect(b.output.text).toContain('leaving the ring and stopping');
    await until('the client adopts the view without b', async () => (world.inView('b') ? undefined : true), 15_000);
    expect(client.gossip.ring().find(id).id).toBe(next);
    // It handed over, stopped its table and exited (a table write in flight once kept it running).
    expect(await Promise.race([exited, sleep(10_000).then(() => 'still running')]), b.output.text).toBe(0);

    // The next owner answers only once the handoff is in (without one it would wait out the
    // lock-delay, 63 s here): with h1 still holding.
    const info = await until(`${next} serves ${id}`, async () => client.dsm.read(id, undefined, 3000), 15_000);
    expect(info, world.logs()).toEqual({ n: 1, active: 1 });
    for (let i = 0; i < 5; i++) {
      expect((await world.post(id, 'h2', 30_000, 3000)).code, world.logs()).toBe('SEMAPHORE_FULL');
      await sleep(400);
    }
    await world.close(id, 'h1');
    expect((await world.post(id, 'h2', 30_000, 3000)).code, world.logs()).toBe('OK');
    expect(await client.dsm.read(id, undefined, 3000)).toEqual({ n: 1, active: 1 });
    expect(beliefs.overlaps()).toEqual([]);
  }, 60_000);
});

/**
 * Long enough that h1's lease, posted just before the kill, still runs when the survivors have
 * removed the owner (about 6 s after the kill: failure detection, then `autoRemoveMs`): without
 * the lock-delay the next owner would grant h2 while h1 still believes it holds.
 */
const leaseMsMax = 10_000;
const autoRemoveMs = 1000;
/** The nodes run with the default ownership lease and ρ. */
const lockDelayMs = (leaseMsMax + ownershipLeaseMsDefault) * (1 + driftMaxDefault) ** 2;
const reqTimeoutMs = 1000;

describe('semaphore holders across processes: the owner is killed and restarted', () => {
  const world = new World(['--lease-ms-max', String(leaseMsMax), '--auto-remove-ms', String(autoRemoveMs)], leaseMsMax, autoRemoveMs);
  afterAll(() => world.stop(), 30_000);

  it('kill -9 of the owner: nobody gets the slot while h1 holds it; the next owner grants once the lock-delay is over; restarted on its data dir, the old owner rejoins and no two holders ever overlap', async () => {
    const { id, next } = await world.startWithSemaphore('crash', 'c');
    const { client, beliefs } = world;
    expect((await world.post(id, 'h1', leaseMsMax, reqTimeoutMs)).code).toBe('OK');
    const h1Until = beliefs.endOf('h1');

    let removed: { atMs: number; number: number } | undefined;
    client.gossip.events.addEventListener('view', (e) => {
      if (removed === undefined && !e.detail.view.members.some((m) => m.id === 'c')) removed = { atMs: performance.now(), number: e.detail.view.number };
    });
    const killedAtMs = performance.now();
    world.proc('c').child.kill('SIGKILL');
    const timeline = (): string => `ms after the kill: c removed at ${((removed?.atMs ?? NaN) - killedAtMs).toFixed(0)}, ` +
      `h1 held until ${(h1Until - killedAtMs).toFixed(0)}, lock-delay ${lockDelayMs.toFixed(0)}; posts: ` +
      world.attempts.map((a) => `${a.holder}@${(a.sentMs - killedAtMs).toFixed(0)} ${a.code}`).join(', ');
    const h2 = await until('h2 gets the slot after the lock-delay', async () => {
      const a = await world.post(id, 'h2', leaseMsMax, reqTimeoutMs);
      if (a.code === 'OK') return a;
      // Only c knew the semaphore: once b serves the key it does not exist, and h2 creates it
      // again, as an application would.
      if (a.code === 'NOT_FOUND') await client.dsm.create(id, 1, undefined, reqTimeoutMs);
      else await sleep(250);
      return undefined;
    }, leaseMsMax + lockDelayMs + 20_000, 0);
    expect(beliefs.overlaps(), timeline()).toEqual([]);
    expect(removed, 'the client never adopted a view without c').toBeDefined();
    const removedAtMs = (removed as { atMs: number }).atMs;
    // The removal came while h1 still held and h2 tried then: a grant too early would have shown.
    expect(removedAtMs, timeline()).toBeLessThan(h1Until);
    expect(world.attempts.some((a) => a.holder === 'h2' && a.sentMs > removedAtMs && a.sentMs < h1Until), timeline()).toBe(true);
    // h2's token (granted in a later view, by an owner that never heard of h1's) is larger: a resource
    // guarded by the token takes h2's writes and refuses h1, whose lease lapsed while c was gone.
    const h1Token = world.attempts.find((a) => a.holder === 'h1' && a.code === 'OK')?.token as number;
    expect(h2.token, timeline()).toBeGreaterThan(h1Token);
    const resource = fencedResource();
    resource.write(h2.token as number);
    expect(() => resource.write(h1Token)).toThrow(/stale fencing token/);
    // b adopted the view about when the client did (2 s slack), and a post waits there at most reqTimeoutMs.
    expect(h2.sentMs, timeline()).toBeGreaterThan(removedAtMs + lockDelayMs - reqTimeoutMs - 2000);
    expect(client.gossip.ring().find(id).id).toBe(next);

    // c comes back on its data dir, its table still holding the semaphore (and h1's lease, now
    // over). Until it owns the semaphore again and serves it, h2 keeps its lease fresh and h3 tries.
    await world.startProc('c', 'a');
    const h3 = async (): Promise<Attempt> => world.post(id, 'h3', leaseMsMax, reqTimeoutMs);
    const refresh = async (): Promise<void> => {
      if (performance.now() > beliefs.endOf('h2') - leaseMsMax / 2) await world.post(id, 'h2', leaseMsMax, reqTimeoutMs);
    };
    await until('c owns the semaphore again and serves it', async () => {
      await refresh();
      await h3();
      if (!world.inView('c') || client.gossip.ring().find(id).id !== 'c') return undefined;
      return client.dsm.read(id, undefined, reqTimeoutMs);
    }, 30_000, 250);
    const servedAtMs = performance.now();
    while (performance.now() < servedAtMs + 2000) {
      await refresh();
      expect((await h3()).code, `${timeline()}\n${world.logs()}`).toBe('SEMAPHORE_FULL');
      await sleep(250);
    }
    expect(await client.dsm.read(id, undefined, reqTimeoutMs)).toEqual({ n: 1, active: 1 });
    await world.close(id, 'h2');
    expect((await h3()).code, world.logs()).toBe('OK');
    // c logged a view with itself newer than the one that removed it.
    const removedIn = (removed as { number: number }).number;
    const rejoined = [...world.proc('c').output.text.matchAll(/\] view (\d+): (.*?)(?: \(removed [^)]*\))?\s*$/gm)].some((m) => Number(m[1]) > removedIn && (m[2] as string).split(', ').includes('c'));
    expect(rejoined, world.proc('c').output.text).toBe(true);
    expect(beliefs.overlaps(), timeline()).toEqual([]);
  }, 90_000);
});

describe('a dead owner fails fast; a restarted one is served at once', () => {
  // Shipped defaults except auto-remove, held off for a minute so that the restart below comes
  // back into the same view (a removal would make its keys wait out the lock-delay).
  const world = new World(['--auto-remove-ms', '60000'], undefined, 60_000);
  afterAll(() => world.stop(), 30_000);

  it('kill -9 of the owner: a read with the default reqTimeout (Infinity) ends UNREACHABLE within the detection bound, the next at once; restarted, the old client is served within a probe interval of a fresh one', async () => {
    const { id } = await world.startWithSemaphore('dead', 'c');
    const { client } = world;
    expect(await client.dsm.read(id)).toEqual({ n: 1, active: 0 });
    const c = world.proc('c');
    c.child.kill('SIGKILL');
    const killedAtMs = performance.now();
    await until('the client sees its connection to c close', async () => (client.kernel.isConnected('c') ? undefined : true), 10_000, 20);
    // Before: the read waited in the re-dial queue for as long as c stayed dead.
    const bound = detectionBoundMs(4, suspicionMultDefault, probeIntervalMsDefault);
    const first = await Promise.race([client.dsm.read(id).then(() => 'served', (e: { code?: string }) => e.code), sleep(bound + 5000).then(() => 'still pending')]);
    const firstMs = performance.now() - killedAtMs;
    expect(first).toBe('UNREACHABLE');
    expect(firstMs).toBeLessThanOrEqual(bound);
    const again = performance.now();
    await expect(client.dsm.read(id)).rejects.toMatchObject({ code: 'UNREACHABLE' });
    expect(performance.now() - again).toBeLessThan(1000);

    // c comes back on its port and data dir; a fresh session to it and the old client both read.
    await world.startProc('c', 'a');
    const restartedAtMs = performance.now();
    const fresh = await openSession(`127.0.0.1:${world.ports.get('c')}`, cookie);
    try {
      let freshMs: number | undefined;
      let oldMs: number | undefined;
      const last = { fresh: '', old: '' }; // the latest refusal of each, for a failure message
      await until('both the fresh session and the old client are served', async () => {
        const [f, o] = await Promise.all([
          freshMs === undefined ? fresh.run(`read ${id}`).then(() => true, (e: unknown) => { last.fresh = String(e); return false; }) : true,
          oldMs === undefined ? client.dsm.read(id, undefined, 2000).then(() => true, (e: unknown) => { last.old = String(e); return false; }) : true,
        ]);
        if (f && freshMs === undefined) freshMs = performance.now() - restartedAtMs;
        if (o && oldMs === undefined) oldMs = performance.now() - restartedAtMs;
        return freshMs !== undefined && oldMs !== undefined ? true : undefined;
      }, 30_000, 50).catch((err: unknown) => {
        throw new Error(`${String(err)}; last refusals: fresh session ${last.fresh || 'none'}, old client ${last.old || 'none'}\n${world.logs()}`);
      });
      console.log(`kill -9 of the owner: first read UNREACHABLE after ${firstMs.toFixed(0)} ms (bound ${bound} ms); after the restart, fresh session served at ${freshMs?.toFixed(0)} ms, old client at ${oldMs?.toFixed(0)} ms`);
      expect((oldMs as number) - (freshMs as number), world.logs()).toBeLessThanOrEqual(probeIntervalMsDefault + 250);
    } finally {
      await fresh.close();
    }
  }, 90_000);
});

describe('clusterluck node --lease-ms-max', () => {
  it('refuses a value that is not a positive number of ms, naming the flag and the value', async () => {
    const root = join(import.meta.dirname, '..');
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'lib/cli/main.ts'), 'node', '--id', 'x', '--port', '0', '--cookie', cookie, '--lease-ms-max', '0'],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (chunk: Buffer) => { err += chunk.toString(); });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(128); // bad usage
    expect(err).toContain('--lease-ms-max must be a number of ms > 0');
    expect(err).toContain('got "0"');
  });
});
