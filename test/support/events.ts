// Small helpers for awaiting DOM-style events in tests: nothing here assumes how fast anything
// happens, only how long a test is willing to wait before it fails.

/** The next `type` event on `target`; rejects after `timeoutMs`. */
export function nextEvent<E extends Event = Event>(target: EventTarget, type: string, timeoutMs = 5000): Promise<E> {
  return new Promise<E>((resolve, reject) => {
    const onEvent = (event: Event): void => {
      clearTimeout(timer);
      resolve(event as E);
    };
    const timer = setTimeout(() => {
      target.removeEventListener(type, onEvent);
      reject(new Error(`no "${type}" event within ${timeoutMs} ms`));
    }, timeoutMs);
    target.addEventListener(type, onEvent, { once: true });
  });
}

/** Resolves after `ms` real milliseconds: only for giving a wrong extra event the chance to show up. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Every event of some types on one target, in order, from the moment it is made. */
export interface EventRecorder {
  readonly events: readonly Event[];
  /** The recorded events of one type. */
  of<E extends Event = Event>(type: string): E[];
  /** Resolves once `condition` holds (checked now and after each event); rejects after `timeoutMs`. */
  until(condition: () => boolean, what: string, timeoutMs?: number): Promise<void>;
  /** Stops recording. */
  stop(): void;
}

/** Starts recording `types` events on `target`. */
export function recordEvents(target: EventTarget, types: readonly string[], timeoutMsDefault = 5000): EventRecorder {
  const events: Event[] = [];
  const waiters = new Set<() => void>();
  const onEvent = (event: Event): void => {
    events.push(event);
    for (const check of [...waiters]) check();
  };
  for (const type of types) target.addEventListener(type, onEvent);
  return {
    events,
    of: <E extends Event>(type: string) => events.filter((e) => e.type === type) as E[],
    until(condition, what, timeoutMs = timeoutMsDefault) {
      return new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (!condition()) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    stop() {
      for (const type of types) target.removeEventListener(type, onEvent);
    },
  };
}
