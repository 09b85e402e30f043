// `clusterluck`: run a node in the foreground, or open a session on a running one.
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { commandGroups, commands } from '../cluster/admin-commands.js';
import { leaseMsMax as leaseMsMaxBound } from '../constants.js';
import { isClusterluckError } from '../env/errors.js';
import { createCluster } from '../node.js';
import { logFormats, logLevels, type LogFormat, type LogLevel } from '../platform/console-logger.js';
import { formatResult, writeOuts, type WriteOut } from './format.js';
import { openSession, UnreachableError, type Session } from './session.js';

export { formatResult, type WriteOut } from './format.js';
export { openSession, type Session } from './session.js';

const usage = `usage:
  clusterluck node --id ID --port PORT COOKIE [--host 127.0.0.1] [--join HOST:PORT]
                   [--data-dir DIR] [--ring clusterluck] [--log-level info] [--log-format text]
                   [--auto-remove-ms 10000] [--lease-ms-max 60000]
  clusterluck cli --host HOST --port PORT COOKIE [-c "COMMAND"] [-w table|json|simple]
                  [--json] [--timeout 5000]
  clusterluck help [COMMAND]

COOKIE is the cluster's shared secret: --cookie-file FILE (its content, one trailing newline
       dropped), or --cookie SECRET (which every user of the machine can read in ps), or else
       the environment variable CLUSTERLUCK_COOKIE.
node   runs a cluster member in the foreground, logging one line per event (time, level, node,
       message; --log-format json: one JSON object per line); Ctrl-C leaves the ring and stops.
       --auto-remove-ms: a member down this long is proposed for removal (a majority decides);
       0 removes at once once down, "off" never (an operator decides).
       --lease-ms-max: the longest lease a post may ask for; a crashed owner's semaphores wait
       the lock-delay, (this + 2000)·1.01² ms, before their new owner grants them. Give every
       node the same value.
cli    opens an interactive session on a running node (Tab completes commands), runs one
       command with -c, or runs the commands piped to it one per line (no banner, no prompt).
       -w, --write-out: table (lists and objects as aligned columns; the default), json (one
       JSON value per result) or simple (one line per row, values separated by ", ");
       --json is -w json. "help" in a session lists the commands; "help COMMAND" explains one.

exit codes (as etcdctl's):
  0    every command succeeded
  1    a command failed (its error is printed to stderr)
  2    the node could not be reached, or refused the cookie
  128  bad usage (an unknown flag, a missing or bad value)`;

/** The exit codes, as etcdctl's. */
const exit = { failed: 1, unreachable: 2, usage: 128 } as const;

/** The session's command list: one line per command, grouped, as redis-cli's `help`. */
function commandList(): string {
  const width = Math.max(...Object.values(commands).map((c) => c.usage.length));
  const lines: string[] = [];
  for (const group of commandGroups) {
    lines.push(`${group}:`);
    for (const c of Object.values(commands)) {
      if (c.group === group) lines.push(`  ${c.usage.padEnd(width)}  ${firstSentence(c.help)}`);
    }
  }
  lines.push('', '"help COMMAND" explains one; "quit" ends the session.');
  return lines.join('\n');
}

/** Up to the first `.`, `:` or `;` outside parentheses. */
function firstSentence(text: string): string {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (depth === 0 && (ch === '.' || ch === ':' || ch === ';') && (i + 1 === text.length || text[i + 1] === ' ')) return text.slice(0, i);
  }
  return text;
}

/** A failure the user caused: printed as one line, never a stack trace; exit code 128. */
class UsageError extends Error {}

function helpFor(name: string | undefined): string {
  if (name === undefined) return usage;
  const c = Object.hasOwn(commands, name) ? commands[name] : undefined;
  return c === undefined ? `unknown command "${name}"; commands: ${Object.keys(commands).join(', ')}` : `${c.usage}\n  ${c.help}`;
}

/** Environment variable the cookie may come from (so it does not show in `ps`). */
export const cookieEnv = 'CLUSTERLUCK_COOKIE';

/** The cookie from --cookie-file, CLUSTERLUCK_COOKIE or --cookie (see the usage). */
export async function cookieFrom(values: { cookie?: string; 'cookie-file'?: string }, env: Record<string, string | undefined> = process.env): Promise<string> {
  if (values.cookie !== undefined && values['cookie-file'] !== undefined) throw new UsageError('give --cookie or --cookie-file, not both');
  const file = values['cookie-file'];
  if (file !== undefined) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new UsageError(`--cookie-file ${JSON.stringify(file)} could not be read: ${(err as Error).message}`);
    }
    const cookie = text.replace(/\r?\n$/, '');
    if (cookie === '') throw new UsageError(`--cookie-file ${JSON.stringify(file)} is empty`);
    return cookie;
  }
  const fromEnv = env[cookieEnv];
  if (fromEnv !== undefined && fromEnv !== '' && values.cookie === undefined) return fromEnv;
  if (values.cookie !== undefined && values.cookie !== '') return values.cookie;
  throw new UsageError(`a cookie is required: --cookie-file FILE, ${cookieEnv}, or --cookie (see --help)`);
}

function need(values: Record<string, unknown>, name: string): string {
  const v = values[name];
  if (typeof v !== 'string' || v === '') throw new UsageError(`--${name} is required (see --help)`);
  return v;
}

function port(value: string): number {
  const p = Number(value);
  if (!Number.isInteger(p) || p < 0 || p > 65535) throw new UsageError(`--port must be an integer from 0 to 65535, got ${JSON.stringify(value)}`);
  return p;
}

/** `--lease-ms-max`: a positive number of ms, at most the 30 days any lease may last. */
function leaseMsMaxFlag(value: string): number {
  const ms = Number(value);
  if (value.trim() === '' || !(Number.isFinite(ms) && ms > 0 && ms <= leaseMsMaxBound)) {
    throw new UsageError(`--lease-ms-max must be a number of ms > 0 and ≤ ${leaseMsMaxBound}, got ${JSON.stringify(value)}`);
  }
  return ms;
}

async function runNode(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args, strict: true,
    options: {
      id: { type: 'string' }, host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string' }, cookie: { type: 'string' }, 'cookie-file': { type: 'string' },
      join: { type: 'string' }, 'data-dir': { type: 'string' }, ring: { type: 'string' }, 'log-level': { type: 'string', default: 'info' },
      'log-format': { type: 'string', default: 'text' },
      'auto-remove-ms': { type: 'string' }, 'lease-ms-max': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) return void console.log(usage);
  const level = values['log-level'];
  if (!(logLevels as readonly string[]).includes(level)) throw new UsageError(`--log-level must be ${logLevels.join(', ')}, got ${JSON.stringify(level)}`);
  const format = values['log-format'];
  if (!(logFormats as readonly string[]).includes(format)) throw new UsageError(`--log-format must be ${logFormats.join(' or ')}, got ${JSON.stringify(format)}`);
  const autoRemove = values['auto-remove-ms'];
  const autoRemoveAfterMs = autoRemove === undefined ? undefined : autoRemove === 'off' ? null : Number(autoRemove);
  if (typeof autoRemoveAfterMs === 'number' && !(Number.isFinite(autoRemoveAfterMs) && autoRemoveAfterMs >= 0)) {
    throw new UsageError(`--auto-remove-ms must be a number of ms ≥ 0 or "off", got ${JSON.stringify(autoRemove)}`);
  }
  const leaseMsMax = values['lease-ms-max'] === undefined ? undefined : leaseMsMaxFlag(values['lease-ms-max']);
  const node = await createCluster({
    id: need(values, 'id'), host: values.host, port: port(need(values, 'port')), cookie: await cookieFrom(values),
    logLevel: level as LogLevel, logFormat: format as LogFormat,
    ...(autoRemoveAfterMs === undefined ? {} : { gossip: { autoRemoveAfterMs } }),
    // ClusterNode gives the same bound to the GossipRing, whose lock-delay must cover it.
    ...(leaseMsMax === undefined ? {} : { dsm: { leaseMsMax } }),
    ...(values.join === undefined ? {} : { join: values.join }),
    ...(values['data-dir'] === undefined ? {} : { dataDir: values['data-dir'] }),
    ...(values.ring === undefined ? {} : { ringId: values.ring }),
  });
  const logger = node.kernel.env.logger;
  logger.info(`node ${node.self.id} listening on ${node.self.address}`);
  // The views adopted while starting (founding, joining) came before these listeners: say where we are.
  const first = node.gossip.view();
  if (values.join !== undefined) logger.info(`joined the cluster through ${values.join}`);
  if (first !== undefined) logger.info(`view ${first.number}: ${first.members.map((m) => m.id).join(', ')}`);
  node.gossip.events.addEventListener('view', (e) =>
    node.kernel.env.logger.info(`view ${e.detail.view.number}: ${e.detail.view.members.map((m) => m.id).join(', ')}` +
      (e.detail.view.removed.length > 0 && e.detail.view.removed[0]?.view === e.detail.view.number
        ? ` (removed ${e.detail.view.removed.filter((r) => r.view === e.detail.view.number).map((r) => `${r.id}: ${r.reason}`).join(', ')})` : '')));
  node.gossip.events.addEventListener('member', (e) =>
    node.kernel.env.logger.info(`member ${e.detail.id}: ${e.detail.previous ?? 'new'} → ${e.detail.status ?? 'forgotten'}`));
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  node.kernel.env.logger.info('leaving the ring and stopping');
  await node.stop();
}

/** Where a line's output goes: results to `out`, errors to `err`. */
interface Printer {
  out(s: string): void;
  err(s: string): void;
}

const stdio: Printer = { out: (s) => console.log(s), err: (s) => console.error(s) };

/** Runs one line: prints the result, or the error (one line, no stack). @returns false on error. */
async function runLine(session: Session, line: string, format: WriteOut, print: Printer): Promise<boolean> {
  const words = line.trim();
  if (words === '') return true;
  if (words === 'help' || words.startsWith('help ')) {
    const name = words.split(/\s+/)[1];
    print.out(name === undefined ? commandList() : helpFor(name));
    return true;
  }
  try {
    print.out(formatResult(await session.run(words), format));
    return true;
  } catch (err) {
    const code = isClusterluckError(err) ? err.code : 'ERROR';
    print.err(format === 'json' ? JSON.stringify({ error: { code, message: (err as Error).message } }) : `error: ${code}: ${(err as Error).message}`);
    return false;
  }
}

/** Tab completion of a session line: command names first, then `help`'s argument. */
export function completeLine(line: string): [string[], string] {
  const names = [...Object.keys(commands), 'help', 'quit'];
  const words = line.trimStart().split(/\s+/);
  if (words.length <= 1) {
    const prefix = words[0] ?? '';
    return [names.filter((n) => n.startsWith(prefix)), prefix];
  }
  if (words[0] === 'help' && words.length === 2) {
    const prefix = words[1] ?? '';
    return [Object.keys(commands).filter((n) => n.startsWith(prefix)), prefix];
  }
  return [[], line];
}

/**
 * The session on stdin/stdout; ends at "quit", EOF or Ctrl-C. On a terminal: a banner, a prompt
 * and Tab completion; piped: only results (errors on stderr). @returns how many lines failed.
 */
export async function interactive(session: Session, format: WriteOut): Promise<number> {
  const tty = process.stdin.isTTY === true;
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: tty, ...(tty ? { completer: completeLine } : {}) });
  if (tty) {
    console.log(`connected to ${session.target.id} at ${session.target.address}; "help" lists commands, "quit" ends`);
    rl.setPrompt(`clusterluck ${session.target.id}> `);
    rl.prompt();
  }
  let failed = 0;
  for await (const line of rl) {
    if (['quit', 'exit'].includes(line.trim())) break;
    if (!(await runLine(session, line, format, stdio))) failed++;
    if (tty) rl.prompt();
  }
  rl.close();
  return failed;
}

async function runCli(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args, strict: true,
    options: {
      host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string' }, cookie: { type: 'string' }, 'cookie-file': { type: 'string' },
      c: { type: 'string', short: 'c' }, json: { type: 'boolean', default: false }, timeout: { type: 'string', default: '5000' },
      'write-out': { type: 'string', short: 'w' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) return void console.log(usage);
  const w = values['write-out'];
  if (w !== undefined && !(writeOuts as readonly string[]).includes(w)) throw new UsageError(`-w must be ${writeOuts.join(', ')}, got ${JSON.stringify(w)}`);
  if (w !== undefined && w !== 'json' && values.json) throw new UsageError(`--json and -w ${w} disagree`);
  const format: WriteOut = values.json ? 'json' : (w as WriteOut | undefined) ?? 'table';
  const timeoutMs = Number(values.timeout);
  if (!(timeoutMs > 0)) throw new UsageError(`--timeout must be a positive number of ms, got ${JSON.stringify(values.timeout)}`);
  const p = port(need(values, 'port'));
  const session = await openSession(`${values.host}:${p}`, await cookieFrom(values), timeoutMs);
  try {
    const failed = values.c !== undefined ? Number(!(await runLine(session, values.c, format, stdio))) : await interactive(session, format);
    if (failed > 0) process.exitCode = exit.failed;
  } finally {
    await session.close();
  }
}

/** Entry point: dispatches on the first word. */
export async function main(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  try {
    if (sub === undefined || sub === '--help' || sub === '-h') console.log(usage);
    else if (sub === 'help') console.log(helpFor(rest[0]));
    else if (sub === 'node') await runNode(rest);
    else if (sub === 'cli') await runCli(rest);
    else throw new UsageError(`unknown command ${JSON.stringify(sub)}; try --help`);
  } catch (err) {
    const usageError = err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true;
    const known = usageError || err instanceof UnreachableError || isClusterluckError(err);
    console.error(`clusterluck: ${known ? (err as Error).message : String(err)}`);
    process.exitCode = usageError ? exit.usage : err instanceof UnreachableError ? exit.unreachable : exit.failed;
  }
}
