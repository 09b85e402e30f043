// How the CLI prints a result: a table, JSON, or simple lines.
/** How results are printed (`-w`, as etcdctl's `--write-out`). */
export type WriteOut = 'table' | 'json' | 'simple';
/** Every {@link WriteOut}. */
export const writeOuts: readonly WriteOut[] = ['table', 'json', 'simple'];

/** A result as `format` prints it. */
export function formatResult(value: unknown, format: WriteOut): string {
  if (format === 'json') return JSON.stringify(value);
  if (typeof value === 'string') return value;
  const rows = asRows(value);
  if (rows === undefined) return JSON.stringify(value, null, format === 'table' ? 2 : undefined);
  if (format === 'simple') return rows.map((r) => Object.values(r).map(cell).join(', ')).join('\n');
  return table(rows);
}

/** A list of objects as rows; one object as key/value rows; anything else undefined. */
function asRows(value: unknown): Record<string, unknown>[] | undefined {
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (Array.isArray(value)) return value.length > 0 && value.every(isObject) ? value : undefined;
  if (isObject(value)) return Object.entries(value).map(([key, v]) => ({ key, value: v }));
  return undefined;
}

function cell(v: unknown): string {
  return typeof v === 'string' ? v : v === undefined ? '' : JSON.stringify(v);
}

/** Rows of objects as an aligned text table, one column per key of the first row. */
function table(rows: readonly Record<string, unknown>[]): string {
  const keys = Object.keys(rows[0] ?? {});
  const cells = [keys.map((k) => k.toUpperCase()), ...rows.map((r) => keys.map((k) => cell(r[k])))];
  const widths = keys.map((_, i) => Math.max(...cells.map((c) => (c[i] ?? '').length)));
  return cells.map((c) => c.map((x, i) => x.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n');
}
