// `clusterluck node` as OS processes on 127.0.0.1, for the multi-process tests: spawn, wait until
// it listens, keep its output, stop every process by PID.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');

/** A free TCP port on 127.0.0.1 (closed again before it is returned). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** One `clusterluck node` process. */
export interface Proc {
  readonly id: string;
  readonly port: number;
  readonly child: ChildProcess;
  /** Everything the process wrote to stdout and stderr, in order. */
  readonly output: { text: string };
}

/** Options of {@link startNode}. */
export interface StartNode {
  readonly id: string;
  readonly port: number;
  /** Where it keeps its semaphores (none: in memory only). */
  readonly dataDir?: string;
  readonly cookie: string;
  /** `host:port` of a member to join through. */
  readonly join?: string;
  /** More `clusterluck node` flags. */
  readonly args?: readonly string[];
  /** Flags for Node itself, e.g. `--max-old-space-size=128`. */
  readonly nodeArgs?: readonly string[];
  /** The process is pushed here as soon as it is spawned, so the caller stops it whatever happens next. */
  readonly started?: Proc[];
}

/** Spawns `clusterluck node` and resolves once it listens; rejects if it exits first. */
export function startNode(o: StartNode): Promise<Proc> {
  const args = [...(o.nodeArgs ?? []), '--import', 'tsx', join(root, 'lib/cli/main.ts'), 'node', '--id', o.id, '--port', String(o.port), '--cookie', o.cookie,
    ...(o.dataDir === undefined ? [] : ['--data-dir', o.dataDir]), '--log-level', 'info', ...(o.args ?? []), ...(o.join === undefined ? [] : ['--join', o.join])];
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  const proc: Proc = { id: o.id, port: o.port, child, output: { text: '' } };
  o.started?.push(proc);
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      proc.output.text += chunk.toString();
      if (proc.output.text.includes(`listening on 127.0.0.1:${o.port}`)) resolve(proc);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code, signal) => reject(new Error(`node ${o.id} exited with ${code ?? signal}: ${proc.output.text}`)));
  });
}

/** Resumes (in case it is stopped) and kills every process, by PID, and waits for each to exit. */
export async function stopAll(procs: Iterable<Proc>): Promise<void> {
  await Promise.all([...procs].map(async (p) => {
    const pid = p.child.pid;
    if (pid === undefined || p.child.exitCode !== null || p.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => p.child.once('exit', () => resolve()));
    try { process.kill(pid, 'SIGCONT'); } catch { /* already gone */ }
    try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
    await Promise.race([exited, sleep(5000)]);
  }));
}

/** Waits `ms` of real time. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` every `everyMs` until it returns a value other than undefined; throws naming `what` after `ms`. */
export async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 20_000, everyMs = 200): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`not reached within ${ms} ms: ${what}`);
    await sleep(everyMs);
  }
}
