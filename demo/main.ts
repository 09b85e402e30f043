// The simulator page: runs the real simulator in this tab (recording its events), and draws the
// recorded run at the chosen speed: the ring, messages, lease lanes and the checkers' verdict.
// Faults injected by clicking join the run's schedule, and the run is simulated again from the
// start with them, so every link and every replay line names the same run.
import type { Violation } from '../sim/checkers/checker.js';
import { faultKinds, type FaultKind, type ScheduledFault } from '../sim/world/faults.js';
import { scenarios, type ScenarioName } from '../sim/world/simulation.js';
import { laneWindowMs, LanesView, tokenColour } from './lanes-view.js';
import { readState, replayLine, simulationOptionsOf, writeState, type PageState } from './page-state.js';
import { Recording } from './recording.js';
import { Replay } from './replay.js';
import type { DemoProbe } from './probe.js';
import { RingView } from './ring-view.js';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

let state: PageState = readState(location.search);
let recording: Recording;
let replay: Replay;
let shown = 0;
let playing = true;
let stoppedAt: Violation | undefined;
let lastFrame = performance.now();
const probe: DemoProbe = { status: 'running', violations: [], shownAt: 0, view: 0, stoppedAtViolation: false, replay: '' };
Object.assign(globalThis, { clusterluckDemo: probe });

const ring = new RingView($('ring') as unknown as SVGSVGElement, {
  onNode: (host, anchor) => openMenu(host, anchor),
  onCut: (a, b) => inject({ kind: 'partition', nodes: a, label: `partition ${a.join(',')} | ${b.join(',')}` }),
});
const lanes = new LanesView($('lanes'));

function semaphoreNames(): string[] {
  return Array.from({ length: 3 }, (_, i) => `sem-${i}`);
}

function start(keepShown: number | undefined): void {
  recording?.stop();
  stoppedAt = undefined;
  probe.stoppedAtViolation = false;
  probe.status = 'running';
  delete probe.traceHash;
  recording = new Recording(simulationOptionsOf(state), () => onRecorded());
  replay = new Replay(recording);
  shown = keepShown ?? state.t ?? 0;
  playing = state.t === undefined || keepShown !== undefined;
  probe.replay = replayLine(state);
  $('run-info').textContent = `Replays in a terminal with: ${probe.replay}`;
  $('violation').hidden = true;
  history.replaceState(null, '', writeState(state));
}

function onRecorded(): void {
  $<HTMLInputElement>('scrubber').max = String(Math.floor(recording.frontier));
  if (recording.summary !== undefined) {
    probe.status = 'done';
    probe.traceHash = recording.summary.traceHash;
    probe.simWallMs = recording.wallMs;
    probe.simMs = recording.summary.clockMs;
  } else if (recording.error !== undefined) {
    probe.status = 'error';
    $('verdict').textContent = `The run failed: ${String(recording.error)}`;
  }
  probe.violations = recording.violations;
  if (recording.workloadAt !== undefined) probe.workloadAt = recording.workloadAt;
  // Opened from a violation's link: show it once the run got there again.
  const t = state.t;
  if (t !== undefined && stoppedAt === undefined && recording.frontier >= t) {
    const v = recording.violations.find((x) => x.at <= t + 0.5);
    if (v !== undefined) stopAtViolation(v);
  }
}

/** One animation frame: move the shown instant by the speed, stop at a violation, draw. */
function frame(now: number): void {
  const dt = Math.min(100, now - lastFrame);
  lastFrame = now;
  // A run simulated again (after an injection) may not have reached the shown instant yet: wait there.
  if (playing && recording !== undefined && recording.frontier >= shown) {
    const target = state.speed === 0 ? recording.frontier : shown + dt * state.speed;
    const first = recording.violations.find((v) => v.at > shown - 1 && v.at <= target && v !== stoppedAt);
    if (first !== undefined && stoppedAt === undefined) {
      shown = first.at;
      stopAtViolation(first);
    } else shown = Math.min(target, recording.frontier);
    if (recording.summary !== undefined && shown >= recording.frontier) playing = false;
  }
  draw();
  if (probe.firstFrameMs === undefined && replay.nodes.size > 0) probe.firstFrameMs = performance.now();
  requestAnimationFrame(frame);
}

function draw(): void {
  const at = Math.min(shown, recording.frontier);
  replay.seek(at);
  probe.shownAt = at;
  probe.view = replay.view;
  ring.draw(replay, recording.frames, Math.max(40, (state.speed === 0 ? 200 : state.speed) * 20));
  const found = recording.violations.filter((v) => v.at <= at);
  lanes.draw(replay, semaphoreNames(), scenarioLimit(), found);
  const scrub = $<HTMLInputElement>('scrubber');
  if (document.activeElement !== scrub) scrub.value = String(Math.floor(at));
  const catchingUp = at < shown ? ' (simulating again up to here…)' : '';
  $('clock').textContent = `${(at / 1000).toFixed(1)} s${recording.workloadAt === undefined ? '' : ` (workload ${(Math.max(0, at - recording.workloadAt) / 1000).toFixed(1)} s)`}${catchingUp}`;
  $('play').textContent = playing ? 'Pause' : 'Play';
  const verdict = $('verdict');
  verdict.className = found.length > 0 ? 'verdict bad' : 'verdict';
  if (probe.status !== 'error') {
    verdict.textContent = found.length > 0 ? `${found.length} violation${found.length > 1 ? 's' : ''}: ${found[0]?.class}` : recording.summary !== undefined && at >= recording.frontier ? `No violation: trace ${recording.summary.traceHash}` : 'No violation so far';
  }
}

/** Each semaphore's n in this run (the simulator's default unless the options say otherwise). */
function scenarioLimit(): number {
  return simulationOptionsOf(state).limit ?? 2;
}

function stopAtViolation(v: Violation): void {
  stoppedAt = v;
  playing = false;
  probe.stoppedAtViolation = true;
  const box = $('violation');
  box.hidden = false;
  box.innerHTML = '';
  const h = document.createElement('h2');
  h.textContent = `Violation at ${(v.at / 1000).toFixed(3)} s: ${v.class}`;
  const p = document.createElement('p');
  p.textContent = v.message;
  const replayCode = document.createElement('code');
  replayCode.id = 'replay-line';
  replayCode.textContent = replayLine(state);
  const link = document.createElement('a');
  link.href = writeState({ ...state, t: v.at });
  link.id = 'violation-link';
  link.textContent = 'Link to this run at this instant';
  const copy = document.createElement('button');
  copy.type = 'button';
  copy.textContent = 'Copy the command';
  copy.addEventListener('click', () => void navigator.clipboard?.writeText(replayCode.textContent ?? '').catch(() => undefined));
  const go = document.createElement('button');
  go.type = 'button';
  go.textContent = 'Continue';
  go.addEventListener('click', () => {
    playing = true;
    box.hidden = true;
  });
  box.append(h, p, document.createTextNode('Replay it in a terminal:'), replayCode, copy, document.createTextNode(' '), go, document.createElement('br'), link);
}

// --- injecting faults -----------------------------------------------------------------------

function faultMs(): number {
  return Math.max(1, Number($<HTMLInputElement>('fault-seconds').value) || 8) * 1000;
}

function inject(f: { kind: FaultKind; nodes: string[]; amount?: number; label: string }): void {
  if (recording.workloadAt === undefined || shown < recording.workloadAt) {
    $('verdict').textContent = 'Faults can be injected once the workload runs';
    return;
  }
  const at = Math.round(shown - recording.workloadAt);
  if (at >= state.durationS * 1000 - 10_000) {
    $('verdict').textContent = 'Faults stop 10 s before the end of the workload';
    return;
  }
  const fault: ScheduledFault = { at, kind: f.kind, nodes: f.nodes, ms: faultMs(), ...(f.amount === undefined ? {} : { amount: f.amount }) };
  state = { ...state, inject: [...state.inject, fault], t: undefined };
  start(shown);
}

function openMenu(host: string, anchor: DOMRect): void {
  const menu = $('node-menu');
  const panel = menu.parentElement?.getBoundingClientRect();
  menu.innerHTML = '';
  const title = document.createElement('h3');
  title.textContent = `${host}: inject at ${(shown / 1000).toFixed(1)} s`;
  menu.append(title);
  const others = recording.hosts.filter((h) => h !== host);
  const items: [string, () => void][] = [
    ['Crash (restarts after the fault length)', () => inject({ kind: 'crash', nodes: [host], label: 'crash' })],
    ['Crash and wipe its disk', () => inject({ kind: 'wipe', nodes: [host], label: 'wipe' })],
    ['Pause it', () => inject({ kind: 'pause', nodes: [host], label: 'pause' })],
    ['Leave, then restart', () => inject({ kind: 'leave', nodes: [host], label: 'leave' })],
    ['Isolate it (partition)', () => inject({ kind: 'partition', nodes: others, label: 'isolate' })],
    ['Skew its wall clock +5 s', () => inject({ kind: 'jump', nodes: [host], amount: 5000, label: 'jump' })],
    ['Skew its wall clock −5 s', () => inject({ kind: 'jump', nodes: [host], amount: -5000, label: 'jump' })],
    ['Run its clock 1 % fast', () => inject({ kind: 'drift', nodes: [host], amount: 1.01, label: 'drift' })],
  ];
  for (const [label, act] of items) {
    const b = document.createElement('button');
    b.type = 'button';
    b.setAttribute('role', 'menuitem');
    b.textContent = label;
    b.addEventListener('click', () => {
      closeMenu();
      act();
    });
    menu.append(b);
  }
  menu.hidden = false;
  if (panel !== undefined) {
    menu.style.left = `${Math.min(panel.width - 200, Math.max(0, anchor.left - panel.left))}px`;
    menu.style.top = `${anchor.bottom - panel.top + 4}px`;
  }
  (menu.querySelector('button') as HTMLButtonElement | null)?.focus();
}

function closeMenu(): void {
  $('node-menu').hidden = true;
}

// --- controls -----------------------------------------------------------------------------

function fillForm(): void {
  const form = $<HTMLFormElement>('run-form');
  const field = (name: string): HTMLInputElement => form.elements.namedItem(name) as HTMLInputElement;
  field('seed').value = state.seed;
  field('nodes').value = String(state.nodes);
  field('clients').value = String(state.clients);
  field('duration').value = String(state.durationS);
  field('clusterluck').checked = state.clusterluck;
  const select = form.elements.namedItem('scenario') as HTMLSelectElement;
  select.innerHTML = Object.keys(scenarios).map((s) => `<option value="${s}">${s}</option>`).join('');
  select.value = state.scenario;
  const kinds = $('fault-kinds');
  const chosen: readonly FaultKind[] = state.faults ?? (scenarios[state.scenario] as { faults?: readonly FaultKind[] }).faults ?? faultKinds;
  kinds.innerHTML = '';
  for (const k of faultKinds) {
    const label = document.createElement('label');
    label.innerHTML = `<input type="checkbox" name="fault" value="${k}"${chosen.includes(k) ? ' checked' : ''}> ${k}`;
    kinds.append(label);
  }
  $<HTMLSelectElement>('speed').value = String(state.speed);
}

function readForm(): PageState {
  const form = $<HTMLFormElement>('run-form');
  const data = new FormData(form);
  const scenario = String(data.get('scenario') ?? 'default') as ScenarioName;
  const picked = data.getAll('fault').map(String) as FaultKind[];
  const scenarioFaults: readonly FaultKind[] = (scenarios[scenario] as { faults?: readonly FaultKind[] }).faults ?? faultKinds;
  const same = picked.length === scenarioFaults.length && picked.every((k) => scenarioFaults.includes(k));
  const num = (name: string, fallback: number): number => {
    const n = Number(data.get(name));
    return Number.isInteger(n) && n >= 0 ? n : fallback;
  };
  return readState(writeState({
    ...state, seed: String(data.get('seed') ?? '1').trim() || '1', nodes: num('nodes', 5), clients: num('clients', 20), durationS: num('duration', 60),
    scenario, faults: same && scenario !== state.scenario ? undefined : same ? state.faults === undefined ? undefined : picked : picked,
    clusterluck: data.get('clusterluck') !== null, inject: [], t: undefined,
  }));
}

function legend(): void {
  const items: [string, string][] = [
    ['var(--alive)', 'alive'], ['var(--suspect)', 'suspected by a peer'], ['var(--down)', 'down to its peers, or leaving'],
    ['var(--paused)', 'paused'], ['var(--crashed)', 'crashed or left'], ['var(--booting)', 'booting'],
  ];
  const html = items.map(([c, t]) => `<li><span class="swatch" style="background:${c}"></span>${t}</li>`);
  html.push('<li><span class="swatch" style="border-color:var(--side-a)"></span><span class="swatch" style="border-color:var(--side-b)"></span>partition sides A and B</li>');
  html.push('<li><span class="swatch" style="background:#2b2d33;width:.5rem;height:.5rem"></span>a message in flight (sampled)</li>');
  html.push('<li><span style="color:var(--bad);font-weight:700">✕</span> a dropped message</li>');
  html.push(`<li><span class="swatch bar" style="background:${tokenColour(3)}"></span><span class="swatch bar" style="background:${tokenColour(4)}"></span>a lease (colour: its fencing token; faint: the time its holder still believed it had), up to ${laneWindowMs / 1000} s back</li>`);
  html.push('<li><span class="swatch bar" style="background:#c6282822"></span>lanes beyond n: more holders than slots</li>');
  html.push('<li><span class="swatch bar" style="border-color:var(--bad)"></span>a lease in a violation</li>');
  html.push('<li>vN under a node: the view it holds; sem-N: the semaphores it owns</li>');
  $('legend').innerHTML = html.join('');
}

function wire(): void {
  $('play').addEventListener('click', () => togglePlay());
  $('step').addEventListener('click', () => step());
  $<HTMLSelectElement>('speed').addEventListener('change', (ev) => {
    state = { ...state, speed: Number((ev.target as HTMLSelectElement).value) };
    history.replaceState(null, '', writeState({ ...state, t: undefined }));
  });
  $<HTMLInputElement>('scrubber').addEventListener('input', (ev) => {
    shown = Number((ev.target as HTMLInputElement).value);
    playing = false;
  });
  $<HTMLFormElement>('run-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    state = readForm();
    start(undefined);
  });
  document.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape') closeMenu();
    const t = ev.target as HTMLElement;
    if (t.closest('input, select, textarea, button, [role=button], [role=menu]') !== null) return;
    if (ev.key === ' ') {
      ev.preventDefault();
      togglePlay();
    } else if (ev.key === 'ArrowRight') step();
  });
  document.addEventListener('pointerdown', (ev) => {
    if ((ev.target as Element).closest('#node-menu, g.node') === null) closeMenu();
  });
}

function togglePlay(): void {
  playing = !playing;
  if (playing) $('violation').hidden = true;
}

function step(): void {
  playing = false;
  shown = Math.min(recording.frontier, shown + 100);
}

// `?mode=live`: this tab joins the live cluster instead (its code is loaded only then).
const live = new URLSearchParams(location.search).get('mode') === 'live';
$(live ? 'mode-live' : 'mode-sim').setAttribute('aria-current', 'page');
if (live) {
  void import('./live-mode.js').then((m) => m.startLiveMode());
} else {
  legend();
  fillForm();
  wire();
  start(undefined);
  document.title = 'clusterluck simulator';
  requestAnimationFrame((now) => {
    lastFrame = now;
    frame(now);
  });
}
