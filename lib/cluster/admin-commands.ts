// The commands of `clusterluck cli`: their usage, help, and parsing from words into the job the
// node's admin actor serves. Pure: the CLI and the admin server share this one table.
import type { NodeId } from '../core/node-id.js';
import { ClusterluckError, invalidArgument, show } from '../env/errors.js';

/** What a command is about; `help` lists the commands by group. */
export type CommandGroup = 'node' | 'ring' | 'membership' | 'semaphores';

/** The groups in the order `help` lists them. */
export const commandGroups: readonly CommandGroup[] = ['node', 'ring', 'membership', 'semaphores'];

/** One admin command. */
export interface AdminCommand {
  readonly group: CommandGroup;
  readonly usage: string;
  readonly help: string;
  /** Words after the command name → the job sent to the admin actor. */
  parse(words: readonly string[]): Record<string, unknown>;
}

/** Parses `id@host:port` (or `id host:port`) into a NodeId. */
export function parseNodeWord(word: string | undefined, field = 'node'): NodeId {
  const at = word?.indexOf('@') ?? -1;
  if (word === undefined || at <= 0 || at === word.length - 1) throw invalidArgument(field, word, 'id@host:port');
  return { id: word.slice(0, at), address: word.slice(at + 1) };
}

function arity(name: string, words: readonly string[], min: number, max = min): void {
  if (words.length < min || words.length > max) {
    const want = min === max ? `${min}` : `${min} to ${max === Infinity ? 'any' : max}`;
    throw new ClusterluckError('INVALID_ARGUMENT', `${name} takes ${want} argument(s), got ${words.length}; usage: ${commands[name]?.usage ?? name}`);
  }
}

function number(field: string, word: string | undefined, integer: boolean): number {
  const value = Number(word);
  if (word === undefined || word.trim() === '' || !Number.isFinite(value) || (integer && !Number.isInteger(value))) {
    throw invalidArgument(field, word, integer ? 'an integer' : 'a number');
  }
  return value;
}

const none = (name: string) => (w: readonly string[]) => (arity(name, w, 0), {});
const oneId = (name: string) => (w: readonly string[]) => (arity(name, w, 1), { id: w[0] });

/** Every command the admin actor serves, by name. */
export const commands: Readonly<Record<string, AdminCommand>> = {
  inspect: {
    group: 'node', usage: 'inspect',
    help: 'This node: its view (number, members), whether it serves as owner and until when, changes pending; members with state, incarnation and weight; counters.',
    parse: none('inspect'),
  },
  view: { group: 'node', usage: 'view', help: 'The decided view this node is on: number, members, serving state and pending changes.', parse: none('view') },
  nodes: { group: 'node', usage: 'nodes', help: 'A table of the members of the view: id, address, weight, failure-detector state.', parse: none('nodes') },
  stats: {
    group: 'node', usage: 'stats',
    help: 'Counters and gauges: calls answered by actor, event and code; grants, releases, expirations; frames sent and dropped by reason; view changes; probes and round trip per peer; queue lengths.',
    parse: none('stats'),
  },
  ping: { group: 'node', usage: 'ping', help: 'Checks that the node answers; prints its id and the round trip.', parse: none('ping') },
  get: { group: 'ring', usage: 'get <id>', help: 'The ring member with this id (its address).', parse: oneId('get') },
  has: { group: 'ring', usage: 'has <id>', help: 'Whether a member with this id is on the ring.', parse: oneId('has') },
  weight: { group: 'ring', usage: 'weight <id>', help: 'The weight of one ring member.', parse: oneId('weight') },
  weights: { group: 'ring', usage: 'weights', help: 'Every ring member with its weight.', parse: none('weights') },
  join: { group: 'ring', usage: 'join <ringId>', help: 'Joins the node to a ring (when it is in none).', parse: (w) => (arity('join', w, 1), { ringId: w[0] }) },
  meet: { group: 'ring', usage: 'meet <id@host:port>', help: 'Introduces a node, which then learns this ring.', parse: (w) => (arity('meet', w, 1), { node: parseNodeWord(w[0]) }) },
  leave: { group: 'ring', usage: 'leave', help: 'Makes the node leave its ring gracefully.', parse: none('leave') },
  insert: {
    group: 'membership', usage: 'insert <id@host:port> [weight]', help: 'Invites a node into the view (it asks to be added; a majority decides; default weight 1).',
    parse: (w) => (arity('insert', w, 1, 2), { node: parseNodeWord(w[0]), weight: w[1] === undefined ? 1 : number('weight', w[1], true) }),
  },
  minsert: {
    group: 'membership', usage: 'minsert <id@host:port>... ', help: 'Adds several members with weight 1.',
    parse: (w) => (arity('minsert', w, 1, Infinity), { nodes: w.map((x, i) => parseNodeWord(x, `nodes[${i}]`)) }),
  },
  update: {
    group: 'membership', usage: 'update <id> <weight>', help: "Sets a member's weight (a view change).",
    parse: (w) => (arity('update', w, 2), { id: w[0], weight: number('weight', w[1], true) }),
  },
  remove: {
    group: 'membership', usage: 'remove <id> [--force]',
    help: 'Removes a member by a view change a majority decides. --force installs the view without a vote: ' +
      'only for a majority gone for good (one of two members dead); unsafe if the removed member is alive.',
    parse: (w) => {
      arity('remove', w, 1, 2);
      if (w.length === 2 && w[1] !== '--force') throw invalidArgument('flag', w[1], '--force');
      return { id: w[0], force: w.length === 2 };
    },
  },
  mremove: { group: 'membership', usage: 'mremove <id>...', help: 'Removes several members.', parse: (w) => (arity('mremove', w, 1, Infinity), { ids: [...w] }) },
  create: {
    group: 'semaphores', usage: 'create <semaphore> <n>', help: 'Creates a semaphore with concurrency limit n.',
    parse: (w) => (arity('create', w, 2), { id: w[0], n: number('n', w[1], true) }),
  },
  read: { group: 'semaphores', usage: 'read <semaphore>', help: 'The limit n and the number of active holders.', parse: oneId('read') },
  post: {
    group: 'semaphores', usage: 'post <semaphore> <holder> <timeoutMs> [retries]', help: 'Takes a slot for holder for timeoutMs (retries while full; default 0); prints the fencing token.',
    parse: (w) => (arity('post', w, 3, 4), {
      id: w[0], holder: w[1], timeout: number('timeoutMs', w[2], false), retries: w[3] === undefined ? 0 : number('retries', w[3], true),
    }),
  },
  close: { group: 'semaphores', usage: 'close <semaphore> <holder>', help: "Gives back holder's slot.", parse: (w) => (arity('close', w, 2), { id: w[0], holder: w[1] }) },
  destroy: { group: 'semaphores', usage: 'destroy <semaphore>', help: 'Destroys a semaphore and drops its holders.', parse: oneId('destroy') },
  acquire: {
    group: 'semaphores', usage: 'acquire <semaphore> [--lease MS] [--wait MS]',
    help: 'Waits in the owner\'s queue (at most --wait, default 10000 ms) for a slot, then holds it, renewing its lease (--lease, default 10000 ms), ' +
      'until "release", or this session ends (quit, Ctrl-C, a closed pipe). A wait that times out leaves nothing at the owner. Prints the fencing token.',
    parse: (w) => {
      const { words, flags } = flagged('acquire', w, ['--lease', '--wait']);
      arity('acquire', words, 1);
      return {
        id: words[0],
        wait: flags['--wait'] === undefined ? 10_000 : number('--wait', flags['--wait'], false),
        ...(flags['--lease'] === undefined ? {} : { lease: number('--lease', flags['--lease'], false) }),
      };
    },
  },
  limit: {
    group: 'semaphores', usage: 'limit <semaphore> <n>', help: 'Changes the limit n live: raising it lets waiters in; lowering it revokes nobody, new grants wait until fewer than n hold.',
    parse: (w) => (arity('limit', w, 2), { id: w[0], n: number('n', w[1], true) }),
  },
  release: { group: 'semaphores', usage: 'release <semaphore>', help: 'Gives back the slot this session took with "acquire".', parse: oneId('release') },
  query: {
    group: 'semaphores', usage: 'query [semaphore]',
    help: 'A table of who holds the semaphore (holder, lease key prefix, token, permits, ms left) and who waits (position, node), from its owner; without one, every semaphore of every member.',
    parse: (w) => (arity('query', w, 0, 1), w.length === 0 ? {} : { id: w[0] }),
  },
};

/** Splits `--flag value` pairs (of `known` flags) from the other words. */
function flagged(name: string, words: readonly string[], known: readonly string[]): { words: string[]; flags: Record<string, string> } {
  const rest: string[] = [];
  const flags: Record<string, string> = {};
  for (let i = 0; i < words.length; i++) {
    const w = words[i] as string;
    if (!w.startsWith('--')) {
      rest.push(w);
      continue;
    }
    if (!known.includes(w)) throw invalidArgument('flag', w, `one of ${known.join(', ')} (usage: ${commands[name]?.usage ?? name})`);
    const value = words[++i];
    if (value === undefined) throw invalidArgument(w, value, 'a value');
    flags[w] = value;
  }
  return { words: rest, flags };
}

/** Splits a command line into words, honouring "double" and 'single' quotes. */
export function splitWords(line: string): string[] {
  const words: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  for (const m of line.matchAll(re)) words.push(m[1] ?? m[2] ?? m[3] ?? '');
  return words;
}

/** Parses a command line into `[command, job]`; INVALID_ARGUMENT for an unknown command or bad arguments. */
export function parseCommandLine(line: string): [string, Record<string, unknown>] {
  const [name, ...rest] = splitWords(line);
  if (name === undefined) throw new ClusterluckError('INVALID_ARGUMENT', 'empty command');
  const command = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (command === undefined) throw new ClusterluckError('INVALID_ARGUMENT', `unknown command ${show(name)}; try "help"`);
  return [name, command.parse(rest)];
}
