// `clusterluck` as an operator meets it: a node process logging one line per event (text or
// JSON), and `clusterluck cli` against it one-shot and piped, with etcdctl's output formats and
// exit codes. Real processes on 127.0.0.1, stopped by PID.
import { execFile } from 'node:child_process';
import { runWithInput, type RunResult } from './support/run-with-input.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { completeLine, formatResult } from '../lib/cli/cli.js';
import { toPrometheus, type Metric } from '../lib/cluster/metrics.js';
import { freePort, startNode, stopAll, until, type Proc } from './support/node-processes.js';

const root = join(import.meta.dirname, '..');
const cookie = 'cli-test-cookie';
const procs: Proc[] = [];
let dir = '';
let port = 0;

/** Runs `clusterluck cli …` with `input` on stdin (piped, not a terminal). */
function cli(args: string[], input = '', env: Record<string, string> = {}): Promise<RunResult> {
  return runWithInput(process.execPath, ['--import', 'tsx', join(root, 'lib/cli/main.ts'), 'cli', ...args], input, { cwd: root, timeout: 30_000, env: { ...process.env, ...env } });
}

const at = (): string[] => ['--port', String(port), '--cookie', cookie];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'clusterluck-cli-'));
  port = await freePort();
  await startNode({ id: 'a', port, dataDir: join(dir, 'a'), cookie, started: procs });
}, 30_000);

afterAll(async () => {
  await stopAll(procs);
  await rm(dir, { recursive: true, force: true });
});

describe('clusterluck node logs', () => {
  it('one line per event with time, level and node; --log-format json gives one object per line', async () => {
    const a = procs[0] as Proc;
    await until('a logged its view', async () => (a.output.text.includes('view 1') ? true : undefined), 10_000);
    const lines = a.output.text.trim().split('\n');
    expect(lines.length).toBeGreaterThan(1);
    for (const line of lines) expect(line).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO |WARN |ERROR) \[a\] \S/);
    expect(lines).toContainEqual(expect.stringMatching(/ INFO  \[a\] view 1: a$/));

    const jsonPort = await freePort();
    const b = await startNode({ id: 'b', port: jsonPort, dataDir: join(dir, 'b'), cookie, args: ['--log-format', 'json'], join: `127.0.0.1:${port}`, started: procs });
    await until('b logged the view with both', async () => (b.output.text.includes('view 2: a, b') ? true : undefined), 15_000);
    const entries = b.output.text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const e of entries) {
      expect(e).toMatchObject({ level: expect.stringMatching(/^(debug|info|warn|error)$/), node: 'b', msg: expect.any(String) });
      expect(Number.isNaN(Date.parse(e['time'] as string))).toBe(false);
    }
    expect(entries.map((e) => e['msg'])).toContain(`joined the cluster through 127.0.0.1:${port}`);
    expect(entries.map((e) => e['msg'])).toContain('view 2: a, b');
  }, 40_000);
});

describe('clusterluck cli', () => {
  it('piped: results on stdout without banner or prompt, errors on stderr, exit 1 when a line failed', async () => {
    const ok = await cli(at(), 'create jobs 2\nread jobs\n');
    expect(ok.err).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.out).not.toMatch(/connected to|clusterluck a>/);
    expect(ok.out).toMatch(/^KEY\s+VALUE\nn\s+2\nactive\s+0\n$/m);

    const bad = await cli(at(), 'read nosuch\nread jobs\n');
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/^error: NOT_FOUND: /);
    expect(bad.out).toMatch(/active\s+0/); // the line after the failed one still ran
  }, 30_000);

  it('-w table | simple | json for a list, and --json one-shots print only JSON', async () => {
    const table = await cli([...at(), '-c', 'nodes']);
    expect(table.code).toBe(0);
    const [head, ...rows] = table.out.trim().split('\n');
    expect(head).toMatch(/^ID\s+ADDRESS/);
    expect(rows.map((r) => r.split(/\s+/)[0]).sort()).toEqual(['a', 'b']);
    const simple = await cli([...at(), '-w', 'simple', '-c', 'nodes']);
    expect(simple.out.trim().split('\n').map((r) => r.split(', ')[0]).sort()).toEqual(['a', 'b']);
    const json = await cli([...at(), '-w', 'json', '-c', 'nodes']);
    expect((JSON.parse(json.out) as { id: string }[]).map((n) => n.id).sort()).toEqual(['a', 'b']);
    const failed = await cli([...at(), '--json', '-c', 'read nosuch']);
    expect(failed.code).toBe(1);
    expect(failed.out).toBe('');
    expect(JSON.parse(failed.err)).toMatchObject({ error: { code: 'NOT_FOUND' } });
  }, 30_000);

  it('acquire holds a slot until release or the end of the session; a timed-out wait leaves nothing; query shows holders and waiters', async () => {
    // A session kept open: its stdin stays open until we end it.
    const child = execFile(process.execPath, ['--import', 'tsx', join(root, 'lib/cli/main.ts'), 'cli', ...at()], { cwd: root, timeout: 30_000 });
    let out = '';
    child.stdout?.on('data', (d: string) => (out += d));
    const closed = new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
    try {
      child.stdin?.write('create lk 1\nacquire lk --lease 1000\n');
      await until('the first acquire', async () => (/ok token \d+/.test(out) ? true : undefined), 15_000);
      const token = Number(/ok token (\d+)/.exec(out)?.[1]);
      // Held past its lease: the session renews it.
      await new Promise((r) => setTimeout(r, 1500));
      const q = await cli([...at(), '-w', 'json', '-c', 'query lk']);
      const rows = JSON.parse(q.out) as { state: string; token: number; holder: string }[];
      expect(rows).toMatchObject([{ state: 'holds', token }]);
      // Another session waits 300 ms and gives up: nothing of it stays at the owner.
      const waited = await cli([...at(), '-c', 'acquire lk --wait 300']);
      expect(waited.code).toBe(1);
      expect(waited.err).toMatch(/^error: TIMEOUT: /);
      const after = JSON.parse((await cli([...at(), '-w', 'json', '-c', 'query lk'])).out) as { state: string }[];
      expect(after.map((r) => r.state)).toEqual(['holds']);
      // release gives it back; a second release has nothing to give.
      child.stdin?.write('release lk\nrelease lk\n');
      await until('the release', async () => (/^ok$/m.test(out) ? true : undefined), 10_000);
      expect((JSON.parse((await cli([...at(), '-w', 'json', '-c', 'query lk'])).out) as { state: string }[]).map((r) => r.state)).toEqual(['free']);
      // Taken again, then the session ends: the slot is free for the next one.
      child.stdin?.write('acquire lk\n');
      await until('the second acquire', async () => ((out.match(/ok token/g) ?? []).length === 2 ? true : undefined), 15_000);
      child.stdin?.end();
      expect(await closed).toBe(1); // the second release failed
      const next = await cli(at(), 'acquire lk --wait 5000\n');
      expect(next.err).toBe('');
      expect(next.code).toBe(0);
      expect(next.out).toMatch(/ok token \d+/);
    } finally {
      child.kill();
    }
  }, 60_000);

  it('"stats" prints the node\'s counters and gauges, one row per sample', async () => {
    await cli([...at(), '-c', 'read nosuch']);
    const r = await cli([...at(), '-w', 'json', '-c', 'stats']);
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.out) as { metric: string; labels: string; value: number }[];
    const value = (metric: string, labels = ''): number | undefined => rows.find((x) => x.metric === metric && x.labels === labels)?.value;
    expect(value('calls_answered_total', 'actor=admin event=read code=NOT_FOUND')).toBeGreaterThanOrEqual(1);
    expect(value('view_number')).toBeGreaterThanOrEqual(2);
    expect(value('view_members')).toBe(2);
    expect(value('serving')).toBe(1);
    expect(rows.some((x) => x.metric === 'peer_rtt_ms' && x.labels === 'peer=b' && x.value >= 0)).toBe(true);
    expect(value('probes_total')).toBeGreaterThanOrEqual(1); // the probes that measured it
    expect(rows.filter((x) => x.metric === 'frames_dropped_total').map((x) => x.labels).sort())
      .toEqual(['reason=badSignature', 'reason=malformed', 'reason=outOfOrder', 'reason=tooLarge', 'reason=unexpected']);
  }, 30_000);

  it('"help" lists the commands one per line, grouped', async () => {
    const r = await cli(at(), 'help\n');
    const lines = r.out.split('\n');
    expect(lines).toContain('semaphores:');
    expect(lines).toContain('membership:');
    expect(lines.some((l) => /^ {2}create <semaphore> <n>\s+Creates a semaphore with concurrency limit n$/.test(l))).toBe(true);
    expect(lines.filter((l) => l.startsWith('  ')).length).toBeGreaterThanOrEqual(20);
  }, 30_000);

  it('exit codes: 2 for a node that cannot be reached or refuses the cookie, 128 for bad usage', async () => {
    const nobody = await cli(['--port', String(await freePort()), '--cookie', cookie, '--timeout', '2000', '-c', 'ping']);
    expect(nobody.code).toBe(2);
    expect(nobody.err).toMatch(/could not reach a node/);
    const wrongCookie = await cli(['--port', String(port), '--cookie', 'not-the-cookie', '--timeout', '2000', '-c', 'ping']);
    expect(wrongCookie.code).toBe(2);
    const usage = await cli([...at(), '-w', 'xml', '-c', 'ping']);
    expect(usage.code).toBe(128);
    expect(usage.err).toMatch(/-w must be table, json, simple, got "xml"/);
    const unknownFlag = await cli([...at(), '--bogus']);
    expect(unknownFlag.code).toBe(128);
  }, 30_000);
});

describe('the cookie, kept out of ps', () => {
  it('comes from CLUSTERLUCK_COOKIE or --cookie-file; none, both flags, or an empty file is bad usage', async () => {
    const fromEnv = await cli(['--port', String(port), '-c', 'ping'], '', { CLUSTERLUCK_COOKIE: cookie });
    expect(fromEnv.err).toBe('');
    expect(fromEnv.out).toMatch(/pong\s+a/);
    const file = join(dir, 'cookie');
    await writeFile(file, `${cookie}\n`);
    const fromFile = await cli(['--port', String(port), '--cookie-file', file, '-c', 'ping']);
    expect(fromFile.code).toBe(0);
    const none = await cli(['--port', String(port), '-c', 'ping'], '', { CLUSTERLUCK_COOKIE: '' });
    expect(none.code).toBe(128);
    expect(none.err).toMatch(/a cookie is required: --cookie-file FILE, CLUSTERLUCK_COOKIE, or --cookie/);
    const both = await cli(['--port', String(port), '--cookie', cookie, '--cookie-file', file, '-c', 'ping']);
    expect(both.code).toBe(128);
    await writeFile(file, '');
    const empty = await cli(['--port', String(port), '--cookie-file', file, '-c', 'ping']);
    expect(empty.code).toBe(128);
    expect(empty.err).toMatch(/is empty/);
  }, 30_000);
});

describe('the session helpers', () => {
  it('Tab completes command names, and the command after "help"', () => {
    expect(completeLine('cr')).toEqual([['create'], 'cr']);
    expect(completeLine('m')[0].sort()).toEqual(['meet', 'minsert', 'mremove']);
    expect(completeLine('help po')).toEqual([['post'], 'po']);
    expect(completeLine('read jo')).toEqual([[], 'read jo']);
  });

  it('renders metrics in Prometheus\'s text format, escaping label values', () => {
    const metrics: Metric[] = [
      { name: 'clusterluck_grants_total', type: 'counter', help: 'Slots granted.', samples: [{ value: 3 }] },
      { name: 'clusterluck_peer_rtt_ms', type: 'gauge', help: 'Round trip.', samples: [{ labels: { peer: 'a"b\\c' }, value: 1.5 }, { labels: { peer: 'd' }, value: 2 }] },
    ];
    expect(toPrometheus(metrics)).toBe([
      '# HELP clusterluck_grants_total Slots granted.', '# TYPE clusterluck_grants_total counter', 'clusterluck_grants_total 3',
      '# HELP clusterluck_peer_rtt_ms Round trip.', '# TYPE clusterluck_peer_rtt_ms gauge',
      'clusterluck_peer_rtt_ms{peer="a\\"b\\\\c"} 1.5', 'clusterluck_peer_rtt_ms{peer="d"} 2', '',
    ].join('\n'));
  });

  it('formats an object as key/value rows, a list of objects as columns', () => {
    expect(formatResult({ n: 2, active: 0 }, 'table')).toBe('KEY     VALUE\nn       2\nactive  0');
    expect(formatResult([{ id: 'a', weight: 1 }, { id: 'bb', weight: 2 }], 'table')).toBe('ID  WEIGHT\na   1\nbb  2');
    expect(formatResult([{ id: 'a', weight: 1 }], 'simple')).toBe('a, 1');
    expect(formatResult('OK', 'table')).toBe('OK');
    expect(formatResult({ n: 2 }, 'json')).toBe('{"n":2}');
  });
});
