// What Connection.beforeFlush collects: one list for every connection that offers it (the memory,
// TCP and WebRTC connections through AdmittedConnection, and the simulator's).

/** The callbacks a connection runs, once each, just before its next flush. */
export class FlushHooks {
  #fns: (() => void)[] = [];

  /** Adds `fn`. @returns true when it is the first since the last run: the connection must see that a flush comes. */
  add(fn: () => void): boolean {
    this.#fns.push(fn);
    return this.#fns.length === 1;
  }

  /** Runs each callback added since the last run, once; when the connection is no longer `open`, drops them instead. */
  run(open: boolean): void {
    if (this.#fns.length === 0) return;
    const fns = this.#fns;
    this.#fns = [];
    if (!open) return;
    for (const fn of fns) fn();
  }
}
