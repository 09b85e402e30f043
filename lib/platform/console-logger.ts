import type { LogFields, Logger } from '../env/logger.js';

/** Log levels, most verbose first. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const rank: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** A {@link Logger} writing to the console at or above `level` (@default 'info'), prefixed by `name`. */
export function consoleLogger(name: string, level: LogLevel = 'info'): Logger {
  const line = (at: LogLevel, message: string, fields?: LogFields): void => {
    if (rank[at] < rank[level]) return;
    const suffix = fields === undefined ? '' : ` ${JSON.stringify(fields)}`;
    console[at](`[${name}] ${message}${suffix}`);
  };
  return {
    debug: (m, f) => line('debug', m, f),
    info: (m, f) => line('info', m, f),
    warn: (m, f) => line('warn', m, f),
    error: (m, f) => line('error', m, f),
  };
}
