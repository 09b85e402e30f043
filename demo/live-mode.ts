// The page's live mode: this tab becomes a member of a real cluster (`createBrowserNode`, WebRTC),
// introduced through the PeerJS server and the Node member that `npm start` runs. It draws the ring
// and the lease lanes as this member sees them, and acquires and releases the demo's semaphores.
import { createBrowserNode, type Lease, type SemaphoreState, type WebRtcClusterNode } from '../lib/index.js';
import { LanesView, tokenColour } from './lanes-view.js';
import { liveCookie, liveDsm, liveGossip, liveLeaseMs, liveSemaphores, parseServerInfo, peerFromSearch, type LiveConfig } from './live-config.js';
import { LiveScene, shortId } from './live-scene.js';
import { RingView } from './ring-view.js';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

/** Time between this tab's looks at its view and at each semaphore's owner. */
const pollMs = 250;
/** A query to an owner that takes longer is given up (the next poll asks again). */
const queryTimeoutMs = 2000;

/** What tests and the curious can read: `window.clusterluckLive`. */
interface LiveProbe {
  status: 'connecting' | 'member' | 'left' | 'error' | 'no-cluster';
  self?: string;
  view: number;
  members: string[];
  /** Holder names (short ids) by semaphore, lowest lane first, as this tab last learned them. */
  holders: Record<string, string[]>;
  waiting: Record<string, string[]>;
  /** This tab's own state per semaphore. */
  mine: Record<string, 'idle' | 'waiting' | 'holding' | 'releasing'>;
  /** Why a semaphore's owner did not answer the last query, by semaphore (the lanes then show the last answer). */
  unanswered: Record<string, string>;
  error?: string;
}

type Mine = { state: 'idle' } | { state: 'waiting'; abort: AbortController } | { state: 'holding'; lease: Lease } | { state: 'releasing' };

const probe: LiveProbe = { status: 'connecting', view: 0, members: [], holders: {}, waiting: {}, mine: {}, unanswered: {} };
const mine = new Map<string, Mine>(liveSemaphores.map((s) => [s.id, { state: 'idle' }]));
let node: WebRtcClusterNode | undefined;
let scene = new LiveScene();
let ring: RingView;
let lanes: LanesView;
const t0 = performance.now();
let polling = false;
/** Semaphores whose owner did not answer the last query, with why. */
const unanswered = new Map<string, string>();

/** Where the cluster is: `?peer=host:port&seed=id`, or what the demo server says at `/live.json`. */
async function config(): Promise<LiveConfig | undefined> {
  const q = new URLSearchParams(location.search);
  const peer = peerFromSearch(location.search);
  if (peer !== undefined) return { ...peer, path: '/', seed: q.get('seed') ?? 'node' };
  try {
    const res = await fetch('/live.json', { cache: 'no-store' });
    const info = res.ok ? parseServerInfo(await res.json()) : undefined;
    return info === undefined ? undefined : { host: location.hostname, ...info };
  } catch {
    return undefined;
  }
}

function status(text: string): void {
  $('live-status').textContent = text;
}

async function join(): Promise<void> {
  probe.status = 'connecting';
  $('verdict').textContent = 'Joining the live cluster…';
  $('verdict').className = 'verdict';
  const c = await config();
  if (c === undefined) {
    probe.status = 'no-cluster';
    $('verdict').textContent = 'No live cluster to join';
    status('This page was not served by "npm start" (which runs a PeerJS server and a Node member), and its URL names no ?peer=host:port&seed=id.');
    return;
  }
  try {
    node = await createBrowserNode({
      cookie: liveCookie, storageName: 'clusterluck-demo', seed: c.seed, gossip: liveGossip, dsm: liveDsm,
      signaling: { host: c.host, port: c.port, path: c.path }, requireSignaling: true,
    });
  } catch (err) {
    probe.status = 'error';
    probe.error = String(err);
    $('verdict').textContent = 'Could not join the live cluster';
    $('verdict').className = 'verdict bad';
    status(`${String(err)} (PeerJS server ${c.host}:${c.port}; is "npm start" still running?)`);
    return;
  }
  probe.status = 'member';
  probe.self = shortId(node.self.id);
  scene = new LiveScene();
  $('live-leave').hidden = false;
  $('live-join').hidden = true;
  $('verdict').textContent = `You are member ${probe.self}`;
  status(`Joined through "${c.seed}" (PeerJS server ${c.host}:${c.port}).`);
}

async function leave(): Promise<void> {
  const n = node;
  if (n === undefined) return;
  node = undefined;
  // Its leases go back first (their owners may be other members), then the member leaves.
  const held: Promise<void>[] = [];
  for (const [id, m] of mine) {
    if (m.state === 'waiting') m.abort.abort(new Error('left the cluster'));
    if (m.state === 'holding') held.push(m.lease.release());
    mine.set(id, { state: 'idle' });
  }
  probe.status = 'left';
  $('live-leave').hidden = true;
  status('Leaving: giving back its leases, handing the semaphores it owns over, closing its links…');
  await Promise.all(held);
  try {
    await n.stop();
    $('verdict').textContent = 'You left the cluster';
    status('This tab left the cluster; the others saw a new view. "Join again" comes back as the same member.');
  } catch (err) {
    $('verdict').textContent = 'Leaving failed';
    status(`Leaving failed: ${String(err)}. The others remove this member when they stop hearing from it.`);
  }
  $('live-join').hidden = false;
  draw();
}

/** One look at the view and at every semaphore's holders, then a redraw. */
async function poll(): Promise<void> {
  const n = node;
  if (polling || n === undefined) return draw();
  polling = true;
  try {
    const view = n.gossip.view();
    const statuses = new Map(n.gossip.inspect().members.map((m) => [m.node.id, m.status]));
    const members = (view?.members ?? [n.self]).map((m) => ({ id: m.id, status: m.id === n.self.id ? 'alive' as const : statuses.get(m.id) }));
    const owners = new Map(liveSemaphores.map((s) => [s.id, n.gossip.find(s.id).id]));
    scene.membership(performance.now() - t0, n.self.id, view?.number ?? 0, members, owners);
    const states = await Promise.all(liveSemaphores.map((s) => (n.dsm.query(s.id, queryTimeoutMs) as Promise<SemaphoreState>).then((st) => {
      unanswered.delete(s.id);
      return st;
    }, (err: unknown) => {
      // Shown under the lane: what it draws is then the last answer (an owner that took the
      // semaphore over without a handoff answers once its lock-delay has run out).
      unanswered.set(s.id, (err as { message?: string }).message ?? String(err));
      return undefined;
    })));
    if (node !== n) return;
    const at = performance.now() - t0;
    liveSemaphores.forEach((s, i) => {
      const st = states[i];
      if (st !== undefined) scene.holders(at, s.id, st);
    });
  } finally {
    polling = false;
  }
  draw();
}

function draw(): void {
  const self = probe.self ?? '';
  scene.caption = node === undefined ? (probe.status === 'left' ? 'you left' : '') : `you: ${self}`;
  if (node === undefined) scene.membership(performance.now() - t0, '', 0, [], new Map());
  ring.draw(scene, undefined, 0);
  for (const s of liveSemaphores) lanes.draw(scene, [s.id], s.n, undefined);
  probe.view = scene.view;
  probe.members = [...scene.nodes.keys()].sort();
  for (const s of liveSemaphores) {
    probe.holders[s.id] = scene.heldAt(s.id).map((b) => b.holder);
    probe.waiting[s.id] = [...(scene.waiting.get(s.id)?.keys() ?? [])];
    const m = mine.get(s.id) ?? { state: 'idle' };
    probe.mine[s.id] = m.state;
    const why = node === undefined ? undefined : unanswered.get(s.id);
    if (why === undefined) delete probe.unanswered[s.id];
    else probe.unanswered[s.id] = why;
    const stale = document.querySelector(`[data-stale="${s.id}"]`);
    if (stale !== null) {
      stale.textContent = why === undefined ? '' : `${s.id}: its owner did not answer (${why}); the lane shows its last answer.`;
      (stale as HTMLElement).hidden = why === undefined;
    }
    const row = document.querySelector(`[data-semaphore="${s.id}"]`);
    if (row === null) continue;
    const [acquire, release] = row.querySelectorAll('button');
    (acquire as HTMLButtonElement).disabled = node === undefined || m.state !== 'idle';
    (release as HTMLButtonElement).disabled = node === undefined || (m.state !== 'holding' && m.state !== 'waiting');
    (release as HTMLButtonElement).textContent = m.state === 'waiting' ? 'Stop waiting' : 'Release';
    (row.querySelector('output') as HTMLOutputElement).textContent = m.state === 'holding'
      ? `you hold it: fencing token …${String(m.lease.token).slice(-3)}, renewed while held`
      : m.state === 'waiting' ? 'you wait in its owner\'s queue' : m.state === 'releasing' ? 'releasing…' : 'you do not hold it';
  }
}

async function acquire(id: string, n: number): Promise<void> {
  const member = node;
  if (member === undefined || mine.get(id)?.state !== 'idle') return;
  const abort = new AbortController();
  mine.set(id, { state: 'waiting', abort });
  draw();
  try {
    const lease = await member.dsm.acquire(id, { leaseMs: liveLeaseMs, limit: n, signal: abort.signal, holder: member.self.id });
    if (lease === null) throw new Error('not granted');
    mine.set(id, { state: 'holding', lease });
    lease.signal.addEventListener('abort', () => {
      const current = mine.get(id);
      if (current?.state !== 'holding' || current.lease !== lease) return;
      mine.set(id, { state: 'idle' });
      status(`Lost ${id}: ${String(lease.signal.reason)}`);
    });
  } catch (err) {
    mine.set(id, { state: 'idle' });
    if (!abort.signal.aborted) status(`Acquiring ${id} failed: ${String(err)}`);
  }
  draw();
}

async function release(id: string): Promise<void> {
  const m = mine.get(id);
  if (m?.state === 'waiting') return void m.abort.abort(new Error('stopped waiting'));
  if (m?.state !== 'holding') return;
  mine.set(id, { state: 'releasing' });
  draw();
  await m.lease.release();
  mine.set(id, { state: 'idle' });
  draw();
}

function controls(): void {
  const box = $('live-semaphores');
  for (const s of liveSemaphores) {
    const row = document.createElement('div');
    row.className = 'live-semaphore';
    row.dataset['semaphore'] = s.id;
    const name = document.createElement('strong');
    name.textContent = `${s.id} (n = ${s.n})`;
    const a = document.createElement('button');
    a.type = 'button';
    a.textContent = 'Acquire';
    a.addEventListener('click', () => void acquire(s.id, s.n));
    const r = document.createElement('button');
    r.type = 'button';
    r.textContent = 'Release';
    r.addEventListener('click', () => void release(s.id));
    row.append(name, a, r, document.createElement('output'));
    box.append(row);
  }
  for (const s of liveSemaphores) {
    const note = document.createElement('p');
    note.className = 'stale';
    note.dataset['stale'] = s.id;
    note.hidden = true;
    $('live-notes').append(note);
  }
  $('live-leave').addEventListener('click', () => void leave());
  $('live-join').addEventListener('click', () => void join());
  const items = [
    ['var(--alive)', 'a member, alive to this tab'], ['var(--suspect)', 'suspected by this tab\'s failure detector'], ['var(--down)', 'down to this tab, or leaving'],
  ].map(([c, t]) => `<li><span class="swatch" style="background:${c}"></span>${t}</li>`);
  items.push(`<li><span class="swatch bar" style="background:${tokenColour(3)}"></span><span class="swatch bar" style="background:${tokenColour(4)}"></span>a lease, as its owner reported it (colour: its fencing token; faint: the time it still has)</li>`);
  items.push('<li>vN under this tab\'s member: the view it holds; lock, pool: the semaphores a member owns</li>');
  $('live-legend').innerHTML = items.join('');
}

/** Shows the live mode, joins the cluster and keeps drawing what this tab sees. */
export async function startLiveMode(): Promise<void> {
  Object.assign(globalThis, { clusterluckLive: probe });
  $('sim-mode').hidden = true;
  $('live-mode').hidden = false;
  $('mode-name').textContent = 'live cluster';
  document.title = 'clusterluck live cluster';
  ring = new RingView($('live-ring') as unknown as SVGSVGElement, { onNode: () => undefined, onCut: () => undefined });
  lanes = new LanesView($('live-lanes'));
  controls();
  // Registered before the member's own pagehide (which stops it), so a closed tab's leases are
  // given back at once instead of when they run out on their owners.
  globalThis.addEventListener('pagehide', () => {
    for (const m of mine.values()) if (m.state === 'holding') void m.lease.release();
  });
  draw();
  setInterval(() => void poll(), pollMs);
  await join();
}
