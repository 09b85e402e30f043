// For suites that wait in real time (the transport compliance suite) over a virtual clock.
import type { VirtualClock } from '../../sim/clock/virtual-clock.js';

/** Moves a virtual clock in 1 ms steps between real macrotasks, for the suite's real-time waits. */
export function drive(clock: VirtualClock): { stop(): Promise<void> } {
  let running = true;
  const loop = (async () => {
    while (running) {
      await new Promise<void>((resolve) => setTimeout(resolve, 0));
      if (running) await clock.advance(1);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
    },
  };
}
