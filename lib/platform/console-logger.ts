import type { LogFields, Logger } from '../env/logger.js';

/** Log levels, most verbose first. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Log line formats: `text` (time, level, [node] message, fields as JSON) or `json` (one object per line). */
export type LogFormat = 'text' | 'json';

/** The log levels, most verbose first. */
export const logLevels: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/** The log formats. */
export const logFormats: readonly LogFormat[] = ['text', 'json'];

const rank: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/**
 * A {@link Logger} writing one line per entry to the console at or above `level` (@default
 * 'info'), naming the node `name`. `text`: `2026-12-06T02:40:00.123Z INFO  [a] view 3: a, b, c
 * {"field":1}`; `json`: `{"time":…,"level":"info","node":"a","msg":"view 3: a, b, c","field":1}`.
 */
export function consoleLogger(name: string, level: LogLevel = 'info', format: LogFormat = 'text'): Logger {
  const line = (at: LogLevel, message: string, fields?: LogFields): void => {
    if (rank[at] < rank[level]) return;
    const time = new Date().toISOString();
    const text = format === 'json'
      ? JSON.stringify({ time, level: at, node: name, msg: message, ...fields })
      : `${time} ${at.toUpperCase().padEnd(5)} [${name}] ${message}${fields === undefined ? '' : ` ${JSON.stringify(fields)}`}`;
    console[at](text);
  };
  return {
    debug: (m, f) => line('debug', m, f),
    info: (m, f) => line('info', m, f),
    warn: (m, f) => line('warn', m, f),
    error: (m, f) => line('error', m, f),
  };
}
