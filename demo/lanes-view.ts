// Per semaphore: swim lanes of leases over the last seconds (one bar per holder, coloured by its
// fencing token), the count held against n, the owner, the waiters, and the verdict.
import type { Violation } from '../sim/checkers/checker.js';
import type { Bar } from './replay.js';

/** Simulated ms of the past the lanes show at most, up to the current instant. */
export const laneWindowMs = 20_000;
/** Simulated ms beyond the current instant: how long the holders then believed they would hold. */
const laneAheadMs = 3000;
const rowPx = 16;

/** A fencing token's colour: neighbouring tokens get far-apart hues. */
export function tokenColour(token: number): string {
  return `hsl(${(token * 137.508) % 360} 62% 52%)`;
}

/** What the lanes draw: a recorded run at one instant (`Replay`), or what a live member has seen. */
export interface LaneScene {
  readonly at: number;
  readonly bars: ReadonlyMap<string, readonly Bar[]>;
  /** Holders queued, by semaphore: holder to its node. */
  readonly waiting: ReadonlyMap<string, ReadonlyMap<string, string>>;
  readonly owners: ReadonlyMap<string, string>;
  heldAt(semaphore: string): Bar[];
}

export class LanesView {
  readonly #root: HTMLElement;
  readonly #lanes = new Map<string, { head: HTMLElement; canvas: HTMLCanvasElement; empty: HTMLElement }>();

  constructor(root: HTMLElement) {
    this.#root = root;
  }

  /**
   * Draws every semaphore in `names` at `replay.at`; holders named by `violations` are outlined.
   * Without `violations` (no checker runs, as in live mode) no verdict is shown.
   */
  draw(replay: LaneScene, names: readonly string[], limit: number, violations: readonly Violation[] | undefined): void {
    if (names.length === 0) {
      this.#root.innerHTML = '<p class="empty">No semaphores in this run.</p>';
      return;
    }
    for (const name of names) this.#drawOne(replay, name, limit, violations?.filter((v) => v.semaphore === name && v.at <= replay.at));
  }

  #lane(name: string): { head: HTMLElement; canvas: HTMLCanvasElement; empty: HTMLElement } {
    let l = this.#lanes.get(name);
    if (l === undefined) {
      const box = document.createElement('div');
      box.className = 'lane';
      const head = document.createElement('div');
      head.className = 'lane-head';
      const canvas = document.createElement('canvas');
      canvas.setAttribute('role', 'img');
      const empty = document.createElement('p');
      empty.className = 'empty';
      empty.textContent = 'No grant yet.';
      box.append(head, canvas, empty);
      this.#root.append(box);
      l = { head, canvas, empty };
      this.#lanes.set(name, l);
    }
    return l;
  }

  #drawOne(replay: LaneScene, name: string, limit: number, found: readonly Violation[] | undefined): void {
    const l = this.#lane(name);
    const t = replay.at;
    const from = t - Math.min(laneWindowMs, Math.max(3000, t));
    const span = t + laneAheadMs - from;
    const bars = (replay.bars.get(name) ?? []).filter((b) => b.from <= t && Math.min(b.until, b.endedAt ?? Infinity) > from);
    const held = replay.heldAt(name).reduce((n, b) => n + b.permits, 0);
    const waiting = replay.waiting.get(name)?.size ?? 0;
    const owner = replay.owners.get(name);
    const bad = found !== undefined && found.length > 0;
    const culprits = new Set((found ?? []).flatMap((v) => (v.holders ?? []).map((h) => h.replace(/×\d+$/, ''))));
    l.head.innerHTML = '';
    const parts: [string, string][] = [
      ['strong', name], ['span', `owner ${owner ?? '–'}`],
      [held > limit ? 'span.over' : 'span', `${held} / ${limit} held`], ['span', `${waiting} waiting`],
      ...(found === undefined ? [] : [[bad ? 'span.over' : 'span', bad ? `✗ ${found[0]?.class ?? 'violation'}` : '✓ safe so far'] as [string, string]]),
    ];
    for (const [tag, text] of parts) {
      const [kind, cls] = tag.split('.');
      const e = document.createElement(kind as string);
      if (cls !== undefined) e.className = cls;
      e.textContent = text;
      l.head.append(e);
    }
    l.empty.hidden = bars.length > 0;
    const lanes = Math.max(limit, ...bars.map((b) => b.lane + 1)) + (waiting > 0 ? 1 : 0);
    const cssWidth = Math.max(200, l.canvas.clientWidth || 600);
    const cssHeight = lanes * rowPx + 14;
    const dpr = globalThis.devicePixelRatio || 1;
    if (l.canvas.width !== Math.round(cssWidth * dpr) || l.canvas.height !== Math.round(cssHeight * dpr)) {
      l.canvas.width = Math.round(cssWidth * dpr);
      l.canvas.height = Math.round(cssHeight * dpr);
      l.canvas.style.height = `${cssHeight}px`;
    }
    const g = l.canvas.getContext('2d');
    if (g === null) return;
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, cssWidth, cssHeight);
    const x = (ms: number): number => ((ms - from) / span) * cssWidth;
    g.fillStyle = '#8883';
    for (let s = Math.ceil(from / 5000) * 5000; s <= t; s += 5000) g.fillRect(x(s), 0, 1, cssHeight);
    g.fillStyle = '#c6282822';
    g.fillRect(0, limit * rowPx, cssWidth, Math.max(0, lanes - limit - (waiting > 0 ? 1 : 0)) * rowPx);
    g.font = '10px system-ui, sans-serif';
    for (const b of bars) this.#bar(g, b, x, t, culprits.has(b.holder));
    g.fillStyle = '#1d1f24';
    g.fillRect(x(t), 0, 1.5, cssHeight);
    if (waiting > 0) {
      g.fillStyle = '#5f6470';
      g.fillText(`${waiting} waiting: ${[...(replay.waiting.get(name)?.keys() ?? [])].slice(0, 6).join(', ')}`, 4, (lanes - 1) * rowPx + 11);
    }
    g.fillStyle = '#5f6470';
    g.fillText(`${(from / 1000).toFixed(0)} s`, 2, cssHeight - 2);
    g.fillText(`now ${(t / 1000).toFixed(1)} s`, x(t) - 62, cssHeight - 2);
    l.canvas.setAttribute('aria-label', `${name}: ${bars.map((b) => `${b.holder} token ${b.token}`).join(', ') || 'no leases'} up to ${(t / 1000).toFixed(1)} s`);
  }

  #bar(g: CanvasRenderingContext2D, b: Bar, x: (ms: number) => number, t: number, culprit: boolean): void {
    const end = Math.min(b.until, b.endedAt ?? Infinity, t);
    const x0 = Math.max(0, x(b.from));
    const x1 = Math.max(x0 + 2, x(end));
    const y = b.lane * rowPx + 2;
    g.fillStyle = tokenColour(b.token);
    // What the holder believed at `t` about the time still ahead of it, faint.
    if (b.endedAt === undefined && b.until > t) {
      g.globalAlpha = 0.3;
      g.fillRect(x1, y, x(b.until) - x1, rowPx - 4);
      g.globalAlpha = 1;
    }
    g.fillRect(x0, y, x1 - x0, rowPx - 4);
    if (culprit) {
      g.strokeStyle = '#c62828';
      g.lineWidth = 2.5;
      g.strokeRect(x0, y - 1, Math.max(x1, x(Math.min(b.until, t + laneAheadMs))) - x0, rowPx - 2);
    }
    if (x1 - x0 > 60) {
      g.fillStyle = '#fff';
      // Tokens are large numbers: their last three digits tell neighbours apart (the colour does too).
      g.fillText(`${b.holder} …${String(b.token).slice(-3)}${b.permits > 1 && b.permits < 100 ? ` ×${b.permits}` : ''}`, x0 + 3, y + 9);
    }
  }
}
