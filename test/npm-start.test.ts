// `npm start` as a newcomer runs it, with no terminal (stdin closed, CI=true): it prints the page's
// URL, the page and `/live.json` answer, the PeerJS server answers, and Ctrl-C (SIGINT to its
// process group, as a terminal sends it) stops every process it started and exits 0, with the
// page's and the PeerJS server's ports closed. And its `--help`, and a bad flag.
import { spawn } from 'node:child_process';
import { runWithInput, type RunResult } from './support/run-with-input.js';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const env = { ...process.env, CI: 'true' };

/** The process's parent id and state from /proc (undefined once it is gone). */
function stat(pid: number): { ppid: number; state: string } | undefined {
  try {
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so read after the last ')'.
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const [state, ppid] = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(ppid), state: state as string };
  } catch {
    return undefined;
  }
}

/** Every live descendant of `root`, at this moment. */
function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const s = stat(pid);
    if (s !== undefined) (children.get(s.ppid) ?? children.set(s.ppid, []).get(s.ppid))?.push(pid);
  }
  const found: number[] = [];
  const stack = [root];
  while (stack.length > 0) for (const c of children.get(stack.pop() as number) ?? []) found.push(c), stack.push(c);
  return found;
}

/** Running: present and not a zombie (an exited process whose parent has not collected it yet). */
const running = (pid: number): boolean => {
  const s = stat(pid);
  return s !== undefined && s.state !== 'Z';
};

const refused = (url: string): Promise<boolean> => fetch(url).then(() => false, (err: { cause?: { code?: string } }) => err.cause?.code === 'ECONNREFUSED');

function npmStart(args: string[]): Promise<RunResult> {
  return runWithInput('npm', ['start', '--silent', '--', ...args], '', { timeout: 30_000, env });
}

describe('npm start', () => {
  it('--help names the page\'s two modes, the flags and npm run cluster, exit code 0; a bad flag is 128', async () => {
    const r = await npmStart(['--help']);
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    expect(r.out).toMatch(/^usage: npm start /);
    for (const text of ['--host ADDRESS', '--port N', '--peer-port N', '--log-level L', 'Simulator', 'Live', 'npm run cluster']) expect(r.out).toContain(text);
    const bad = await npmStart(['--port', 'eighty']);
    expect(bad.code).toBe(128);
    expect(bad.err).toMatch(/--port must be a port number \(0 to 65535\), got "eighty"/);
  }, 60_000);

  it('prints the URL, serves the page and the live cluster, and on Ctrl-C stops every process it started, exit code 0', async () => {
    // Its own process group, as a shell's foreground job: the SIGINT below is what Ctrl-C sends.
    const child = spawn('npm', ['start', '--', '--port', '0'], { env, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin.end();
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    const pid = child.pid as number;
    try {
      // Both lines: the pipe may hand them over in two reads.
      await expect.poll(() => /clusterluck demo: (http:\/\/127\.0\.0\.1:\d+\/)[^]*live cluster:/.exec(out)?.[1], { timeout: 30_000, interval: 100 }).toBeDefined();
      const url = /clusterluck demo: (\S+)/.exec(out)?.[1] as string;
      expect(out).toContain(`live cluster:  ${url}?mode=live`);
      const page = await fetch(url);
      expect(page.status).toBe(200);
      const html = await page.text();
      expect(html).toContain('<title>clusterluck simulator</title>');
      expect(html).toContain('id="live-mode"');
      // The page's script, compiled by the dev server (its dependency optimiser starts here).
      const script = await fetch(new URL('main.ts', url));
      expect(script.status).toBe(200);
      expect(await script.text()).toContain('clusterluckDemo');
      const info = await (await fetch(new URL('live.json', url))).json() as { port: number; seed: string };
      expect(info.seed).toBe('node');
      const peerjs = `http://127.0.0.1:${info.port}/peerjs/id`;
      const id = await fetch(peerjs);
      expect(id.status).toBe(200);
      expect(await id.text()).toMatch(/^[0-9a-f-]{20,}$/);

      const started = descendants(pid);
      const commands = started.map((p) => readFileSync(`/proc/${p}/cmdline`, 'utf8').replaceAll('\0', ' '));
      expect(commands.some((c) => c.includes('demo/serve.ts'))).toBe(true); // the server, under npm (and whatever it started)
      process.kill(-pid, 'SIGINT');
      const code = await exited;
      expect({ code, err }).toEqual({ code: 0, err: '' }); // a failed stop says why on stderr
      expect(out).toMatch(/stopped\.\n$/);
      await expect.poll(() => [pid, ...started].filter(running), { timeout: 5000 }).toEqual([]);
      expect(await refused(url)).toBe(true);
      expect(await refused(peerjs)).toBe(true);
    } finally {
      if (running(pid)) process.kill(-pid, 'SIGKILL');
    }
  }, 60_000);
});
