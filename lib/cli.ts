// `clusterluck`: run a node in the foreground, or open a session on a running one.
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { commands, parseCommandLine } from './cluster/admin-commands.js';
import { adminServerName } from './cluster/admin-server.js';
import { leaseMsMax as leaseMsMaxBound } from './constants.js';
import type { NodeId } from './core/node-id.js';
import { toHex } from './env/bytes.js';
import { isClusterluckError } from './env/errors.js';
import { silentLogger } from './env/logger.js';
import { NetKernel } from './kernel/net-kernel.js';
import { createCluster } from './node.js';
import type { LogLevel } from './platform/console-logger.js';
import { cryptoRandom } from './platform/crypto-random.js';
import { nodeHmac } from './platform/hmac.node.js';
import { systemClock } from './platform/system-clock.js';
import { tcpTransport } from './transports/tcp.js';

const usage = `usage:
  clusterluck node --id ID --port PORT --cookie COOKIE [--host 127.0.0.1] [--join HOST:PORT]
                   [--data-dir DIR] [--ring clusterluck] [--log-level info] [--auto-remove-ms 10000]
                   [--lease-ms-max 60000]
  clusterluck cli --host HOST --port PORT --cookie COOKIE [-c "COMMAND"] [--json] [--timeout 5000]
  clusterluck help [COMMAND]

node   runs a cluster member in the foreground with readable logs; Ctrl-C leaves the ring and stops.
       --auto-remove-ms: a member down this long is proposed for removal (a majority decides);
       0 removes at once once down, "off" never (an operator decides).
       --lease-ms-max: the longest lease a post may ask for; a crashed owner's semaphores wait
       the lock-delay, (this + 2000)·1.01² ms, before their new owner grants them. Give every
       node the same value.
cli    opens an interactive session on a running node (or runs one command with -c).
       Commands: ${Object.keys(commands).join(', ')}; "help COMMAND" explains one.`;

/** A failure the user caused: printed as one line, never a stack trace. */
class UsageError extends Error {}

function helpFor(name: string | undefined): string {
  if (name === undefined) return usage;
  const c = Object.hasOwn(commands, name) ? commands[name] : undefined;
  return c === undefined ? `unknown command "${name}"; commands: ${Object.keys(commands).join(', ')}` : `${c.usage}\n  ${c.help}`;
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
      id: { type: 'string' }, host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string' }, cookie: { type: 'string' },
      join: { type: 'string' }, 'data-dir': { type: 'string' }, ring: { type: 'string' }, 'log-level': { type: 'string', default: 'info' },
      'auto-remove-ms': { type: 'string' }, 'lease-ms-max': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) return void console.log(usage);
  const level = values['log-level'];
  if (!['debug', 'info', 'warn', 'error'].includes(level)) throw new UsageError(`--log-level must be debug, info, warn or error, got ${JSON.stringify(level)}`);
  const autoRemove = values['auto-remove-ms'];
  const autoRemoveAfterMs = autoRemove === undefined ? undefined : autoRemove === 'off' ? null : Number(autoRemove);
  if (typeof autoRemoveAfterMs === 'number' && !(Number.isFinite(autoRemoveAfterMs) && autoRemoveAfterMs >= 0)) {
    throw new UsageError(`--auto-remove-ms must be a number of ms ≥ 0 or "off", got ${JSON.stringify(autoRemove)}`);
  }
  const leaseMsMax = values['lease-ms-max'] === undefined ? undefined : leaseMsMaxFlag(values['lease-ms-max']);
  const node = await createCluster({
    id: need(values, 'id'), host: values.host, port: port(need(values, 'port')), cookie: need(values, 'cookie'),
    logLevel: level as LogLevel,
    ...(autoRemoveAfterMs === undefined ? {} : { gossip: { autoRemoveAfterMs } }),
    // ClusterNode gives the same bound to the GossipRing, whose lock-delay must cover it.
    ...(leaseMsMax === undefined ? {} : { dsm: { leaseMsMax } }),
    ...(values.join === undefined ? {} : { join: values.join }),
    ...(values['data-dir'] === undefined ? {} : { dataDir: values['data-dir'] }),
    ...(values.ring === undefined ? {} : { ringId: values.ring }),
  });
  node.kernel.env.logger.info(`node ${node.self.id} listening on ${node.self.address}`);
  // The views adopted while starting (founding, joining) came before these listeners: say where we are.
  const first = node.gossip.view();
  if (first !== undefined) node.kernel.env.logger.info(`view ${first.number}: ${first.members.map((m) => m.id).join(', ')}`);
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

/** A client kernel connected to one node's admin actor. */
export interface Session {
  readonly kernel: NetKernel;
  readonly target: NodeId;
  run(line: string): Promise<unknown>;
  close(): Promise<void>;
}

/** Connects to the node at `address` as a short-lived client. */
export async function openSession(address: string, cookie: string, timeoutMs = 5000): Promise<Session> {
  const random = cryptoRandom();
  const kernel = new NetKernel({
    env: { clock: systemClock(), random, transport: tcpTransport(), logger: silentLogger },
    id: `cli-${toHex(random.bytes(6))}`, address: '127.0.0.1:0', cookie, hmac: nodeHmac,
  });
  await kernel.start();
  let target: NodeId;
  try {
    target = await kernel.connectAddress(address, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    await kernel.stop();
    throw new UsageError(`could not reach a node at ${address}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return {
    kernel, target,
    async run(line) {
      const [name, job] = parseCommandLine(line);
      const started = performance.now();
      const result = await kernel.call({ node: target.id, name: adminServerName }, name, job, { timeoutMs });
      return name === 'ping' ? { ...(result as object), roundTripMs: Number((performance.now() - started).toFixed(2)) } : result;
    },
    close: () => kernel.stop(),
  };
}

function show(value: unknown, json: boolean): string {
  if (json) return JSON.stringify(value);
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && value.length > 0 && value.every((r) => typeof r === 'object' && r !== null && !Array.isArray(r))) return table(value as Record<string, unknown>[]);
  return JSON.stringify(value, null, 2);
}

/** Rows of objects as an aligned text table, one column per key of the first row. */
function table(rows: readonly Record<string, unknown>[]): string {
  const keys = Object.keys(rows[0] ?? {});
  const cells = [keys, ...rows.map((r) => keys.map((k) => String(r[k] ?? '')))];
  const widths = keys.map((_, i) => Math.max(...cells.map((c) => (c[i] ?? '').length)));
  return cells.map((c) => c.map((x, i) => x.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n');
}

/** Runs one line: prints the result or the error (one line, no stack). @returns false on error. */
async function runLine(session: Session, line: string, json: boolean, print: (s: string) => void): Promise<boolean> {
  const words = line.trim();
  if (words === '') return true;
  if (words === 'help' || words.startsWith('help ')) {
    print(helpFor(words.split(/\s+/)[1]));
    return true;
  }
  try {
    print(show(await session.run(words), json));
    return true;
  } catch (err) {
    const code = isClusterluckError(err) ? `${err.code}: ` : '';
    print(json ? JSON.stringify({ error: { code: isClusterluckError(err) ? err.code : 'ERROR', message: (err as Error).message } }) : `error: ${code}${(err as Error).message}`);
    return false;
  }
}

/** The interactive session on stdin/stdout; ends at "quit", EOF or Ctrl-C. */
export async function interactive(session: Session, json: boolean): Promise<void> {
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: process.stdin.isTTY === true });
  const prompt = `clusterluck ${session.target.id}> `;
  console.log(`connected to ${session.target.id} at ${session.target.address}; "help" lists commands, "quit" ends`);
  rl.setPrompt(prompt);
  rl.prompt();
  for await (const line of rl) {
    if (['quit', 'exit'].includes(line.trim())) break;
    await runLine(session, line, json, (s) => console.log(s));
    rl.prompt();
  }
  rl.close();
}

async function runCli(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args, strict: true,
    options: {
      host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string' }, cookie: { type: 'string' },
      c: { type: 'string', short: 'c' }, json: { type: 'boolean', default: false }, timeout: { type: 'string', default: '5000' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) return void console.log(usage);
  const timeoutMs = Number(values.timeout);
  if (!(timeoutMs > 0)) throw new UsageError(`--timeout must be a positive number of ms, got ${JSON.stringify(values.timeout)}`);
  const p = port(need(values, 'port'));
  const session = await openSession(`${values.host}:${p}`, need(values, 'cookie'), timeoutMs);
  try {
    if (values.c !== undefined) {
      if (!(await runLine(session, values.c, values.json, (s) => console.log(s)))) process.exitCode = 1;
    } else {
      await interactive(session, values.json);
    }
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
    const known = err instanceof UsageError || isClusterluckError(err) || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    console.error(`clusterluck: ${known ? (err as Error).message : String(err)}`);
    process.exitCode = 2;
  }
}
