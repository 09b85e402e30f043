// One run of the real simulator in the page, recorded as it goes: its events (frames kept apart,
// in flat arrays), the violations found, and the summary at the end. The page draws from this
// record, at its own pace, so the scrubber can go back over everything already simulated.
import type { Violation } from '../sim/checkers/checker.js';
import type { SimEvent } from '../sim/world/sim-event.js';
import { simulate, type SimulationOptions, type SimulationSummary } from '../sim/world/simulation.js';

/** Frames in flight, one index per frame, in the order they arrived (or were dropped). */
export interface Frames {
  readonly sentAt: number[];
  readonly at: number[];
  readonly from: string[];
  readonly to: string[];
  readonly dropped: boolean[];
}

/** A macrotask turn: the page paints and answers input between two simulated seconds. */
function yieldToPage(): Promise<void> {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => resolve();
    channel.port2.postMessage(null);
  });
}

export class Recording {
  readonly events: SimEvent[] = [];
  readonly frames: Frames = { sentAt: [], at: [], from: [], to: [], dropped: [] };
  readonly violations: Violation[] = [];
  /** Hosts in the order they appeared. */
  readonly hosts: string[] = [];
  /** The latest simulated instant recorded. */
  frontier = 0;
  workloadAt: number | undefined;
  healingAt: number | undefined;
  summary: SimulationSummary | undefined;
  error: unknown;
  readonly startedWall = performance.now();
  wallMs = 0;
  readonly done: Promise<void>;
  readonly #abort = new AbortController();

  constructor(options: SimulationOptions, onChange: () => void) {
    this.done = simulate({
      ...options, signal: this.#abort.signal,
      onEvent: (e) => this.#take(e),
      onProgress: () => {
        onChange();
        return yieldToPage();
      },
    }).then(
      (summary) => {
        this.summary = summary;
        this.wallMs = performance.now() - this.startedWall;
        for (const v of summary.violations) if (!this.violations.some((x) => x.class === v.class && x.at === v.at && x.message === v.message)) this.violations.push(v);
        this.violations.sort((a, b) => a.at - b.at);
        onChange();
      },
      (err: unknown) => {
        if (this.#abort.signal.aborted) return;
        this.error = err;
        onChange();
      },
    );
  }

  /** Abandons the run (a new one replaces it). */
  stop(): void {
    this.#abort.abort(new Error('replaced by a new run'));
  }

  #take(e: SimEvent): void {
    if (e.at > this.frontier) this.frontier = e.at;
    if (e.type === 'net') {
      const n = e.event;
      if (n.kind === 'send') return;
      if (n.kind === 'deliver' || n.kind === 'drop') {
        const f = this.frames;
        f.sentAt.push(n.sentAtMs ?? e.at);
        f.at.push(e.at);
        f.from.push(n.from ?? '');
        f.to.push(n.to ?? '');
        f.dropped.push(n.kind === 'drop');
        return;
      }
    }
    if (e.type === 'process' && e.what === 'join' && !this.hosts.includes(e.host)) this.hosts.push(e.host);
    if (e.type === 'process' && e.what === 'up' && !this.hosts.includes(e.host)) this.hosts.push(e.host);
    if (e.type === 'run' && e.phase === 'workload') this.workloadAt = e.at;
    if (e.type === 'run' && e.phase === 'healing') this.healingAt = e.at;
    if (e.type === 'violation' && !this.violations.some((v) => v.class === e.violation.class && v.at === e.violation.at && v.message === e.violation.message)) {
      this.violations.push(e.violation);
      this.violations.sort((a, b) => a.at - b.at);
    }
    this.events.push(e);
  }
}
