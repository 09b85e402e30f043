// `npm run cluster` as a newcomer runs it: strict flags, its help, and a clean stop on "quit" (the
// three nodes stop, nothing writes to their data directories after that, and the temporary
// directory is removed). The script's own line in package.json is what runs here.
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runWithInput, type RunResult } from './support/run-with-input.js';

function start(args: string[], input = ''): Promise<RunResult> {
  return runWithInput('npm', ['run', '--silent', 'cluster', '--', ...args], input, { timeout: 60_000, env: { ...process.env, CI: 'true' } });
}

describe('npm run cluster', () => {
  it('--help prints its usage and flags, exit code 0', async () => {
    const r = await start(['--help']);
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    expect(r.out).toMatch(/^usage: npm run cluster /);
    expect(r.out).toMatch(/--data-dir DIR/);
    expect(r.out).toMatch(/--log-level L/);
  }, 60_000);

  it('refuses an unknown flag and a bad value, naming them, with exit code 128 (bad usage, as the CLI)', async () => {
    const bogus = await start(['--bogus']);
    expect(bogus.code).toBe(128);
    expect(bogus.err).toMatch(/Unknown option '--bogus'/);
    const level = await start(['--log-level', 'loud']);
    expect(level.code).toBe(128);
    expect(level.err).toMatch(/--log-level must be debug, info, warn or error, got "loud"/);
  }, 60_000);

  it('"quit" stops the three nodes cleanly: exit 0, no error, its temporary data directory gone', async () => {
    for (let round = 0; round < 3; round++) {
      const r = await start([], 'quit\n');
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/stopped\./);
      const dir = /data in (\S+)/.exec(r.out)?.[1];
      expect(dir).toBeDefined();
      expect(existsSync(dir as string)).toBe(false);
    }
  }, 120_000);
});
