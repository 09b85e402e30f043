import type { Clock, TimerHandle } from '../env/clock.js';

/** The longest delay `setTimeout` honours; longer ones fire at once, so we chain. */
const timeoutMsMax = 2 ** 31 - 1;

interface SystemTimer {
  id: ReturnType<typeof setTimeout> | undefined;
}

/** The real {@link Clock}: `performance.now()`, `Date.now()` and `setTimeout`, in Node and browsers. */
export function systemClock(): Clock {
  const arm = (timer: SystemTimer, deadline: number, fn: () => void): void => {
    const delay = Math.max(0, deadline - performance.now());
    timer.id = setTimeout(
      () => {
        if (performance.now() + 1 < deadline) arm(timer, deadline, fn);
        else {
          timer.id = undefined;
          fn();
        }
      },
      Math.min(delay, timeoutMsMax),
    );
  };
  return {
    now: () => performance.now(),
    wallNow: () => Date.now(),
    setTimer(delayMs, fn) {
      const timer: SystemTimer = { id: undefined };
      const delay = Number.isFinite(delayMs) ? Math.max(0, delayMs) : timeoutMsMax;
      arm(timer, performance.now() + delay, fn);
      return timer as unknown as TimerHandle;
    },
    cancelTimer(handle) {
      const timer = handle as unknown as SystemTimer;
      if (timer.id !== undefined) clearTimeout(timer.id);
      timer.id = undefined;
    },
  };
}
