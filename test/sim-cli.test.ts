// `npm run sim` and `npm run fuzz` as a user runs them: exit codes, the summary, and a replay line
// that really replays.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { formatEta } from '../sim/cli/progress-bar.node.js';

const run = promisify(execFile);

async function command(file: string, args: string[]): Promise<{ code: number; out: string; err: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', file, ...args], { timeout: 120_000 });
    return { code: 0, out: stdout, err: stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: x.code ?? -1, out: x.stdout ?? '', err: x.stderr ?? '' };
  }
}

const hashOf = (out: string): string | undefined => /trace hash ([0-9a-f]{16})/.exec(out)?.[1];

describe('npm run sim', () => {
  it('reports a violation with the trace before it and a replay line that gives the same trace; exit code 1', async () => {
    const first = await command('sim/cli/cli.node.ts', ['--seed', '1', '--scenario', 'amnesia', '--duration', '20s', '--clients', '12', '--clusterluck']);
    expect(first.code).toBe(1);
    expect(first.out).toMatch(/violations: \d+ \(safety: crash\)/);
    expect(first.out).toMatch(/trace up to the first violation/);
    const replay = /replay: npm run sim -- (.*)/.exec(first.out)?.[1];
    expect(replay).toBe('--seed 1 --scenario amnesia --clients 12 --duration 20s --clusterluck');
    const again = await command('sim/cli/cli.node.ts', (replay as string).split(' '));
    expect(again.code).toBe(1);
    expect(hashOf(again.out)).toBe(hashOf(first.out));
  }, 120_000);

  it('exits 0 on a clean run, 2 on bad usage, and explains itself with --help', async () => {
    const clean = await command('sim/cli/cli.node.ts', ['--seed', 'ok', '--duration', '15s', '--faults', 'pause,clog']);
    expect(clean.code).toBe(0);
    expect(clean.out).toMatch(/violations: none/);
    expect(clean.out).toMatch(/faults injected: (pause|clog)/);
    const bad = await command('sim/cli/cli.node.ts', ['--faults', 'meteor']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/unknown fault "meteor"/);
    const help = await command('sim/cli/cli.node.ts', ['--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/usage: npm run sim/);
  }, 120_000);
});

describe('npm run fuzz', () => {
  it('spreads seeds over workers, lists each violation class with seeds, and exits 1 when any seed fails', async () => {
    const r = await command('sim/cli/fuzz.node.ts', ['--seeds', '3', '--from', '1', '--workers', '2', '--scenario', 'amnesia', '--duration', '20s', '--clients', '12', '--clusterluck']);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/3 seeds \(1 … 3\) in [\d.]+ s on 2 workers/);
    expect(r.out).toMatch(/safety: crash: \d seeds, e\.g\. 1/);
    expect(r.out).toMatch(/replay: npm run sim -- --seed 1 --scenario amnesia --clients 12 --duration 20s --clusterluck/);
    expect(r.err).toMatch(/3\/3 seeds, \d with a violation, \d+ seeds\/min/);
    expect(r.err).toMatch(/1\/3 seeds, \d with a violation, \d+ seeds\/min, [\d hmins]+ left/); // the rate and what is left, from the first seed on
  }, 120_000);
});

describe('the fuzz ETA', () => {
  it('reads as seconds, minutes, or hours and minutes', () => {
    expect([formatEta(0.5), formatEta(12.2), formatEta(65), formatEta(Infinity)]).toEqual(['30 s', '12 min', '1 h 05 min', '?']);
  });
});

