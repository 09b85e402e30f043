// A `clusterluck node` under a memory ceiling (--max-old-space-size) takes fast-check's mix of
// hostile TCP traffic: random bytes, huge length prefixes, stalls mid-prefix and mid-frame, floods
// of small frames before authentication, and calls with garbage from a client that holds the
// cookie. Meanwhile a good client keeps its session and must get every answer, and the node must
// live. The attackers come from 127.0.0.2–127.0.0.9 (all loopback), as other hosts would.
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSession, type Session } from '../lib/cli/cli.js';
import { sleep } from './support/events.js';
import { freePort, startNode, stopAll, type Proc } from './support/node-processes.js';

const cookie = 'tcp-fuzz-cookie-long-enough';
const procs: Proc[] = [];
let dir = '';
let port = 0;
let node: Proc;
let good: Session;
let attacker: Session;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'clusterluck-fuzz-'));
  port = await freePort();
  node = await startNode({ id: 'a', port, dataDir: join(dir, 'a'), cookie, nodeArgs: ['--max-old-space-size=128'], started: procs });
  good = await openSession(`127.0.0.1:${port}`, cookie);
  attacker = await openSession(`127.0.0.1:${port}`, cookie);
  await good.run('create fuzz 1');
}, 30_000);

afterAll(async () => {
  await good?.close();
  await attacker?.close();
  await stopAll(procs);
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

type Action =
  | { kind: 'garbage'; from: number; bytes: Uint8Array }
  | { kind: 'bigPrefix'; from: number; length: number; tail: number }
  | { kind: 'stall'; from: number; bytes: number; holdMs: number }
  | { kind: 'flood'; from: number; frames: number; size: number }
  | { kind: 'authGarbage'; name: string; event: string; data: unknown };

const from = fc.integer({ min: 2, max: 9 });
const action: fc.Arbitrary<Action> = fc.oneof(
  fc.record({ kind: fc.constant('garbage' as const), from, bytes: fc.uint8Array({ minLength: 1, maxLength: 3000 }) }),
  fc.record({ kind: fc.constant('bigPrefix' as const), from, length: fc.integer({ min: 4097, max: 0xffff_fffe }), tail: fc.integer({ min: 0, max: 64 * 1024 }) }),
  fc.record({ kind: fc.constant('stall' as const), from, bytes: fc.integer({ min: 0, max: 3 }), holdMs: fc.integer({ min: 100, max: 1500 }) }),
  fc.record({ kind: fc.constant('flood' as const), from, frames: fc.integer({ min: 1, max: 300 }), size: fc.integer({ min: 0, max: 4096 }) }),
  fc.record({
    kind: fc.constant('authGarbage' as const),
    name: fc.constantFrom('dsm', 'ring', 'admin', 'webrtc-signal', 'nobody'),
    event: fc.oneof(fc.constantFrom('post', 'close', 'create', 'read', 'destroy', 'paxos', 'gossip', 'ping', 'join', 'view', 'handoff', 'stats'), fc.string({ maxLength: 20 })),
    data: fc.jsonValue({ maxDepth: 3 }),
  }),
);

function prefix(length: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(length);
  return b;
}

/** A raw socket from 127.0.0.`from`; resolves once the node has closed it or `holdMs` passed. */
async function rawly(fromHost: number, send: (s: Socket) => void, holdMs: number): Promise<void> {
  const socket = connect({ port, host: '127.0.0.1', localAddress: `127.0.0.${fromHost}` });
  socket.on('error', () => undefined);
  socket.on('data', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.once('connect', () => send(socket));
  await Promise.race([closed, sleep(holdMs)]);
  socket.destroy();
}

async function run(a: Action): Promise<void> {
  switch (a.kind) {
    case 'garbage': return rawly(a.from, (s) => s.write(a.bytes), 300);
    case 'bigPrefix': return rawly(a.from, (s) => {
      s.write(prefix(a.length));
      s.write(Buffer.alloc(a.tail, 1));
    }, 1000);
    case 'stall': return rawly(a.from, (s) => s.write(prefix(100).subarray(0, a.bytes)), a.holdMs);
    case 'flood': return rawly(a.from, (s) => {
      const frame = Buffer.concat([prefix(a.size), Buffer.alloc(a.size, 2)]);
      for (let i = 0; i < a.frames; i++) s.write(frame);
    }, 1000);
    case 'authGarbage':
      await attacker.kernel.call({ node: attacker.target.id, name: a.name }, a.event, a.data, { timeoutMs: 2000 }).catch(() => undefined);
  }
}

describe('a node under hostile TCP traffic, with a memory ceiling', () => {
  it('keeps answering a good client and stays alive (fast-check)', async () => {
    const failures: string[] = [];
    let answered = 0;
    let stop = false;
    const pinging = (async () => {
      while (!stop) {
        try {
          await good.run('read fuzz');
          answered++;
        } catch (err) {
          failures.push(String(err));
        }
        await sleep(50);
      }
    })();
    await fc.assert(fc.asyncProperty(fc.array(action, { minLength: 1, maxLength: 25 }), async (actions) => {
      await Promise.all(actions.map(run));
      expect(node.child.exitCode, node.output.text.slice(-2000)).toBeNull();
    }), { numRuns: 12, seed: 20261206 });
    stop = true;
    await pinging;
    console.log(`good client: ${answered} answers, ${failures.length} failures during the fuzz`);
    expect(failures).toEqual([]);
    expect(answered).toBeGreaterThan(20);
    expect(await good.run('ping')).toMatchObject({ pong: 'a' });
    expect(node.child.exitCode).toBeNull();
  }, 120_000);
});
