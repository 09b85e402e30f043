// The cluster as a ring (SVG): nodes at their ring positions, coloured by state, partition sides
// as outlines, the view number, semaphore owners, messages in flight as dots and drops as crosses.
// A click (or Enter) on a node opens its fault menu; a drag across the ring cuts a partition.
import { ringPositionOf } from '../lib/core/hash.js';
import type { Frames } from './recording.js';
import type { NodeView, Replay } from './replay.js';

const svgNs = 'http://www.w3.org/2000/svg';
const centre = 200;
const radius = 130;
/** Dots drawn at most, sampled evenly when more frames are in flight. */
export const dotsMax = 60;

export const lifeColour: Record<NodeView['life'], string> = {
  booting: 'var(--booting)', alive: 'var(--alive)', leaving: 'var(--down)', left: 'var(--crashed)', crashed: 'var(--crashed)', paused: 'var(--paused)',
};

function el<K extends keyof SVGElementTagNameMap>(name: K, attrs: Record<string, string | number>, parent?: Element): SVGElementTagNameMap[K] {
  const e = document.createElementNS(svgNs, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  parent?.appendChild(e);
  return e;
}

/** The angle of a node: its id's position on the hash ring (the same hash the ring uses). */
function angleOf(nodeId: string): number {
  return (ringPositionOf(nodeId) / 2 ** 53) * 2 * Math.PI - Math.PI / 2;
}

/** What the ring draws: a recorded run at one instant ({@link Replay}), or a live member's view. */
export interface RingScene {
  readonly at: number;
  readonly view: number;
  readonly phase: Replay['phase'] | 'live';
  /** Owner host by semaphore. */
  readonly owners: ReadonlyMap<string, string>;
  readonly nodes: ReadonlyMap<string, NodeView>;
  /** The line under the view number when `phase` is 'live'. */
  readonly caption?: string;
}

export interface RingHandlers {
  onNode(host: string, anchor: DOMRect): void;
  onCut(sideA: string[], sideB: string[]): void;
}

export class RingView {
  readonly #svg: SVGSVGElement;
  readonly #nodesLayer: SVGGElement;
  readonly #dots: SVGGElement;
  readonly #centreText: SVGTextElement;
  readonly #phaseText: SVGTextElement;
  readonly #cut: SVGLineElement;
  readonly #nodeEls = new Map<string, { g: SVGGElement; body: SVGCircleElement; ring: SVGCircleElement; label: SVGTextElement; note: SVGTextElement }>();
  readonly #positions = new Map<string, { x: number; y: number }>();

  constructor(svg: SVGSVGElement, handlers: RingHandlers) {
    this.#svg = svg;
    el('circle', { cx: centre, cy: centre, r: radius, fill: 'none', stroke: 'var(--line)', 'stroke-width': 2 }, svg);
    this.#centreText = el('text', { x: centre, y: centre - 4, 'text-anchor': 'middle', style: 'font-size:22px;font-weight:600' }, svg);
    this.#phaseText = el('text', { x: centre, y: centre + 18, 'text-anchor': 'middle', style: 'font-size:12px;fill:var(--muted)' }, svg);
    this.#dots = el('g', {}, svg);
    this.#nodesLayer = el('g', {}, svg);
    this.#cut = el('line', { stroke: 'var(--side-b)', 'stroke-width': 2, 'stroke-dasharray': '6 4', visibility: 'hidden' }, svg);
    this.#dragToCut(handlers);
    svg.addEventListener('click', (ev) => {
      const g = (ev.target as Element).closest('g.node');
      const host = g?.getAttribute('data-host');
      if (host !== null && host !== undefined && g !== null && g !== undefined) handlers.onNode(host, g.getBoundingClientRect());
    });
    svg.addEventListener('keydown', (ev) => {
      const g = (ev.target as Element).closest('g.node');
      const host = g?.getAttribute('data-host');
      if ((ev.key === 'Enter' || ev.key === ' ') && host !== null && host !== undefined && g !== null && g !== undefined) {
        ev.preventDefault();
        handlers.onNode(host, g.getBoundingClientRect());
      }
    });
  }

  #dragToCut(handlers: RingHandlers): void {
    let start: { x: number; y: number } | undefined;
    // Client pixels to the drawing's coordinates (the viewBox has room for the notes around the ring).
    const point = (ev: PointerEvent): { x: number; y: number } => {
      const m = this.#svg.getScreenCTM()?.inverse();
      const p = new DOMPoint(ev.clientX, ev.clientY).matrixTransform(m);
      return { x: p.x, y: p.y };
    };
    this.#svg.addEventListener('pointerdown', (ev) => {
      if ((ev.target as Element).closest('g.node') !== null) return;
      start = point(ev);
      this.#svg.setPointerCapture(ev.pointerId);
    });
    this.#svg.addEventListener('pointermove', (ev) => {
      if (start === undefined) return;
      const p = point(ev);
      for (const [k, v] of Object.entries({ x1: start.x, y1: start.y, x2: p.x, y2: p.y, visibility: 'visible' })) this.#cut.setAttribute(k, String(v));
    });
    this.#svg.addEventListener('pointerup', (ev) => {
      if (start === undefined) return;
      const a = start;
      const b = point(ev);
      start = undefined;
      this.#cut.setAttribute('visibility', 'hidden');
      if (Math.hypot(b.x - a.x, b.y - a.y) < 30) return;
      const sides: [string[], string[]] = [[], []];
      for (const [host, p] of this.#positions) sides[(b.x - a.x) * (p.y - a.y) - (b.y - a.y) * (p.x - a.x) > 0 ? 0 : 1].push(host);
      if (sides[0].length > 0 && sides[1].length > 0) handlers.onCut(sides[0], sides[1]);
    });
  }

  /**
   * Each node's angle: its ring position, nudged apart so that no two nodes overlap (ids that hash
   * close together would hide each other); the order around the ring is kept.
   */
  #angles(nodes: readonly NodeView[]): Map<string, number> {
    const sorted = nodes.map((n) => ({ host: n.host, a: angleOf(n.nodeId) })).sort((x, y) => x.a - y.a);
    const gap = Math.min(0.5, (2 * Math.PI) / Math.max(1, sorted.length) * 0.8);
    for (let i = 1; i < sorted.length; i++) {
      const prev = sorted[i - 1] as { a: number };
      const cur = sorted[i] as { a: number };
      if (cur.a - prev.a < gap) cur.a = prev.a + gap;
    }
    return new Map(sorted.map((s) => [s.host, s.a]));
  }

  /** Draws the state at `replay.at`; frames in flight over the last `windowMs` (none live). Nodes no longer in the scene go. */
  draw(replay: RingScene, frames: Frames | undefined, windowMs: number): void {
    this.#centreText.textContent = replay.view === 0 ? 'no view yet' : `view ${replay.view}`;
    this.#phaseText.textContent = replay.phase === 'live' ? replay.caption ?? '' : replay.phase === 'booting' ? 'booting the cluster' : replay.phase === 'workload' ? 'workload running' : replay.phase === 'healing' ? 'faults healed: converging' : 'run ended';
    for (const [host, e] of this.#nodeEls) {
      if (replay.nodes.has(host)) continue;
      e.g.remove();
      this.#nodeEls.delete(host);
      this.#positions.delete(host);
    }
    const ownersOf = new Map<string, string[]>();
    for (const [sem, host] of replay.owners) if (sem.startsWith('sem-')) (ownersOf.get(host) ?? ownersOf.set(host, []).get(host))?.push(sem);
    const angles = this.#angles([...replay.nodes.values()]);
    for (const n of replay.nodes.values()) this.#drawNode(n, angles.get(n.host) ?? 0, ownersOf.get(n.host) ?? []);
    if (frames !== undefined) this.#drawFrames(replay.at, frames, windowMs);
  }

  #drawNode(n: NodeView, angle: number, owns: string[]): void {
    let e = this.#nodeEls.get(n.host);
    if (e === undefined) {
      const g = el('g', { class: 'node', tabindex: 0, role: 'button', 'data-host': n.host }, this.#nodesLayer);
      e = { g, ring: el('circle', { r: 24, fill: 'none', 'stroke-width': 4 }, g), body: el('circle', { class: 'body', r: 18 }, g),
        label: el('text', { 'text-anchor': 'middle', dy: 4, style: 'fill:#fff;font-weight:600' }, g), note: el('text', { 'text-anchor': 'middle' }, g) };
      this.#nodeEls.set(n.host, e);
    }
    const x = centre + radius * Math.cos(angle);
    const y = centre + radius * Math.sin(angle);
    this.#positions.set(n.host, { x, y });
    e.g.setAttribute('transform', `translate(${x.toFixed(1)} ${y.toFixed(1)})`);
    const colour = n.life === 'alive' && n.seenAs !== undefined ? `var(--${n.seenAs})` : lifeColour[n.life];
    e.body.setAttribute('fill', colour);
    e.ring.setAttribute('stroke', n.side === undefined ? 'transparent' : `var(--side-${n.side})`);
    e.label.textContent = n.host;
    const state = n.life === 'alive' && n.seenAs !== undefined ? `${n.seenAs} to others` : n.life;
    const clock = n.drift !== undefined && Math.abs(n.drift - 1) > 1e-6 ? ` · clock ${((n.drift - 1) * 100).toFixed(1)} %` : '';
    e.note.textContent = [n.view === undefined ? '' : `v${n.view}`, ...owns].filter((s) => s !== '').join(' ');
    // The note sits outside the ring, beyond the node.
    e.note.setAttribute('x', (36 * Math.cos(angle)).toFixed(1));
    e.note.setAttribute('y', (36 * Math.sin(angle) + 4).toFixed(1));
    e.note.setAttribute('text-anchor', Math.cos(angle) > 0.3 ? 'start' : Math.cos(angle) < -0.3 ? 'end' : 'middle');
    e.g.setAttribute('aria-label', `${n.host}${n.nodeId === n.host ? '' : ` (${n.nodeId})`}: ${state}${n.side === undefined ? '' : `, partition side ${n.side.toUpperCase()}`}${clock}${owns.length > 0 ? `, owns ${owns.join(', ')}` : ''}`);
  }

  #drawFrames(t: number, f: Frames, windowMs: number): void {
    // Frames whose flight overlaps (t - window, t]: they are sorted by arrival, so start at the
    // first that arrives after t - window and stop well past t (latency is a few ms to a stall).
    let lo = 0;
    let hi = f.at.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((f.at[mid] ?? 0) <= t - windowMs) lo = mid + 1;
      else hi = mid;
    }
    const shown: number[] = [];
    for (let i = lo; i < f.at.length && (f.at[i] ?? 0) <= t + 6000; i++) if ((f.sentAt[i] ?? 0) <= t) shown.push(i);
    const stride = Math.max(1, Math.ceil(shown.length / dotsMax));
    const parts: string[] = [];
    for (let k = 0; k < shown.length; k += stride) {
      const i = shown[k] as number;
      const a = this.#positions.get(f.from[i] ?? '');
      const b = this.#positions.get(f.to[i] ?? '');
      if (a === undefined || b === undefined) continue;
      const sent = f.sentAt[i] ?? 0;
      const end = f.at[i] ?? 0;
      const p = Math.min(1, Math.max(0, end <= sent ? 1 : (t - sent) / (end - sent)));
      const x = a.x + (b.x - a.x) * p;
      const y = a.y + (b.y - a.y) * p;
      if (f.dropped[i] === true) parts.push(`<path d="M${x - 5} ${y - 5}L${x + 5} ${y + 5}M${x - 5} ${y + 5}L${x + 5} ${y - 5}" stroke="var(--bad)" stroke-width="2.5"/>`);
      else parts.push(`<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="3" fill="#2b2d33" opacity=".7"/>`);
    }
    this.#dots.innerHTML = parts.join('');
  }
}
