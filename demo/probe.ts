// What the page publishes as `window.clusterluckDemo`, for tests and the curious (types only).
import type { Violation } from '../sim/checkers/checker.js';

/** What tests and the curious can read: `window.clusterluckDemo`. */
export interface DemoProbe {
  status: 'running' | 'done' | 'error';
  traceHash?: string;
  violations: Violation[];
  shownAt: number;
  /** The view number drawn. */
  view: number;
  /** Simulated ms at which the workload (and injectable time) began. */
  workloadAt?: number;
  stoppedAtViolation: boolean;
  firstFrameMs?: number;
  simWallMs?: number;
  simMs?: number;
  replay: string;
}
