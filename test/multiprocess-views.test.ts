// Membership by decided views across OS processes: `clusterluck node` over TCP on 127.0.0.1,
// members frozen with SIGSTOP (a process that stops answering without closing its sockets) and
// resumed with SIGCONT, observed through the CLI's `view` command and the nodes' `view N: ...` logs.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openSession, type Session } from '../lib/cli/cli.js';
import { freePort, sleep, startNode, stopAll, until, type Proc } from './support/node-processes.js';

const cookie = 'multi-process-views-cookie';
/** Short enough to keep the tests short; every node gets it. */
const autoRemoveMs = 3000;

interface ViewMemberOut { id: string; address: string; weight: number; incarnation: string }
interface ViewOut {
  view: { cluster: string; number: number; members: ViewMemberOut[]; removed: { id: string; reason: string; view: number }[] };
  incarnation: string;
  serving: boolean;
  leaseExpiresAtMs: number | undefined;
  changePending: boolean;
  pendingChanges: unknown;
}

const ids = (v: ViewOut): string[] => v.view.members.map((m) => m.id).sort();
const has = (v: ViewOut, id: string): boolean => v.view.members.some((m) => m.id === id);
const describeView = (who: string, v: ViewOut): string => `${who}: view ${v.view.number} [${ids(v).join(',')}] serving=${v.serving}`;

/**
 * Every `view` answer seen during a test: per cluster and view number, the member list (ids,
 * addresses, weights, incarnations) the first node reported; any other list for that number is a
 * disagreement, kept with both lists.
 */
class ViewRecord {
  readonly byNumber = new Map<string, { who: string; members: string }>();
  readonly disagreements: string[] = [];
  /** Each node's view numbers in the order it reported them. */
  readonly sequence = new Map<string, number[]>();

  note(who: string, v: ViewOut): ViewOut {
    const key = `${v.view.cluster}#${v.view.number}`;
    const members = JSON.stringify(v.view.members.map((m) => [m.id, m.address, m.weight, m.incarnation]));
    const first = this.byNumber.get(key);
    if (first === undefined) this.byNumber.set(key, { who, members });
    else if (first.members !== members) this.disagreements.push(`view ${key}: ${first.who} saw ${first.members}, ${who} saw ${members}`);
    const seq = this.sequence.get(who) ?? [];
    seq.push(v.view.number);
    this.sequence.set(who, seq);
    return v;
  }
}

/** A set of nodes, their sessions and data directories; `close` undoes everything. */
class Cluster {
  readonly procs: Proc[] = [];
  readonly sessions = new Map<string, Session>();
  readonly record = new ViewRecord();
  dataRoot = '';

  async init(): Promise<void> {
    this.dataRoot = await mkdtemp(join(tmpdir(), 'clusterluck-views-'));
  }

  proc(id: string): Proc {
    const p = this.procs.find((x) => x.id === id);
    if (p === undefined) throw new Error(`no process ${id}`);
    return p;
  }

  async start(id: string, joinId?: string): Promise<Proc> {
    const port = await freePort();
    const p = await startNode({
      id, port, dataDir: join(this.dataRoot, id), cookie, started: this.procs, args: ['--auto-remove-ms', String(autoRemoveMs)],
      ...(joinId === undefined ? {} : { join: `127.0.0.1:${this.proc(joinId).port}` }),
    });
    await this.reconnect(id);
    return p;
  }

  /** A fresh session to `id` (the old one, if any, closed). */
  async reconnect(id: string): Promise<void> {
    await this.sessions.get(id)?.close().catch(() => undefined);
    this.sessions.delete(id);
    const port = this.proc(id).port;
    this.sessions.set(id, await until(`a session to ${id}`, () => openSession(`127.0.0.1:${port}`, cookie, 3000), 20_000));
  }

  /** `view` on node `id`, recorded. */
  async view(id: string): Promise<ViewOut> {
    const s = this.sessions.get(id);
    if (s === undefined) throw new Error(`no session to ${id}`);
    return this.record.note(id, (await s.run('view')) as ViewOut);
  }

  /** `view` on each of `nodes`, recorded; undefined when any of them does not answer. */
  async views(nodes: readonly string[]): Promise<Map<string, ViewOut> | undefined> {
    const out = await Promise.all(nodes.map((id) => this.view(id).catch(() => undefined)));
    if (out.some((v) => v === undefined)) return undefined;
    return new Map(nodes.map((id, i) => [id, out[i] as ViewOut]));
  }

  /** Until every one of `nodes` reports the same view number with exactly `members` (sorted ids). */
  async agree(what: string, nodes: readonly string[], members: readonly string[], ms: number, after = 0): Promise<Map<string, ViewOut>> {
    let last = '';
    try {
      return await until(what, async () => {
        const vs = await this.views(nodes);
        if (vs === undefined) return undefined;
        last = [...vs].map(([id, v]) => describeView(id, v)).join('; ');
        const numbers = new Set([...vs.values()].map((v) => v.view.number));
        const [n] = numbers;
        return numbers.size === 1 && (n as number) > after && [...vs.values()].every((v) => ids(v).join(',') === members.join(',')) ? vs : undefined;
      }, ms);
    } catch (err) {
      throw new Error(`${(err as Error).message}; last seen: ${last}`);
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.sessions.values()].map((s) => s.close().catch(() => undefined)));
    this.sessions.clear();
    await stopAll(this.procs);
    if (this.dataRoot !== '') await rm(this.dataRoot, { recursive: true, force: true });
  }
}

function signal(p: Proc, sig: 'SIGSTOP' | 'SIGCONT'): void {
  process.kill(p.child.pid as number, sig);
}

/** The `view N: a, b, c` lines a node logged, in order. */
function loggedViews(p: Proc): { number: number; members: string[] }[] {
  const out: { number: number; members: string[] }[] = [];
  for (const line of p.output.text.split('\n')) {
    const m = /\] view (\d+): (.*?)(?: \(removed [^)]*\))?\s*$/.exec(line);
    if (m !== null) out.push({ number: Number(m[1]), members: (m[2] as string).split(',').map((s) => s.trim()).filter((s) => s !== '').sort() });
  }
  return out;
}

describe('views across processes: a stopped member is removed by a majority and rejoins', () => {
  const cluster = new Cluster();
  afterAll(() => cluster.close(), 30_000);

  it('3 TCP processes: one stopped (SIGSTOP) longer than the removal time is removed by the other two; it does not serve as owner while stopped or after it resumes until it is a member again, and after SIGCONT it learns the new view and rejoins', async () => {
    await cluster.init();
    await cluster.start('a');
    await cluster.start('b', 'a');
    await cluster.agree('a and b in one view', ['a', 'b'], ['a', 'b'], 20_000);
    await cluster.start('c', 'a');
    const full = await cluster.agree('a, b, c in one view of 3', ['a', 'b', 'c'], ['a', 'b', 'c'], 30_000);
    const first = (full.get('a') as ViewOut).view.number;
    // Before it is stopped, c serves as owner (one confirmation from the other two suffices).
    await until('c serving in the view of 3', async () => ((await cluster.view('c')).serving ? true : undefined), 15_000);

    const c = cluster.proc('c');
    signal(c, 'SIGSTOP');
    const stoppedAt = Date.now();
    // a and b decide a view without c: the view number a reports only grows.
    const removal = await until('a removes c', async () => {
      const vs = await cluster.views(['a', 'b']);
      const va = vs?.get('a');
      return va !== undefined && !has(va, 'c') ? va : undefined;
    }, 20_000);
    const removedAfterMs = Date.now() - stoppedAt;
    const removedIn = removal.view.number;
    expect(removedIn).toBeGreaterThan(first);
    expect(ids(removal)).toEqual(['a', 'b']);
    // Not before it has been down for autoRemoveMs (and down takes probes and a suspicion first).
    expect(removedAfterMs).toBeGreaterThanOrEqual(autoRemoveMs);
    expect(removal.view.removed).toContainEqual(expect.objectContaining({ id: 'c', reason: 'down' }));
    // b is on that view (or a later one) too; the record checks it has the same members.
    const vb = await until('b on the view without c', async () => {
      const v = await cluster.view('b');
      return v.view.number >= removedIn ? v : undefined;
    }, 10_000);
    if (vb.view.number === removedIn) expect(vb.view.members).toEqual(removal.view.members);
    expect(has(vb, 'c')).toBe(false);

    // Stay stopped a while longer, as a member cut off for long would.
    await sleep(2000);
    // Every answer of c after it resumes: it serves only once it is a member of a view newer than
    // the one that removed it. The first answer at that view or later: out and not serving, or back.
    const afterResume: ViewOut[] = [];
    // A request queued on c's socket while it is stopped is among the first things it handles when
    // it resumes, so it sees c as it wakes up (most likely still on the view of three).
    const onWaking = cluster.view('c').catch(() => undefined);
    await sleep(200);
    signal(c, 'SIGCONT');
    const woke = await onWaking;
    if (woke === undefined) await cluster.reconnect('c');
    else afterResume.push(woke);
    const caughtUp = await until('c learns the view that removed it', async () => {
      const v = await cluster.view('c');
      afterResume.push(v);
      return v.view.number >= removedIn ? v : undefined;
    }, 20_000, 50);
    const caughtUpOk = (!has(caughtUp, 'c') && !caughtUp.serving) || (caughtUp.view.number > removedIn && has(caughtUp, 'c'));
    expect(caughtUpOk, describeView('c', caughtUp)).toBe(true);

    // All three agree again on a view of three, later than the one that removed c.
    const back = await until('a, b, c agree on a view of three after the removal', async () => {
      const vs = await cluster.views(['a', 'b', 'c']);
      if (vs === undefined) return undefined;
      afterResume.push(vs.get('c') as ViewOut);
      const numbers = new Set([...vs.values()].map((v) => v.view.number));
      const [n] = numbers;
      return numbers.size === 1 && (n as number) > removedIn && [...vs.values()].every((v) => ids(v).join(',') === 'a,b,c') ? vs : undefined;
    }, 30_000);
    const cBack = back.get('c') as ViewOut;
    expect(cBack.view.number).toBeGreaterThan(removedIn);

    for (const v of afterResume) {
      const mayServe = v.view.number > removedIn && has(v, 'c');
      if (v.serving) expect(mayServe, `c served while not a member again: ${describeView('c', v)}`).toBe(true);
    }
    // c serves again once it is back (it has confirmations from a and b).
    await until('c serving again', async () => {
      const v = await cluster.view('c');
      afterResume.push(v);
      return v.serving && has(v, 'c') && v.view.number > removedIn ? true : undefined;
    }, 15_000);

    const seqA = cluster.record.sequence.get('a') ?? [];
    for (let i = 1; i < seqA.length; i++) expect(seqA[i] as number, `a's view numbers: ${seqA.join(' ')}`).toBeGreaterThanOrEqual(seqA[i - 1] as number);
    expect(cluster.record.disagreements).toEqual([]);
  }, 90_000);
});

describe('views across processes: a 2/3 split', () => {
  const cluster = new Cluster();
  afterAll(() => cluster.close(), 30_000);

  it('5 processes split 2/3 by stopping two: the three remove the two by a decided view; the two, resumed, never install a view without the three', async () => {
    await cluster.init();
    const all = ['p0', 'p1', 'p2', 'p3', 'p4'];
    await cluster.start('p0');
    // One at a time, each in the view before the next starts, so every view after the first
    // ones holds p0, p1 and p2.
    for (let i = 1; i < all.length; i++) {
      await cluster.start(all[i] as string, 'p0');
      const upTo = all.slice(0, i + 1);
      await cluster.agree(`${upTo.join(', ')} in one view`, upTo, upTo, 30_000);
    }

    const [p3, p4] = [cluster.proc('p3'), cluster.proc('p4')];
    signal(p3, 'SIGSTOP');
    signal(p4, 'SIGSTOP');
    const majority = ['p0', 'p1', 'p2'];
    const three = await cluster.agree('p0, p1, p2 remove p3 and p4', majority, majority, 25_000);
    const removedIn = (three.get('p0') as ViewOut).view.number;

    signal(p3, 'SIGCONT');
    signal(p4, 'SIGCONT');
    await cluster.reconnect('p3');
    await cluster.reconnect('p4');
    const five = await cluster.agree('all five agree on a view of five again', all, all, 40_000, removedIn);
    expect((five.get('p0') as ViewOut).view.number).toBeGreaterThan(removedIn);
    await sleep(500);

    const logs = new Map(all.map((id) => [id, loggedViews(cluster.proc(id))]));
    const text = (id: string): string => (logs.get(id) ?? []).map((v) => `view ${v.number}: ${v.members.join(', ')}`).join('\n');
    // The minority, resumed, never adopted a view the three did not decide with them.
    for (const id of ['p3', 'p4']) {
      const views = logs.get(id) ?? [];
      expect(views.length, `${id} logged no view:\n${cluster.proc(id).output.text}`).toBeGreaterThan(0);
      for (const v of views) {
        expect(majority.every((m) => v.members.includes(m)), `${id} adopted view ${v.number} without p0, p1, p2:\n${text(id)}`).toBe(true);
      }
    }
    // One member list per view number, across every log.
    const byNumber = new Map<number, { who: string; members: string }>();
    const conflicts: string[] = [];
    for (const [id, views] of logs) {
      for (const v of views) {
        const members = v.members.join(',');
        const first = byNumber.get(v.number);
        if (first === undefined) byNumber.set(v.number, { who: id, members });
        else if (first.members !== members) conflicts.push(`view ${v.number}: ${first.who} logged ${first.members}, ${id} logged ${members}`);
      }
    }
    expect(conflicts).toEqual([]);
    // The three logged the view that removed the two.
    for (const id of majority) expect((logs.get(id) ?? []).some((v) => v.number === removedIn && v.members.join(',') === 'p0,p1,p2'), text(id)).toBe(true);
    // Every node's logged view numbers only increase.
    for (const [id, views] of logs) {
      for (let i = 1; i < views.length; i++) expect((views[i] as { number: number }).number, `${id}:\n${text(id)}`).toBeGreaterThan((views[i - 1] as { number: number }).number);
    }
    expect(cluster.record.disagreements).toEqual([]);
  }, 90_000);
});
