// A short-lived client session on a running node: a kernel of its own that calls the node's admin actor.
import { adminServerName } from '../cluster/admin-server.js';
import { parseCommandLine } from '../cluster/admin-commands.js';
import type { NodeId } from '../core/node-id.js';
import { toHex } from '../env/bytes.js';
import { silentLogger } from '../env/logger.js';
import { NetKernel } from '../kernel/net-kernel.js';
import { cryptoRandom } from '../platform/crypto-random.js';
import { systemClock } from '../platform/system-clock.js';
import { tcpTransport } from '../transports/tcp.js';

/** The node could not be reached or refused the cookie; exit code 2. */
export class UnreachableError extends Error {}

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
    id: `cli-${toHex(random.bytes(6))}`, address: '127.0.0.1:0', cookie,
  });
  await kernel.start();
  let target: NodeId;
  try {
    target = await kernel.connectAddress(address, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    await kernel.stop();
    throw new UnreachableError(`could not reach a node at ${address}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return {
    kernel, target,
    async run(line) {
      const [name, job] = parseCommandLine(line);
      const started = performance.now();
      // An acquire may wait at the owner for as long as it was told, and then some.
      const waitMs = typeof job['wait'] === 'number' ? job['wait'] : 0;
      const result = await kernel.call({ node: target.id, name: adminServerName }, name, job, { timeoutMs: timeoutMs + waitMs });
      return name === 'ping' ? { ...(result as object), roundTripMs: Number((performance.now() - started).toFixed(2)) } : result;
    },
    close: () => kernel.stop(),
  };
}
