// Three OS processes running `clusterluck node` over TCP on 127.0.0.1, driven through the CLI's
// session API the way an operator would.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSession, type Session } from '../lib/cli/cli.js';
import { freePort, startNode, stopAll, until, type Proc } from './support/node-processes.js';

const cookie = 'multi-process-cookie';

describe('three clusterluck processes over TCP', () => {
  let dataRoot: string;
  const procs = new Map<string, Proc>();
  const sessions = new Map<string, Session>();

  beforeAll(async () => {
    dataRoot = await mkdtemp(join(tmpdir(), 'clusterluck-mp-'));
    const ports = [await freePort(), await freePort(), await freePort()];
    const ids = ['a', 'b', 'c'];
    for (const [i, id] of ids.entries()) {
      procs.set(id, await startNode({ id, port: ports[i] as number, dataDir: join(dataRoot, id), cookie, ...(i === 0 ? {} : { join: `127.0.0.1:${ports[0]}` }) }));
    }
    for (const [id, p] of procs) sessions.set(id, await openSession(`127.0.0.1:${p.port}`, cookie));
    await until('one ring of three', async () => {
      const sums = await Promise.all([...sessions.values()].map((s) => s.run('inspect') as Promise<{ ringChecksum: string; members: unknown[] }>));
      return new Set(sums.map((x) => x.ringChecksum)).size === 1 && sums.every((x) => x.members.length === 3) ? true : undefined;
    });
  }, 60_000);

  afterAll(async () => {
    for (const s of sessions.values()) await s.close().catch(() => undefined);
    await stopAll(procs.values());
    await rm(dataRoot, { recursive: true, force: true });
  });

  const session = (id: string): Session => sessions.get(id) as Session;

  it('create / post / close work from every node, routed to the owner', async () => {
    await session('a').run('create mp-jobs 2');
    await session('b').run('post mp-jobs holder-b 60000');
    await session('c').run('post mp-jobs holder-c 60000');
    expect(await session('a').run('read mp-jobs')).toEqual({ n: 2, active: 2 });
    await expect(session('a').run('post mp-jobs holder-a 60000')).rejects.toMatchObject({ code: 'SEMAPHORE_FULL' });
    await session('c').run('close mp-jobs holder-c');
    expect(await session('b').run('read mp-jobs')).toEqual({ n: 2, active: 1 });
  });

  it('a client with the wrong cookie is refused and changes nothing', async () => {
    await expect(openSession(`127.0.0.1:${procs.get('a')?.port}`, 'wrong-cookie', 6000)).rejects.toThrow(/could not reach/);
    expect(await session('a').run('read mp-jobs')).toEqual({ n: 2, active: 1 });
  });

  it('kill -9 of the owner: requests fail within reqTimeout; restarted on its data dir, its holders are back', async () => {
    const ownerId = ((await session('a').run('inspect')) as { members: { node: { id: string } }[] }).members.length > 0
      ? await ownerOf(session('a'), 'mp-persist')
      : 'a';
    const caller = ownerId === 'a' ? 'b' : 'a';
    await session(caller).run('create mp-persist 3');
    await session(caller).run('post mp-persist survivor 60000');
    const owner = procs.get(ownerId) as Proc;
    owner.child.kill('SIGKILL');
    await sessions.get(ownerId)?.close();
    sessions.delete(ownerId);
    const started = Date.now();
    await expect(session(caller).run('read mp-persist')).rejects.toBeDefined();
    expect(Date.now() - started).toBeLessThan(6000);
    procs.set(ownerId, await startNode({ id: ownerId, port: owner.port, dataDir: join(dataRoot, ownerId), cookie, join: `127.0.0.1:${procs.get(caller)?.port}` }));
    sessions.set(ownerId, await openSession(`127.0.0.1:${owner.port}`, cookie));
    const info = await until('the restarted owner serves', async () => (await session(caller).run('read mp-persist')) as { n: number; active: number });
    expect(info).toEqual({ n: 3, active: 1 });
  }, 60_000);
});

/** The owner of `id` as node `session` sees it (through `get` on the ring via `nodes`). */
async function ownerOf(session: Session, id: string): Promise<string> {
  const nodes = (await session.run('nodes')) as { id: string; address: string }[];
  const { HashRing } = await import('../lib/core/hash-ring.js');
  const ring = new HashRing();
  for (const n of nodes) ring.insert(n);
  return ring.find(id).id;
}
