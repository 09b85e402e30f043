// Runs a command to its end with `input` on its stdin (piped, not a terminal): how the CLI tests
// and the npm-script tests run what a newcomer types.
import { execFile, type ExecFileOptions } from 'node:child_process';

/** What a finished command gave: its exit code (-1 when killed) and all it wrote. */
export interface RunResult { readonly code: number; readonly out: string; readonly err: string }

/** Runs `file args` with `input` on stdin (then end of input) and resolves once it closes. */
export function runWithInput(file: string, args: readonly string[], input = '', options: Omit<ExecFileOptions, 'encoding'> = {}): Promise<RunResult> {
  const child = execFile(file, [...args], { ...options, encoding: 'utf8' });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: string) => (out += d));
  child.stderr?.on('data', (d: string) => (err += d));
  child.stdin?.end(input);
  return new Promise((resolve) => child.on('close', (c) => resolve({ code: c ?? -1, out, err })));
}
