// The fuzz's progress: a bar on a terminal, a line every 10 % on a pipe, with the rate and the time left.

/**
 * A bar on a terminal; on a pipe, a line every 10 %. Each shows the rate so far and the time left
 * at that rate. `note` prints a line above it (a failing seed, as it is found).
 */
export function progressBar(total: number): ((done: number, failing: number) => void) & { note(line: string): void } {
  const tty = process.stderr.isTTY === true;
  const started = performance.now();
  let lastTenth = -1;
  const note = (line: string): void => void process.stderr.write(tty ? `\r\x1b[K  ${line}\n` : `  ${line}\n`);
  return Object.assign((done: number, failing: number): void => {
    const perMin = done / ((performance.now() - started) / 60_000);
    const text = `${done}/${total} seeds, ${failing} with a violation, ${perMin.toFixed(0)} seeds/min${done < total ? `, ${formatEta((total - done) / perMin)} left` : ''}`;
    if (tty) {
      const width = 30;
      const full = Math.round((done / total) * width);
      process.stderr.write(`\r  [${'#'.repeat(full)}${'.'.repeat(width - full)}] ${text}${done === total ? '\n' : ''}`);
    } else if (Math.floor((done / total) * 10) > lastTenth) {
      lastTenth = Math.floor((done / total) * 10);
      process.stderr.write(`  ${text}\n`);
    }
  }, { note });
}

/** `minutes` as `1 h 05 min`, `12 min` or `40 s`. */
export function formatEta(minutes: number): string {
  if (!Number.isFinite(minutes)) return '?';
  if (minutes < 1) return `${Math.ceil(minutes * 60)} s`;
  const m = Math.round(minutes);
  return m < 60 ? `${m} min` : `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}
